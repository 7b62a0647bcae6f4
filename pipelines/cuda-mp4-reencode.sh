#!/usr/bin/env bash
# Offline re-encode on the GPU: H.264 IN.mp4 -> enhanced H.264 OUT.mp4, audio
# copied as is. Frames stay in GPU memory from decoder to encoder:
#   nvh264dec ! video/x-raw(memory:CUDAMemory),format=NV12 ! lowlightenhance ! nvh264enc
# (the element shares one CUDA context with the decoder and encoder).
# Usage: pipelines/cuda-mp4-reencode.sh IN.mp4 OUT.mp4
# Env: NVENC (default nvh264enc), NVENC_OPTS (encoder properties, e.g.
# "bitrate=8000"), LOWLIGHT_MODEL / LOWLIGHT_OPTS / GST_PLUGIN_PATH (see
# cuda-common.sh and common.sh).
set -euo pipefail
source "$(dirname "$0")/cuda-common.sh"
[ $# -eq 2 ] || die "usage: $0 IN.mp4 OUT.mp4"
IN="$1" OUT="$2"
[ -f "$IN" ] || die "$IN: no such file"
[ "$(realpath -m "$IN")" != "$(realpath -m "$OUT")" ] || die "OUT must differ from IN"
NVENC_ELEMENT="${NVENC:-nvh264enc}"
need_element "$NVENC_ELEMENT"
# shellcheck disable=SC2206
ENCODER=("$NVENC_ELEMENT" ${NVENC_OPTS:-})

timeout 30 gst-launch-1.0 -q filesrc location="$IN" ! qtdemux ! video/x-h264 ! fakesink num-buffers=1 \
  >/dev/null 2>&1 || die "$IN: no H.264 video track (nvh264dec decodes H.264 only)"

# Audio as in mp4-reencode.sh: copied when present, unbounded queue.
AUDIO=()
if timeout 30 gst-launch-1.0 -q filesrc location="$IN" ! qtdemux name=probe \
    probe.audio_0 ! fakesink num-buffers=1 >/dev/null 2>&1; then
  AUDIO=(demux.audio_0 ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! mux.)
fi

gst-launch-1.0 -e \
  filesrc location="$IN" ! qtdemux name=demux \
  demux.video_0 ! queue ! h264parse ! nvh264dec ! "video/x-raw(memory:CUDAMemory),format=NV12" \
    ! "${ENHANCE[@]}" ! "${ENCODER[@]}" ! h264parse ! queue ! mux. \
  "${AUDIO[@]}" \
  mp4mux name=mux ! filesink location="$OUT"
