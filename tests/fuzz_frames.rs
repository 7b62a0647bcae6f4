//! Property tests of frame geometry checks: any width, height, stride,
//! buffer length and format gives `Ok` or `Err` without panicking, and `Ok`
//! means every pixel the layout names lies inside the buffer (checked here
//! in 128-bit arithmetic, independently of the implementation).

use lowlight::{FrameLayout, PixelFormat, YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use proptest::prelude::*;

/// Sizes around the interesting edges: small, typical, and near overflow.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..8,
        8usize..5000,
        Just(usize::MAX),
        Just(usize::MAX / 2),
        Just(usize::MAX / 3),
        Just(usize::MAX / 4 + 1),
        (usize::MAX / 8)..=usize::MAX,
        any::<usize>(),
    ]
}

fn big_stride() -> impl Strategy<Value = usize> {
    prop_oneof![Just(usize::MAX), (usize::MAX / 4)..=usize::MAX, 0usize..4]
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() }
}

/// Whether rows of `row` bytes, `rows` of them `stride` apart, fit in `len` bytes.
fn fits(rows: u128, row: u128, stride: u128, len: u128) -> bool {
    rows > 0 && row > 0 && stride >= row && (rows - 1) * stride + row <= len
}

/// The YUV check in 128-bit arithmetic: every plane fits its buffer.
fn yuv_fits(layout: &YuvLayout, lens: [usize; 3]) -> bool {
    let (sx, sy) = layout.format.subsampling();
    let (cw, ch) = ((layout.width as u128).div_ceil(sx as u128), (layout.height as u128).div_ceil(sy as u128));
    (0..layout.format.plane_count()).all(|i| {
        let (rows, row) = match (i, layout.format) {
            (0, _) => (layout.height as u128, layout.width as u128),
            (1, YuvFormat::Nv12) => (ch, 2 * cw),
            _ => (ch, cw),
        };
        fits(rows, row, layout.strides[i] as u128, lens[i] as u128)
    })
}

fn yuv(width: usize, height: usize, format: YuvFormat, strides: [usize; 3]) -> YuvLayout {
    YuvLayout { width, height, format, strides, matrix: YuvMatrix::Bt709, range: YuvRange::Limited }
}

#[test]
fn huge_chroma_rows_do_not_wrap_around() {
    // 2 * ceil(usize::MAX / 2) overflows: such a UV row fits in no buffer.
    let layout = yuv(usize::MAX, 1, YuvFormat::Nv12, [usize::MAX, 0, 0]);
    assert!(layout.validate([usize::MAX, usize::MAX, 0]).is_err());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn packed_layouts(width in size(), height in size(), stride in size(), len in size(),
                      format in prop::sample::select(PixelFormat::ALL.to_vec())) {
        let layout = FrameLayout { width, height, stride, format };
        let bpp = format.bytes_per_pixel() as u128;
        let ok = layout.validate(len).is_ok();
        let expected = fits(height as u128, width as u128 * bpp, stride as u128, len as u128);
        prop_assert_eq!(ok, expected, "{:?} in {} bytes", layout, len);
        if ok {
            prop_assert!(layout.min_buffer_len() <= len);
            prop_assert_eq!(layout.row_bytes() as u128, width as u128 * bpp);
        }
    }

    #[test]
    fn packed_layouts_of_real_sizes(width in 1usize..300, height in 1usize..300, pad in 0usize..64, short in 0usize..2,
                                    format in prop::sample::select(PixelFormat::ALL.to_vec())) {
        let layout = FrameLayout { stride: width * format.bytes_per_pixel() + pad, ..FrameLayout::packed(width, height, format) };
        let needed = layout.min_buffer_len();
        prop_assert_eq!(layout.validate(needed - short).is_ok(), short == 0);
        let mut buffer = vec![0u8; needed];
        // Ok means the last pixel's last byte can be indexed.
        prop_assert!(buffer.get_mut((height - 1) * layout.stride + width * format.bytes_per_pixel() - 1).is_some());
    }

    #[test]
    fn yuv_layouts(width in size(), height in size(), strides in [size(), size(), size()], lens in [size(), size(), size()],
                   format in prop::sample::select(YuvFormat::ALL.to_vec())) {
        let layout = yuv(width, height, format, strides);
        prop_assert_eq!(layout.validate(lens).is_ok(), yuv_fits(&layout, lens), "{:?} with planes of {:?} bytes", layout, lens);
    }

    #[test]
    fn yuv_layouts_near_the_limits(width in prop_oneof![Just(usize::MAX), Just(usize::MAX - 1), (usize::MAX / 4)..=usize::MAX], height in 1usize..4,
                                   strides in [big_stride(), big_stride(), big_stride()],
                                   format in prop::sample::select(YuvFormat::ALL.to_vec())) {
        let layout = yuv(width, height, format, strides);
        let lens = [usize::MAX; 3];
        prop_assert_eq!(layout.validate(lens).is_ok(), yuv_fits(&layout, lens), "{:?}", layout);
    }

    #[test]
    fn yuv_layouts_of_real_sizes(width in 1usize..200, height in 1usize..200, pad in [0usize..32, 0usize..32, 0usize..32],
                                 short in 0usize..3, format in prop::sample::select(YuvFormat::ALL.to_vec())) {
        let mut layout = YuvLayout::packed(width, height, format, YuvMatrix::Bt601, YuvRange::Full);
        for i in 0..3 {
            layout.strides[i] += pad[i];
        }
        let mut lens = [0usize; 3];
        for i in 0..format.plane_count() {
            lens[i] = layout.plane_min_len(i);
        }
        prop_assert!(layout.validate(lens).is_ok(), "{:?} {:?}", layout, lens);
        let plane = short % format.plane_count();
        lens[plane] -= (short > 0) as usize;
        prop_assert_eq!(layout.validate(lens).is_ok(), short == 0, "{:?} {:?}", layout, lens);
    }
}
