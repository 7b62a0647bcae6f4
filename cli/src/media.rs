//! What a path holds, by its extension: an image, or a video and the
//! container and encoders it is written with.

use std::path::Path;

use anyhow::{Result, bail};

/// Extensions of the images the CLI reads and writes.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// Extensions read as videos (anything GStreamer can demux and decode).
pub const VIDEO_EXTENSIONS: [&str; 12] =
    ["mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "3gp", "ogv", "flv"];

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

pub fn is_image(path: &Path) -> bool {
    extension(path).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

pub fn is_video(path: &Path) -> bool {
    extension(path).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.as_str()))
}

/// The containers videos are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Mp4,
    Mov,
    Mkv,
    Webm,
}

impl Container {
    /// From the output's extension.
    pub fn for_output(path: &Path) -> Result<Self> {
        Ok(match extension(path).as_deref() {
            Some("mp4" | "m4v") => Container::Mp4,
            Some("mov") => Container::Mov,
            Some("mkv") => Container::Mkv,
            Some("webm") => Container::Webm,
            _ => bail!("output {}: a video is written as .mp4, .mkv, .mov or .webm", path.display()),
        })
    }

    pub fn muxer(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4mux",
            Container::Mov => "qtmux",
            Container::Mkv => "matroskamux",
            Container::Webm => "webmmux",
        }
    }

    /// The video encoder and parser, as (factory, properties) pairs. H.264
    /// without B-frames (with them mp4mux starts the video 2 frames late),
    /// as pipelines/mp4-reencode.sh; VP8 for WebM.
    pub fn video_encoder(self) -> &'static [(&'static str, &'static [(&'static str, &'static str)])] {
        match self {
            Container::Webm => &[(
                "vp8enc",
                &[
                    ("deadline", "1"),
                    ("cpu-used", "4"),
                    ("end-usage", "cq"),
                    ("cq-level", "10"),
                    ("target-bitrate", "20000000"),
                ],
            )],
            _ => &[
                ("x264enc", &[("speed-preset", "faster"), ("pass", "qual"), ("quantizer", "20"), ("bframes", "0")]),
                ("h264parse", &[]),
            ],
        }
    }

    /// The audio encoder used when the input's audio cannot be copied into
    /// this container as it is.
    pub fn audio_encoder(self) -> &'static [&'static str] {
        match self {
            Container::Mp4 | Container::Mov => &["avenc_aac", "aacparse"],
            Container::Mkv | Container::Webm => &["opusenc"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_extension() {
        assert!(is_video(Path::new("a/b.MP4")) && is_video(Path::new("x.webm")));
        assert!(is_image(Path::new("x.JPeG")) && !is_image(Path::new("x.mp4")));
        assert!(!is_video(Path::new("mp4")) && !is_image(Path::new("png")));
        assert_eq!(Container::for_output(Path::new("o.mkv")).unwrap(), Container::Mkv);
        assert!(Container::for_output(Path::new("o.avi")).is_err(), "read, not written");
    }
}
