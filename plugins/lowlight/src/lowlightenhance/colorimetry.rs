//! The YUV <-> RGB conversion of YUV caps, from their colorimetry.
//!
//! The core converts with BT.601 or BT.709, limited or full range. Caps
//! carry other matrices too; the policy:
//!
//! - BT.601, BT.709: as given.
//! - unknown matrix: GStreamer's default for the size, BT.601 up to 576
//!   lines, BT.709 above. `VideoInfo` itself already puts these defaults in
//!   place of missing, unknown or unfit (RGB on YUV) colorimetry, except
//!   that it assumes BT.2020 from 2160 lines (handled as below).
//! - FCC: BT.601, SMPTE 240M and BT.2020: BT.709, each with a warning. The
//!   frame is converted to RGB and back with the same matrix, so the picture
//!   is not distorted; only the curve sees slightly different RGB values
//!   than the true ones (for BT.2020, a small hue shift of the enhancement).
//! - RGB (identity) on YUV formats, or a matrix GStreamer adds later:
//!   refused (a guard: `VideoInfo` does not let RGB through for YUV).
//! - range: full when the caps say 0-255, otherwise limited (also when unknown).

use gst_video::{VideoColorMatrix, VideoColorRange, VideoColorimetry};
use lowlight::{YuvMatrix, YuvRange};

/// How to convert, and a warning when the caps' matrix was replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub matrix: YuvMatrix,
    pub range: YuvRange,
    pub warning: Option<String>,
}

/// GStreamer's default matrix for YUV caps of `height` lines (SD: BT.601, HD: BT.709).
pub fn default_matrix(height: u32) -> YuvMatrix {
    if height > 576 { YuvMatrix::Bt709 } else { YuvMatrix::Bt601 }
}

pub fn conversion(colorimetry: &VideoColorimetry, height: u32) -> Result<Conversion, String> {
    let range = match colorimetry.range() {
        VideoColorRange::Range0_255 => YuvRange::Full,
        _ => YuvRange::Limited,
    };
    let replaced = |matrix: YuvMatrix, name: &str| {
        let instead = match matrix {
            YuvMatrix::Bt601 => "BT.601",
            YuvMatrix::Bt709 => "BT.709",
        };
        let warning = format!(
            "colorimetry {colorimetry} uses the {name} matrix, which lowlightenhance does not have; \
             converting with {instead} instead (colours of the enhancement may shift slightly)"
        );
        (matrix, Some(warning))
    };
    let (matrix, warning) = match colorimetry.matrix() {
        VideoColorMatrix::Bt601 => (YuvMatrix::Bt601, None),
        VideoColorMatrix::Bt709 => (YuvMatrix::Bt709, None),
        VideoColorMatrix::Unknown => (default_matrix(height), None),
        VideoColorMatrix::Fcc => replaced(YuvMatrix::Bt601, "FCC"),
        VideoColorMatrix::Smpte240m => replaced(YuvMatrix::Bt709, "SMPTE 240M"),
        VideoColorMatrix::Bt2020 => replaced(YuvMatrix::Bt709, "BT.2020"),
        other => {
            return Err(format!(
                "YUV caps with colorimetry {colorimetry} (matrix {other:?}) are not supported: \
                 lowlightenhance converts YUV with BT.601 or BT.709"
            ));
        }
    };
    Ok(Conversion { matrix, range, warning })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst_video::{VideoColorPrimaries, VideoTransferFunction};

    fn colorimetry(range: VideoColorRange, matrix: VideoColorMatrix) -> VideoColorimetry {
        VideoColorimetry::new(range, matrix, VideoTransferFunction::Bt709, VideoColorPrimaries::Bt709)
    }

    #[test]
    fn policy() {
        gst::init().unwrap();
        let c = |r, m, h| conversion(&colorimetry(r, m), h);
        let full = VideoColorRange::Range0_255;
        let limited = VideoColorRange::Range16_235;
        let unknown = VideoColorRange::Unknown;
        let ok = |m, r| Ok(Conversion { matrix: m, range: r, warning: None });
        assert_eq!(c(full, VideoColorMatrix::Bt601, 480), ok(YuvMatrix::Bt601, YuvRange::Full));
        assert_eq!(c(limited, VideoColorMatrix::Bt709, 480), ok(YuvMatrix::Bt709, YuvRange::Limited));
        assert_eq!(c(unknown, VideoColorMatrix::Unknown, 576), ok(YuvMatrix::Bt601, YuvRange::Limited));
        assert_eq!(c(unknown, VideoColorMatrix::Unknown, 577), ok(YuvMatrix::Bt709, YuvRange::Limited));
        let bt2020 = c(limited, VideoColorMatrix::Bt2020, 2160).unwrap();
        assert_eq!((bt2020.matrix, bt2020.range), (YuvMatrix::Bt709, YuvRange::Limited));
        let warning = bt2020.warning.unwrap();
        assert!(warning.contains("BT.2020") && warning.contains("with BT.709"), "{warning}");
        assert_eq!(c(full, VideoColorMatrix::Fcc, 480).unwrap().matrix, YuvMatrix::Bt601);
        assert!(c(full, VideoColorMatrix::Rgb, 480).unwrap_err().contains("not supported"));
    }
}
