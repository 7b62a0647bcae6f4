//! Enhancing image files, one or a directory of them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::{DynamicImage, ImageFormat};
use indicatif::{ProgressBar, ProgressStyle};
use lowlight::{Enhancer, FrameLayout, PixelFormat};

use crate::interrupt;
use crate::media::is_image;
use crate::output::{PendingOutput, refuse_input_as_output};

/// Enhances the image `input` into `output`, or every image of the
/// directory `input` into the directory `output` (same file names, with a
/// progress bar).
pub fn enhance_path(mut enhancer: Enhancer, input: &Path, output: &Path) -> Result<()> {
    if !input.is_dir() {
        if output.is_dir() {
            bail!("output {} is a directory but the input is a file", output.display());
        }
        return enhance_file(&mut enhancer, input, output);
    }
    let inputs = list_images(input)?;
    if inputs.is_empty() {
        bail!("no PNG, JPEG or BMP images in {}", input.display());
    }
    std::fs::create_dir_all(output).with_context(|| format!("cannot create output directory {}", output.display()))?;
    let bar = ProgressBar::new(inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta} {msg}").expect("valid template"),
    );
    for file in &inputs {
        interrupt::check()?;
        let name = file.file_name().context("listed files have names")?;
        bar.set_message(name.to_string_lossy().into_owned());
        enhance_file(&mut enhancer, file, &output.join(name))?;
        bar.inc(1);
    }
    bar.finish_with_message("done");
    Ok(())
}

/// The images of a directory (not its subdirectories), by name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && is_image(&path) {
            v.push(path);
        }
    }
    v.sort();
    Ok(v)
}

fn output_format(path: &Path) -> Result<ImageFormat> {
    match ImageFormat::from_path(path) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp)) => Ok(f),
        _ => bail!("output {}: the extension must be .png, .jpg, .jpeg or .bmp", path.display()),
    }
}

/// Enhances one image; alpha is kept unless the output is JPEG. Each image
/// is enhanced on its own (the temporal state is reset).
pub fn enhance_file(enhancer: &mut Enhancer, input: &Path, output: &Path) -> Result<()> {
    refuse_input_as_output(input, output)?;
    let format = output_format(output)?;
    let image = image::open(input).with_context(|| format!("cannot read image {}", input.display()))?;
    let keep_alpha = image.color().has_alpha() && format != ImageFormat::Jpeg;
    enhancer.reset_temporal_state();
    let enhanced = if keep_alpha {
        let mut rgba = image.to_rgba8();
        let layout = FrameLayout::packed(rgba.width() as usize, rgba.height() as usize, PixelFormat::Rgba);
        enhancer.enhance(&mut rgba, &layout)?;
        DynamicImage::ImageRgba8(rgba)
    } else {
        let mut rgb = image.to_rgb8();
        let layout = FrameLayout::packed(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb);
        enhancer.enhance(&mut rgb, &layout)?;
        DynamicImage::ImageRgb8(rgb)
    };
    save_atomic(&enhanced, output)
}

/// Writes next to the destination, then renames: an interrupted run leaves
/// no half-written output.
pub fn save_atomic(image: &DynamicImage, output: &Path) -> Result<()> {
    let format = output_format(output)?;
    let pending = PendingOutput::new(output)?;
    image.save_with_format(pending.path(), format).with_context(|| format!("cannot write {}", output.display()))?;
    interrupt::check()?;
    pending.commit()
}
