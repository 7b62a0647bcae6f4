#!/usr/bin/env bash
# Drone or dashcam footage enhanced to the screen, with its sound.
# Usage: pipelines/play.sh FILE [--side-by-side]
#   --side-by-side  before (left) and after (right), each scaled into
#                   SIDE_WIDTH x SIDE_HEIGHT (default 960x540), with compositor
# Env: LOWLIGHT_VIDEOSINK (default autovideosink), LOWLIGHT_AUDIOSINK
# (default autoaudiosink), LOWLIGHT_MODEL / LOWLIGHT_OPTS / GST_PLUGIN_PATH.
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 FILE [--side-by-side]"
FILE="$1" MODE="${2:-}"
[ -f "$FILE" ] || die "$FILE: no such file"
[ -z "$MODE" ] || [ "$MODE" = "--side-by-side" ] || die "unknown option $MODE"
URI="file://$(realpath "$FILE")"
# shellcheck disable=SC2206
VSINK=(${LOWLIGHT_VIDEOSINK:-autovideosink})
# shellcheck disable=SC2206
ASINK=(${LOWLIGHT_AUDIOSINK:-autoaudiosink})
W="${SIDE_WIDTH:-960}" H="${SIDE_HEIGHT:-540}"

# uridecodebin's pads: videoconvert links only to video, audioconvert only
# to audio; the audio branch exists only when the file has sound.
AUDIO=()
if has_audio "$URI"; then AUDIO=(dec. ! audioconvert ! audioresample ! queue ! "${ASINK[@]}"); fi
if [ "$MODE" = "--side-by-side" ]; then
  SIZE="video/x-raw,width=$W,height=$H,pixel-aspect-ratio=1/1"
  gst-launch-1.0 \
    uridecodebin uri="$URI" name=dec \
    dec. ! videoconvert ! tee name=t \
    t. ! queue ! videoscale add-borders=true ! "$SIZE" ! comp.sink_0 \
    t. ! queue ! "${ENHANCE[@]}" ! videoscale add-borders=true ! "$SIZE" ! comp.sink_1 \
    compositor name=comp sink_0::xpos=0 sink_1::xpos="$W" ! videoconvert ! "${VSINK[@]}" \
    "${AUDIO[@]}"
else
  gst-launch-1.0 \
    uridecodebin uri="$URI" name=dec \
    dec. ! videoconvert ! "${ENHANCE[@]}" ! videoconvert ! "${VSINK[@]}" \
    "${AUDIO[@]}"
fi
