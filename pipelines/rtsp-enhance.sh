#!/usr/bin/env bash
# Live enhancement of an RTSP camera.
# Usage: pipelines/rtsp-enhance.sh rtsp://CAMERA/... [--display] [lowlight-rtsp options]
#   default    serve the enhanced stream with lowlight-rtsp at
#              rtsp://127.0.0.1:8554/enhanced (--address HOST:PORT, --mount /PATH);
#              it exits with status 1 when the camera fails or stalls
#   --display  show the enhanced camera on the screen instead (autovideosink)
# Env: LOWLIGHT_RTSP_BIN (default target/release/lowlight-rtsp, built on
# first use), LOWLIGHT_VIDEOSINK, LOWLIGHT_MODEL / LOWLIGHT_OPTS / GST_PLUGIN_PATH.
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || die "usage: $0 rtsp://CAMERA [--display] [lowlight-rtsp options]"
URL="$1"; shift
case "$URL" in rtsp://* | rtsps://* | rtspt://*) ;; *) die "$URL is not an rtsp:// URL" ;; esac

if [ "${1:-}" = "--display" ]; then
  shift
  [ $# -eq 0 ] || die "--display takes no more options"
  # shellcheck disable=SC2206
  VSINK=(${LOWLIGHT_VIDEOSINK:-autovideosink})
  exec gst-launch-1.0 \
    rtspsrc location="$URL" protocols=tcp latency=200 ! "application/x-rtp,media=video" \
    ! decodebin ! videoconvert ! "${ENHANCE[@]}" ! videoconvert ! "${VSINK[@]}"
fi

BIN="${LOWLIGHT_RTSP_BIN:-$RELEASE_DIR/lowlight-rtsp}"
if [ ! -x "$BIN" ]; then
  echo "building lowlight-rtsp (cargo build --release -p gst-plugin-lowlight)" >&2
  (cd "$ROOT" && cargo build --release -p gst-plugin-lowlight --locked -q)
fi
MODEL_ARGS=()
if [ -n "${LOWLIGHT_MODEL:-}" ]; then MODEL_ARGS=(--model "$LOWLIGHT_MODEL"); fi
exec "$BIN" "${MODEL_ARGS[@]}" "$@" "$URL"
