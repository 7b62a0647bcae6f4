//! One mapped video frame handed to the core: its planes, strides (from the
//! frame, so a buffer's VideoMeta is honoured) and the negotiated target.

use gst_video::VideoFrameRef;
use gst_video::prelude::*;
use lowlight::{Enhancer, FrameLayout, YuvLayout};

use super::format::Target;

/// Enhances `frame` in place as `target` says; the error is a sentence for
/// an ERROR message.
pub fn enhance(
    enhancer: &mut Enhancer,
    target: Target,
    frame: &mut VideoFrameRef<&mut gst::BufferRef>,
) -> Result<(), String> {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let n_planes = frame.n_planes() as usize;
    let mut strides = [0usize; 3];
    for (i, &s) in frame.plane_stride().iter().take(n_planes.min(3)).enumerate() {
        // GStreamer allows negative strides (bottom-up rows); the core does not.
        strides[i] = usize::try_from(s).map_err(|_| format!("plane {i} has a negative row stride {s}"))?;
    }
    match target {
        Target::Packed(format) => {
            let layout = FrameLayout { width, height, stride: strides[0], format };
            let data = frame.plane_data_mut(0).map_err(|e| format!("cannot access the frame: {e}"))?;
            enhancer.enhance(data, &layout).map_err(|e| format!("cannot enhance frame {layout:?}: {e}"))
        }
        Target::Yuv { format, matrix, range } => {
            if n_planes != format.plane_count() {
                return Err(format!("a {format} frame with {n_planes} planes"));
            }
            let layout = YuvLayout { width, height, format, strides, matrix, range };
            let [y, u, v, _] = frame.planes_data_mut();
            enhancer.enhance_yuv([y, u, v], &layout).map_err(|e| format!("cannot enhance frame {layout:?}: {e}"))
        }
    }
}
