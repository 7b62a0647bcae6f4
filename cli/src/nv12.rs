//! NV12 copies of decoded RGBx frames, so that `lowlight flicker --nv12`
//! runs the enhancer's YUV path, the one the element runs on decoded video
//! (BT.709, limited range, as H.264 at HD sizes).

use anyhow::Result;
use lowlight::ops::curve::to_byte;
use lowlight::ops::yuv::Coeffs;
use lowlight::quality::luma;
use lowlight::{FrameLayout, YuvFormat, YuvLayout, YuvMatrix, YuvRange};

/// One NV12 frame, rows packed.
#[derive(Debug, Clone)]
pub struct Nv12Frame {
    pub y: Vec<u8>,
    pub uv: Vec<u8>,
    pub layout: YuvLayout,
}

fn coeffs() -> Coeffs {
    Coeffs::new(YuvMatrix::Bt709, YuvRange::Limited)
}

impl Nv12Frame {
    /// Converts a packed RGB frame: luma per pixel, chroma from the mean RGB
    /// of each 2x2 block (the pixels of the block that exist).
    pub fn from_packed(data: &[u8], layout: &FrameLayout) -> Result<Self> {
        layout.validate(data.len())?;
        let (w, h) = (layout.width, layout.height);
        let yuv = YuvLayout::packed(w, h, YuvFormat::Nv12, YuvMatrix::Bt709, YuvRange::Limited);
        let (cw, ch) = yuv.chroma_size();
        let (bpp, offsets) = (layout.format.bytes_per_pixel(), layout.format.rgb_offsets());
        let k = coeffs();
        let rgb = |x: usize, y: usize| -> [f32; 3] {
            let p = &data[y * layout.stride + x * bpp..];
            offsets.map(|o| p[o] as f32 / 255.0)
        };
        let mut luma_plane = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = rgb(x, y);
                luma_plane[y * w + x] = k.y_code(k.from_rgb(r, g, b).0);
            }
        }
        let mut uv = vec![0u8; 2 * cw * ch];
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut sum, mut n) = ([0f32; 3], 0.0);
                for y in 2 * cy..(2 * cy + 2).min(h) {
                    for x in 2 * cx..(2 * cx + 2).min(w) {
                        let p = rgb(x, y);
                        (0..3).for_each(|c| sum[c] += p[c]);
                        n += 1.0;
                    }
                }
                let (_, cb, cr) = k.from_rgb(sum[0] / n, sum[1] / n, sum[2] / n);
                uv[(cy * cw + cx) * 2] = k.c_code(cb);
                uv[(cy * cw + cx) * 2 + 1] = k.c_code(cr);
            }
        }
        Ok(Nv12Frame { y: luma_plane, uv, layout: yuv })
    }

    /// The mean luma (0..1) of the frame converted back to RGB bytes, as
    /// [`lowlight::quality::frame_mean_luma`] measures a packed frame.
    pub fn mean_luma(&self) -> f64 {
        let (w, h) = (self.layout.width, self.layout.height);
        let cw = self.layout.chroma_size().0;
        let k = coeffs();
        let mut sum = 0.0;
        for y in 0..h {
            for x in 0..w {
                let c = ((y / 2) * cw + x / 2) * 2;
                let [r, g, b] = k.to_rgb(self.y[y * w + x], self.uv[c], self.uv[c + 1]).map(to_byte);
                sum += luma(r, g, b);
            }
        }
        sum / (w * h) as f64 / 255.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lowlight::PixelFormat;
    use lowlight::quality::frame_mean_luma;

    #[test]
    fn a_round_trip_keeps_the_mean_luma() {
        let (w, h) = (37, 21);
        let layout = FrameLayout { width: w, height: h, stride: 4 * w + 8, format: PixelFormat::Rgbx };
        let data: Vec<u8> = (0..layout.stride * h).map(|i| (20 + (i * 37 + i / layout.stride * 11) % 90) as u8).collect();
        let nv12 = Nv12Frame::from_packed(&data, &layout).unwrap();
        let (before, after) = (frame_mean_luma(&data, &layout).unwrap(), nv12.mean_luma());
        // Chroma subsampling and two roundings move the mean by a fraction of a code.
        assert!((before - after).abs() < 1.5 / 255.0, "{before} vs {after}");
        let flat = vec![100u8; layout.stride * h];
        let flat_nv12 = Nv12Frame::from_packed(&flat, &layout).unwrap();
        assert!((flat_nv12.mean_luma() - 100.0 / 255.0).abs() < 0.6 / 255.0);
    }
}
