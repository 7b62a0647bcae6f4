//! The training log: one CSV row per step with every weighted loss term,
//! and a PNG plot of the curves.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::trainer::StepLog;

/// Loss terms in column order.
pub const TERMS: [&str; 5] = ["tv", "spa", "color", "exposure", "semantic"];
const HEADER: &str = "step,total,tv,spa,color,exposure,semantic,grad_norm,seconds";

/// One parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    pub total: f64,
    /// In [`TERMS`] order; NaN when a term was not computed.
    pub terms: [f64; 5],
    pub grad_norm: f64,
    pub seconds: f64,
}

/// Appends rows to a CSV file.
pub struct CsvLog {
    file: std::fs::File,
}

impl CsvLog {
    /// A new log, or for a resumed run the existing one cut after `step`
    /// (rows of steps a killed run did past its last checkpoint are dropped).
    pub fn open(path: &Path, resume_after: Option<u64>) -> Result<Self> {
        let kept: Vec<Row> = match resume_after {
            Some(step) if path.exists() => read(path)?.into_iter().filter(|r| r.step <= step).collect(),
            _ => Vec::new(),
        };
        let mut file = std::fs::File::create(path).with_context(|| format!("{}: cannot create log", path.display()))?;
        writeln!(file, "{HEADER}")?;
        let mut log = CsvLog { file };
        for r in &kept {
            log.write_row(r)?;
        }
        Ok(log)
    }

    pub fn append(&mut self, s: &StepLog, seconds: f64) -> Result<()> {
        let mut terms = [f64::NAN; 5];
        for (name, v) in &s.terms {
            if let Some(i) = TERMS.iter().position(|t| t == name) {
                terms[i] = *v;
            }
        }
        self.write_row(&Row { step: s.step, total: s.total, terms, grad_norm: s.grad_norm, seconds })
    }

    fn write_row(&mut self, r: &Row) -> Result<()> {
        let f = |v: f64| if v.is_nan() { String::new() } else { format!("{v:.9e}") };
        let terms: Vec<String> = r.terms.iter().map(|&v| f(v)).collect();
        writeln!(self.file, "{},{},{},{},{:.3}", r.step, f(r.total), terms.join(","), f(r.grad_norm), r.seconds)?;
        self.file.flush()?;
        Ok(())
    }
}

/// Every row of a log written by [`CsvLog`].
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read log", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let num = |j: usize| -> Result<f64> {
            let c = cells.get(j).with_context(|| format!("{}:{}: too few columns", path.display(), i + 1))?;
            if c.is_empty() { Ok(f64::NAN) } else { Ok(c.parse()?) }
        };
        rows.push(Row {
            step: num(0)? as u64,
            total: num(1)?,
            terms: [num(2)?, num(3)?, num(4)?, num(5)?, num(6)?],
            grad_norm: num(7)?,
            seconds: num(8)?,
        });
    }
    Ok(rows)
}

/// Moving average over `window` rows (the raw per-step values are noisy).
fn smooth(values: &[(u64, f64)], window: usize) -> Vec<(u64, f64)> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for i in 0..values.len() {
        sum += values[i].1;
        if i >= window {
            sum -= values[i - window].1;
        }
        out.push((values[i].0, sum / (i + 1).min(window) as f64));
    }
    out
}

/// A PNG of the total and each term (moving average over ~1% of the run),
/// log scale. Text needs a TrueType font; `font` is tried first, then
/// DejaVu Sans where Debian installs it; without one the plot has no labels.
pub fn plot(rows: &[Row], path: &Path, font: Option<&Path>) -> Result<()> {
    use plotters::prelude::*;

    let fonts = [font.map(Path::to_path_buf), Some("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into())];
    let has_font = fonts.iter().flatten().any(|f| {
        std::fs::read(f).ok().is_some_and(|bytes| {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    });
    let mut series: Vec<(&str, Vec<(u64, f64)>)> = vec![("total", rows.iter().map(|r| (r.step, r.total)).collect())];
    for (i, name) in TERMS.iter().enumerate() {
        let v: Vec<(u64, f64)> = rows.iter().filter(|r| r.terms[i] > 0.0).map(|r| (r.step, r.terms[i])).collect();
        if !v.is_empty() {
            series.push((name, v));
        }
    }
    let window = (rows.len() / 100).max(1);
    let series: Vec<(&str, Vec<(u64, f64)>)> = series.into_iter().map(|(n, v)| (n, smooth(&v, window))).collect();
    let (lo, hi) = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.1)).filter(|v| *v > 0.0).fold(
        (f64::INFINITY, f64::NEG_INFINITY),
        |(lo, hi), v| (lo.min(v), hi.max(v)),
    );
    if !lo.is_finite() {
        anyhow::bail!("nothing to plot: the log has no positive loss values")
    }
    let last = rows.last().map(|r| r.step).unwrap_or(1).max(1);

    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20);
    if has_font {
        builder.caption(format!("lowlight-train: weighted loss terms (moving average of {window})"), ("sans-serif", 22));
        builder.x_label_area_size(40).y_label_area_size(70);
    }
    let mut chart = builder
        .build_cartesian_2d(0u64..last, (lo * 0.8..hi * 1.25).log_scale())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if has_font {
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let colors = [BLACK, RED, BLUE, GREEN, MAGENTA, CYAN];
    for ((name, values), color) in series.iter().zip(colors) {
        let s = chart
            .draw_series(LineSeries::new(values.iter().copied(), color.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if has_font {
            s.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if has_font {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow::anyhow!("{}: cannot write plot: {e}", path.display()))?;
    Ok(())
}
