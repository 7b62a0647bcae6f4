//! Planar YUV frames for the tests: planes with chosen row strides, laid
//! into one buffer at chosen offsets (described by a VideoMeta), and the
//! core's `enhance_yuv` on the same planes as the reference.

use gst_video::VideoFormat;
use lowlight::{YuvFormat, YuvLayout, YuvMatrix, YuvRange};

/// Filler of row padding and of the gaps between planes: a pattern the
/// conversion would not produce.
pub fn filler(i: usize) -> u8 {
    (i * 13 + 5) as u8
}

pub fn core_format(format: VideoFormat) -> YuvFormat {
    match format {
        VideoFormat::I420 => YuvFormat::I420,
        VideoFormat::Nv12 => YuvFormat::Nv12,
        VideoFormat::Y444 => YuvFormat::Y444,
        other => panic!("not a YUV format of the element: {other:?}"),
    }
}

/// The planes of one frame, each `stride * rows` bytes (padding included).
#[derive(Debug, Clone, PartialEq)]
pub struct YuvFrame {
    pub format: VideoFormat,
    pub width: usize,
    pub height: usize,
    pub strides: [usize; 3],
    pub planes: Vec<Vec<u8>>,
}

impl YuvFrame {
    /// A dark, noisy frame (xorshift): Y in 16..100, chroma in 88..168; each
    /// plane's rows are `pads[i]` bytes longer than its samples.
    pub fn noise(format: VideoFormat, width: usize, height: usize, pads: [usize; 3], seed: u64) -> Self {
        let layout = YuvLayout::packed(width, height, core_format(format), YuvMatrix::Bt709, YuvRange::Limited);
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 33) as usize
        };
        let n = layout.format.plane_count();
        let mut strides = [0; 3];
        let mut planes = Vec::new();
        for i in 0..n {
            strides[i] = layout.plane_row_bytes(i) + pads[i];
            let mut plane: Vec<u8> = (0..strides[i] * layout.plane_rows(i)).map(filler).collect();
            for row in plane.chunks_mut(strides[i]) {
                for v in &mut row[..layout.plane_row_bytes(i)] {
                    *v = if i == 0 { 16 + next() % 84 } else { 88 + next() % 80 } as u8;
                }
            }
            planes.push(plane);
        }
        YuvFrame { format, width, height, strides, planes }
    }

    /// The planes of `info`'s default layout (GStreamer's row alignment)
    /// read from a buffer of that layout.
    pub fn from_default_layout(bytes: &[u8], info: &gst_video::VideoInfo) -> Self {
        let n = info.n_planes() as usize;
        let mut strides = [0; 3];
        let mut planes = Vec::new();
        let layout = YuvLayout::packed(
            info.width() as usize,
            info.height() as usize,
            core_format(info.format()),
            YuvMatrix::Bt709,
            YuvRange::Limited,
        );
        for i in 0..n {
            strides[i] = info.stride()[i] as usize;
            let off = info.offset()[i];
            planes.push(bytes[off..off + strides[i] * layout.plane_rows(i)].to_vec());
        }
        YuvFrame { format: info.format(), width: layout.width, height: layout.height, strides, planes }
    }

    /// The planes of a mapped buffer (VideoMeta honoured) of caps `info`.
    pub fn from_buffer(buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Self {
        use gst_video::prelude::*;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).unwrap();
        let layout = YuvLayout::packed(
            info.width() as usize,
            info.height() as usize,
            core_format(info.format()),
            YuvMatrix::Bt709,
            YuvRange::Limited,
        );
        let mut strides = [0; 3];
        let mut planes = Vec::new();
        for (i, stride) in strides.iter_mut().enumerate().take(frame.n_planes() as usize) {
            *stride = frame.plane_stride()[i] as usize;
            planes.push(frame.plane_data(i as u32).unwrap()[..*stride * layout.plane_rows(i)].to_vec());
        }
        YuvFrame { format: info.format(), width: layout.width, height: layout.height, strides, planes }
    }

    pub fn layout(&self, matrix: YuvMatrix, range: YuvRange) -> YuvLayout {
        YuvLayout {
            width: self.width,
            height: self.height,
            format: core_format(self.format),
            strides: self.strides,
            matrix,
            range,
        }
    }

    /// Plane offsets in [`Self::buffer`]: each plane starts `gap` bytes after the previous one ends.
    pub fn offsets(&self, gap: usize) -> Vec<usize> {
        let mut offsets = Vec::new();
        let mut at = gap;
        for p in &self.planes {
            offsets.push(at);
            at += p.len() + gap;
        }
        offsets
    }

    /// One buffer holding the planes at [`Self::offsets`], filler in the
    /// gaps, with a VideoMeta giving offsets and strides.
    pub fn buffer(&self, gap: usize) -> gst::Buffer {
        let offsets = self.offsets(gap);
        let mut bytes: Vec<u8> = (0..offsets.last().unwrap() + self.planes.last().unwrap().len() + gap).map(filler).collect();
        for (p, &off) in self.planes.iter().zip(&offsets) {
            bytes[off..off + p.len()].copy_from_slice(p);
        }
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        let strides: Vec<i32> = self.strides[..self.planes.len()].iter().map(|&s| s as i32).collect();
        gst_video::VideoMeta::add_full(
            buffer.get_mut().unwrap(),
            gst_video::VideoFrameFlags::empty(),
            self.format,
            self.width as u32,
            self.height as u32,
            &offsets,
            &strides,
        )
        .unwrap();
        buffer
    }

    /// A buffer laid out as `info` says (GStreamer's default offsets and
    /// strides, no VideoMeta), filler outside the planes.
    pub fn default_layout_buffer(&self, info: &gst_video::VideoInfo) -> gst::Buffer {
        let mut bytes: Vec<u8> = (0..info.size()).map(filler).collect();
        for (i, p) in self.planes.iter().enumerate() {
            assert_eq!(self.strides[i], info.stride()[i] as usize, "plane {i} stride as VideoInfo says");
            let off = info.offset()[i];
            bytes[off..off + p.len()].copy_from_slice(p);
        }
        gst::Buffer::from_mut_slice(bytes)
    }

    /// The core's `enhance_yuv` on a copy of the planes (padding included).
    pub fn core_enhanced(&self, model: &std::path::Path, options: lowlight::EnhancerOptions, matrix: YuvMatrix, range: YuvRange) -> Self {
        let sgz = lowlight::Sgz::load(model).unwrap();
        let mut enhancer = lowlight::Enhancer::new(sgz, options).unwrap();
        let mut out = self.clone();
        out.enhance_with(&mut enhancer, matrix, range);
        out
    }

    /// Enhances the planes in place with `enhancer`.
    pub fn enhance_with(&mut self, enhancer: &mut lowlight::Enhancer, matrix: YuvMatrix, range: YuvRange) {
        let layout = self.layout(matrix, range);
        let mut planes = self.planes.iter_mut();
        let (y, u) = (planes.next().unwrap(), planes.next().unwrap());
        let mut empty = Vec::new();
        let v = planes.next().unwrap_or(&mut empty);
        enhancer.enhance_yuv([y, u, v], &layout).unwrap();
    }

    /// Max and mean absolute difference of the samples of plane `i` (padding excluded).
    pub fn plane_diff(&self, other: &Self, i: usize) -> (u8, f64) {
        let l = self.layout(YuvMatrix::Bt709, YuvRange::Limited);
        let (row, rows) = (l.plane_row_bytes(i), l.plane_rows(i));
        let (mut max, mut sum) = (0u8, 0u64);
        for y in 0..rows {
            let a = &self.planes[i][y * self.strides[i]..][..row];
            let b = &other.planes[i][y * other.strides[i]..][..row];
            for (x, z) in a.iter().zip(b) {
                let d = x.abs_diff(*z);
                max = max.max(d);
                sum += d as u64;
            }
        }
        (max, sum as f64 / (row * rows) as f64)
    }
}

/// Caps for `format` at `w x h` with colorimetry `colorimetry` (`None`: the field left out).
pub fn caps(format: VideoFormat, w: usize, h: usize, colorimetry: Option<&str>) -> gst::Caps {
    let info = gst_video::VideoInfo::builder(format, w as u32, h as u32).fps(gst::Fraction::new(30, 1)).build().unwrap();
    let mut caps = info.to_caps().unwrap();
    let s = caps.make_mut().structure_mut(0).unwrap();
    match colorimetry {
        Some(c) => s.set("colorimetry", c),
        None => s.remove_field("colorimetry"),
    }
    caps
}

/// Reads a uint8 tensor `[H, W, 3]` from a safetensors file (the reference
/// images): `(rgb, width, height)`.
pub fn safetensors_image(path: &std::path::Path, name: &str) -> (Vec<u8>, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let entry = &header[header.find(&format!("\"{name}\"")).expect("tensor in the file")..];
    let entry = &entry[..entry.find('}').unwrap()];
    let numbers = |key: &str| -> Vec<usize> {
        let list = &entry[entry.find(key).unwrap()..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        list.split(',').map(|v| v.trim().parse().unwrap()).collect()
    };
    assert!(entry.contains("\"U8\""), "{name} is uint8");
    let (shape, range) = (numbers("\"shape\""), numbers("\"data_offsets\""));
    assert_eq!((shape.len(), shape[2]), (3, 3), "{name} is [H, W, 3]");
    let data = bytes[8 + n + range[0]..8 + n + range[1]].to_vec();
    assert_eq!(data.len(), shape[0] * shape[1] * 3);
    (data, shape[1], shape[0])
}
