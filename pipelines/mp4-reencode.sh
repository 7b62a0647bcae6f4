#!/usr/bin/env bash
# Offline re-encode: IN.mp4 -> enhanced H.264 OUT.mp4, audio copied as is.
# Usage: pipelines/mp4-reencode.sh IN.mp4 OUT.mp4
# Env: X264_OPTS (default "speed-preset=faster pass=qual quantizer=20 bframes=0";
# no B-frames: with them mp4mux would start the video 2 frames late), and
# LOWLIGHT_MODEL / LOWLIGHT_OPTS / GST_PLUGIN_PATH (see common.sh).
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -eq 2 ] || die "usage: $0 IN.mp4 OUT.mp4"
IN="$1" OUT="$2"
[ -f "$IN" ] || die "$IN: no such file"
[ "$(realpath -m "$IN")" != "$(realpath -m "$OUT")" ] || die "OUT must differ from IN"
# shellcheck disable=SC2206
X264=(x264enc ${X264_OPTS:-speed-preset=faster pass=qual quantizer=20 bframes=0})

# Audio is copied when the file has an audio track (probe: does qtdemux
# expose audio_0?). Its queue is unbounded: x264enc holds back about a second
# of frames (look-ahead), and a full audio queue would stall the demuxer.
AUDIO=()
if timeout 30 gst-launch-1.0 -q filesrc location="$IN" ! qtdemux name=probe \
    probe.audio_0 ! fakesink num-buffers=1 >/dev/null 2>&1; then
  AUDIO=(demux.audio_0 ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! mux.)
fi

gst-launch-1.0 -e \
  filesrc location="$IN" ! qtdemux name=demux \
  demux.video_0 ! queue ! decodebin ! videoconvert ! "${ENHANCE[@]}" ! videoconvert \
    ! "${X264[@]}" ! h264parse ! queue ! mux. \
  "${AUDIO[@]}" \
  mp4mux name=mux ! filesink location="$OUT"
