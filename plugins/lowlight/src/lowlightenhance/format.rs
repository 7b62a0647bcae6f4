//! The caps the element accepts and the mapping from GStreamer's video
//! formats to the core's packed pixel formats and planar YUV formats.

use gst_video::VideoFormat;
use lowlight::{PixelFormat, YuvFormat, YuvMatrix, YuvRange};

use super::colorimetry;

/// The core's packed formats as GStreamer video formats, in caps preference order.
pub const FORMATS: [(VideoFormat, PixelFormat); 10] = [
    (VideoFormat::Rgbx, PixelFormat::Rgbx),
    (VideoFormat::Bgrx, PixelFormat::Bgrx),
    (VideoFormat::Xrgb, PixelFormat::Xrgb),
    (VideoFormat::Xbgr, PixelFormat::Xbgr),
    (VideoFormat::Rgba, PixelFormat::Rgba),
    (VideoFormat::Bgra, PixelFormat::Bgra),
    (VideoFormat::Argb, PixelFormat::Argb),
    (VideoFormat::Abgr, PixelFormat::Abgr),
    (VideoFormat::Rgb, PixelFormat::Rgb),
    (VideoFormat::Bgr, PixelFormat::Bgr),
];

/// The core's planar YUV formats, after the packed ones in the caps.
pub const YUV_FORMATS: [(VideoFormat, YuvFormat); 3] =
    [(VideoFormat::I420, YuvFormat::I420), (VideoFormat::Nv12, YuvFormat::Nv12), (VideoFormat::Y444, YuvFormat::Y444)];

/// What the negotiated caps ask the core to do with each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Packed(PixelFormat),
    Yuv { format: YuvFormat, matrix: YuvMatrix, range: YuvRange },
}

pub fn pixel_format(format: VideoFormat) -> Option<PixelFormat> {
    FORMATS.iter().find(|(v, _)| *v == format).map(|(_, p)| *p)
}

pub fn yuv_format(format: VideoFormat) -> Option<YuvFormat> {
    YUV_FORMATS.iter().find(|(v, _)| *v == format).map(|(_, y)| *y)
}

/// The target for negotiated caps, with a warning to post when the caps'
/// YUV matrix is replaced by a close one; an error for caps the element
/// cannot process.
pub fn target(info: &gst_video::VideoInfo) -> Result<(Target, Option<String>), String> {
    if let Some(p) = pixel_format(info.format()) {
        return Ok((Target::Packed(p), None));
    }
    let Some(format) = yuv_format(info.format()) else {
        return Err(format!("unsupported format {:?}", info.format()));
    };
    let conversion = colorimetry::conversion(&info.colorimetry(), info.height())?;
    Ok((Target::Yuv { format, matrix: conversion.matrix, range: conversion.range }, conversion.warning))
}

/// Any size and frame rate in one of [`FORMATS`] or [`YUV_FORMATS`], system memory.
pub fn caps() -> gst::Caps {
    let all = FORMATS.iter().map(|(v, _)| *v).chain(YUV_FORMATS.iter().map(|(v, _)| *v));
    gst_video::VideoCapsBuilder::new().format_list(all).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_gstreamer() {
        for (v, p) in FORMATS {
            assert_eq!(v.to_str(), p.name());
        }
        assert_eq!(FORMATS.len(), PixelFormat::ALL.len());
        for (v, y) in YUV_FORMATS {
            assert_eq!(v.to_str(), y.name());
        }
        assert_eq!(YUV_FORMATS.len(), YuvFormat::ALL.len());
    }
}
