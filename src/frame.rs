//! Pixel formats and the geometry of a mapped video frame.
//!
//! A frame is a byte buffer of `height` rows, each `stride` bytes apart, with
//! `width` pixels per row. Packed formats hold one pixel in 3 or 4 bytes; the
//! alpha or padding byte of 4-byte formats is never written.

use std::fmt;
use std::str::FromStr;

use crate::error::FrameError;

/// The packed 8-bit RGB family the engine reads and writes in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    Rgb,
    Bgr,
    Rgbx,
    Bgrx,
    Xrgb,
    Xbgr,
    Rgba,
    Bgra,
    Argb,
    Abgr,
}

impl PixelFormat {
    pub const ALL: [PixelFormat; 10] = [
        PixelFormat::Rgb,
        PixelFormat::Bgr,
        PixelFormat::Rgbx,
        PixelFormat::Bgrx,
        PixelFormat::Xrgb,
        PixelFormat::Xbgr,
        PixelFormat::Rgba,
        PixelFormat::Bgra,
        PixelFormat::Argb,
        PixelFormat::Abgr,
    ];

    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb | PixelFormat::Bgr => 3,
            _ => 4,
        }
    }

    /// Byte offsets of the red, green and blue samples inside one pixel.
    pub const fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgb | PixelFormat::Rgbx | PixelFormat::Rgba => [0, 1, 2],
            PixelFormat::Bgr | PixelFormat::Bgrx | PixelFormat::Bgra => [2, 1, 0],
            PixelFormat::Xrgb | PixelFormat::Argb => [1, 2, 3],
            PixelFormat::Xbgr | PixelFormat::Abgr => [3, 2, 1],
        }
    }

    /// The name GStreamer uses for this format in caps.
    pub const fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb => "RGB",
            PixelFormat::Bgr => "BGR",
            PixelFormat::Rgbx => "RGBx",
            PixelFormat::Bgrx => "BGRx",
            PixelFormat::Xrgb => "xRGB",
            PixelFormat::Xbgr => "xBGR",
            PixelFormat::Rgba => "RGBA",
            PixelFormat::Bgra => "BGRA",
            PixelFormat::Argb => "ARGB",
            PixelFormat::Abgr => "ABGR",
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PixelFormat {
    type Err = FrameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PixelFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| FrameError::UnknownFormat(s.to_string()))
    }
}

/// Where the pixels of a packed frame lie in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    pub width: usize,
    pub height: usize,
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
    pub format: PixelFormat,
}

impl FrameLayout {
    /// A layout with rows packed back to back.
    pub fn packed(width: usize, height: usize, format: PixelFormat) -> Self {
        FrameLayout { width, height, stride: width * format.bytes_per_pixel(), format }
    }

    /// Bytes of one row that hold pixels.
    pub fn row_bytes(&self) -> usize {
        self.width * self.format.bytes_per_pixel()
    }

    /// Smallest buffer that holds the frame (the last row needs no padding).
    pub fn min_buffer_len(&self) -> usize {
        if self.height == 0 {
            return 0;
        }
        (self.height - 1) * self.stride + self.row_bytes()
    }

    /// Checks that the layout is usable with a buffer of `len` bytes.
    pub fn validate(&self, len: usize) -> Result<(), FrameError> {
        if self.width == 0 || self.height == 0 {
            return Err(FrameError::Empty { width: self.width, height: self.height });
        }
        let row = self
            .width
            .checked_mul(self.format.bytes_per_pixel())
            .ok_or(FrameError::TooLarge { width: self.width, height: self.height })?;
        if self.stride < row {
            return Err(FrameError::StrideTooSmall { stride: self.stride, row_bytes: row });
        }
        let needed = (self.height - 1)
            .checked_mul(self.stride)
            .and_then(|b| b.checked_add(row))
            .ok_or(FrameError::TooLarge { width: self.width, height: self.height })?;
        if len < needed {
            return Err(FrameError::BufferTooSmall { len, needed });
        }
        Ok(())
    }
}

/// Planar 8-bit YUV formats, as decoders produce them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YuvFormat {
    /// Y plane, then U and V planes at half width and half height.
    I420,
    /// Y plane, then one plane of interleaved U,V pairs at half width and half height.
    Nv12,
    /// Y, U and V planes at full size.
    Y444,
}

impl YuvFormat {
    pub const ALL: [YuvFormat; 3] = [YuvFormat::I420, YuvFormat::Nv12, YuvFormat::Y444];

    pub const fn name(self) -> &'static str {
        match self {
            YuvFormat::I420 => "I420",
            YuvFormat::Nv12 => "NV12",
            YuvFormat::Y444 => "Y444",
        }
    }

    /// Horizontal and vertical chroma subsampling factors.
    pub const fn subsampling(self) -> (usize, usize) {
        match self {
            YuvFormat::I420 | YuvFormat::Nv12 => (2, 2),
            YuvFormat::Y444 => (1, 1),
        }
    }

    pub const fn plane_count(self) -> usize {
        match self {
            YuvFormat::Nv12 => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for YuvFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The YUV <-> RGB matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum YuvMatrix {
    /// SD video (and JPEG).
    Bt601,
    /// HD video.
    #[default]
    Bt709,
}

/// Code value range of Y and chroma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum YuvRange {
    /// Y in 16..=235, chroma in 16..=240 (video).
    #[default]
    Limited,
    /// 0..=255.
    Full,
}

/// Where the planes of a YUV frame lie: one buffer per plane, with its stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YuvLayout {
    pub width: usize,
    pub height: usize,
    pub format: YuvFormat,
    /// Row strides of the Y, U (or UV) and V planes; the third is unused for NV12.
    pub strides: [usize; 3],
    pub matrix: YuvMatrix,
    pub range: YuvRange,
}

impl YuvLayout {
    /// A layout with rows packed back to back.
    pub fn packed(width: usize, height: usize, format: YuvFormat, matrix: YuvMatrix, range: YuvRange) -> Self {
        let mut l = YuvLayout { width, height, format, strides: [0; 3], matrix, range };
        for i in 0..format.plane_count() {
            l.strides[i] = l.plane_row_bytes(i);
        }
        l
    }

    /// Chroma plane size in samples: `(width, height)`.
    pub fn chroma_size(&self) -> (usize, usize) {
        let (sx, sy) = self.format.subsampling();
        (self.width.div_ceil(sx), self.height.div_ceil(sy))
    }

    /// Bytes of one row of plane `i` that hold samples.
    pub fn plane_row_bytes(&self, i: usize) -> usize {
        match (i, self.format) {
            (0, _) => self.width,
            (1, YuvFormat::Nv12) => 2 * self.chroma_size().0,
            _ => self.chroma_size().0,
        }
    }

    pub fn plane_rows(&self, i: usize) -> usize {
        if i == 0 { self.height } else { self.chroma_size().1 }
    }

    /// Smallest buffer that holds plane `i`.
    pub fn plane_min_len(&self, i: usize) -> usize {
        (self.plane_rows(i) - 1) * self.strides[i] + self.plane_row_bytes(i)
    }

    /// Checks the layout against the lengths of the plane buffers.
    pub fn validate(&self, lens: [usize; 3]) -> Result<(), FrameError> {
        if self.width == 0 || self.height == 0 {
            return Err(FrameError::Empty { width: self.width, height: self.height });
        }
        for i in 0..self.format.plane_count() {
            // NV12's interleaved UV row is 2 * ceil(width / 2) bytes: more than
            // usize holds when width is usize::MAX.
            if i == 1 && self.format == YuvFormat::Nv12 && self.chroma_size().0.checked_mul(2).is_none() {
                return Err(FrameError::TooLarge { width: self.width, height: self.height });
            }
            let row = self.plane_row_bytes(i);
            if self.strides[i] < row {
                return Err(FrameError::StrideTooSmall { stride: self.strides[i], row_bytes: row });
            }
            let needed = (self.plane_rows(i) - 1)
                .checked_mul(self.strides[i])
                .and_then(|b| b.checked_add(row))
                .ok_or(FrameError::TooLarge { width: self.width, height: self.height })?;
            if lens[i] < needed {
                return Err(FrameError::BufferTooSmall { len: lens[i], needed });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_distinct_and_in_pixel() {
        for f in PixelFormat::ALL {
            let [r, g, b] = f.rgb_offsets();
            assert!(r != g && g != b && r != b, "{f}");
            assert!(r.max(g).max(b) < f.bytes_per_pixel(), "{f}");
            assert_eq!(f.name().parse::<PixelFormat>().unwrap(), f);
        }
    }

    #[test]
    fn validation_rejects_bad_layouts() {
        let l = FrameLayout::packed(4, 3, PixelFormat::Rgb);
        assert!(l.validate(36).is_ok());
        assert!(l.validate(35).is_err());
        let padded = FrameLayout { stride: 16, ..l };
        assert_eq!(padded.min_buffer_len(), 2 * 16 + 12);
        assert!(padded.validate(44).is_ok());
        assert!(matches!(
            FrameLayout { stride: 11, ..l }.validate(100),
            Err(FrameError::StrideTooSmall { .. })
        ));
        assert!(matches!(FrameLayout::packed(0, 3, PixelFormat::Rgb).validate(0), Err(FrameError::Empty { .. })));
        assert!(matches!(
            FrameLayout { width: usize::MAX / 2, height: 2, stride: usize::MAX, format: PixelFormat::Rgba }
                .validate(100),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
