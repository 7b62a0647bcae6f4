//! The caps the element accepts and the mapping from GStreamer's video
//! formats to the core's packed pixel formats.

use gst_video::VideoFormat;
use lowlight::PixelFormat;

/// The core's formats as GStreamer video formats, in caps preference order.
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

pub fn pixel_format(format: VideoFormat) -> Option<PixelFormat> {
    FORMATS.iter().find(|(v, _)| *v == format).map(|(_, p)| *p)
}

/// Any size and frame rate in one of [`FORMATS`], system memory.
pub fn caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new().format_list(FORMATS.iter().map(|(v, _)| *v)).build()
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
    }
}
