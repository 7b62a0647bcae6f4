# Sourced by the cuda-*.sh pipeline scripts: checks for a GPU, finds (or
# builds) a plugin built with `--features cuda`, then sources common.sh
# (model, LOWLIGHT_OPTS, helpers).
#   GST_PLUGIN_PATH  where a CUDA build of libgstlowlight.so is (default:
#                    target/cuda/release of this checkout, built on first use
#                    with `cargo build --release -p gst-plugin-lowlight --features cuda`,
#                    which needs nvcc: see scripts/cuda-toolchain.sh)
# Needs an NVIDIA GPU and driver, and GStreamer's nvcodec elements
# (gstreamer1.0-plugins-bad: nvh264dec, nvh264enc), which register only
# when a GPU is present.
CUDA_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cuda_die() { echo "$(basename "$0"): $*" >&2; exit 2; }
need_element() {
  gst-inspect-1.0 --exists "$1" || cuda_die "GStreamer element $1 is not available: it needs an NVIDIA GPU with its driver and gstreamer1.0-plugins-bad (nvcodec)"
}

# Before anything is built: without a driver and a GPU nothing below can run.
if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
  cuda_die "no NVIDIA driver (libcuda.so.1): the CUDA pipelines need a GPU; pipelines/mp4-reencode.sh and rtsp-enhance.sh run on the CPU"
fi
need_element nvh264dec

if [ -z "${GST_PLUGIN_PATH:-}" ]; then
  CUDA_TARGET="${LOWLIGHT_CUDA_TARGET_DIR:-$CUDA_ROOT_DIR/target/cuda}"
  export GST_PLUGIN_PATH="$CUDA_TARGET/release"
  if [ ! -f "$GST_PLUGIN_PATH/libgstlowlight.so" ]; then
    echo "building the lowlight plugin with CUDA (cargo build --release -p gst-plugin-lowlight --features cuda)" >&2
    if ! command -v nvcc >/dev/null && [ -z "${CUDA_HOME:-}" ] && [ -f "$CUDA_ROOT_DIR/.cache/cuda-venv/env.sh" ]; then
      # shellcheck disable=SC1091
      . "$CUDA_ROOT_DIR/.cache/cuda-venv/env.sh"
    fi
    (cd "$CUDA_ROOT_DIR" && CARGO_TARGET_DIR="$CUDA_TARGET" cargo build --release -p gst-plugin-lowlight --features cuda --locked -q)
  fi
fi

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The element runs on the GPU or the pipeline stops with its error.
ENHANCE+=(device=cuda)

if ! gst-inspect-1.0 lowlightenhance 2>/dev/null | grep -q "memory:CUDAMemory"; then
  die "the lowlightenhance in $GST_PLUGIN_PATH was built without --features cuda"
fi
