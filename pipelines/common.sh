# Sourced by the pipeline scripts: finds the plugin and the model.
#   GST_PLUGIN_PATH  where libgstlowlight.so is (default: target/release of
#                    this checkout, or $CARGO_TARGET_DIR/release; built on first use)
#   LOWLIGHT_MODEL   SGZ weights (safetensors); default: the embedded model
#                    (models/lowlight-sgz.safetensors)
#   LOWLIGHT_OPTS    more lowlightenhance properties, e.g. "strength=0.8"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RELEASE_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"

if [ -z "${GST_PLUGIN_PATH:-}" ]; then
  export GST_PLUGIN_PATH="$RELEASE_DIR"
  if [ ! -f "$GST_PLUGIN_PATH/libgstlowlight.so" ]; then
    echo "building the lowlight plugin (cargo build --release -p gst-plugin-lowlight)" >&2
    (cd "$ROOT" && cargo build --release -p gst-plugin-lowlight --locked -q)
  fi
fi

# The element with its properties, as gst-launch arguments (an array).
ENHANCE=(lowlightenhance)
if [ -n "${LOWLIGHT_MODEL:-}" ]; then ENHANCE+=("model=$LOWLIGHT_MODEL"); fi
# shellcheck disable=SC2206
ENHANCE+=(${LOWLIGHT_OPTS:-})

# Whether URI has a sound track GStreamer can decode (a pipeline branch
# for a track that does not exist would never preroll).
has_audio() {
  timeout 30 gst-launch-1.0 -q uridecodebin uri="$1" name=probe \
    probe. ! audioconvert ! fakesink num-buffers=1 >/dev/null 2>&1
}

die() { echo "$(basename "$0"): $*" >&2; exit 2; }
