#!/usr/bin/env bash
# The main job: make a dark, noisy night-like clip with GStreamer's test
# sources, re-encode it enhanced through lowlightenhance (pipelines/mp4-reencode.sh),
# and write a before/after picture of one frame.
# Writes out/dark.mp4 (input), out/enhanced.mp4 and out/before-after.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source pipelines/common.sh
mkdir -p out

# 10 s of 1280x720 at 30 fps: a moving pattern darkened to about 18% mean
# luma, with sensor-like noise, and a tone so the audio path is used.
gst-launch-1.0 -q -e \
  videotestsrc num-buffers=300 pattern=smpte horizontal-speed=2 \
    ! video/x-raw,width=1280,height=720,framerate=30/1 \
    ! compositor name=mix sink_1::alpha=0.08 ! videobalance contrast=0.3 brightness=-0.08 \
    ! videoconvert ! x264enc speed-preset=faster bframes=0 ! h264parse ! queue ! mux. \
  videotestsrc num-buffers=300 pattern=snow ! video/x-raw,width=1280,height=720,framerate=30/1 ! mix. \
  audiotestsrc num-buffers=430 freq=220 volume=0.2 ! audioconvert ! avenc_aac ! queue ! mux. \
  mp4mux name=mux ! filesink location=out/dark.mp4

bash pipelines/mp4-reencode.sh out/dark.mp4 out/enhanced.mp4 >/dev/null

# Frame 150 of the input, left as it is and right enhanced.
gst-launch-1.0 -q -e \
  filesrc location=out/dark.mp4 ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGBx \
    ! videorate drop-only=true ! tee name=t \
  t. ! queue ! mix.sink_0 \
  t. ! queue ! "${ENHANCE[@]}" ! mix.sink_1 \
  compositor name=mix sink_1::xpos=1280 ! videoconvert ! pngenc snapshot=false \
    ! multifilesink location=out/.frame-%03d.png max-files=200 >/dev/null
mv out/.frame-150.png out/before-after.png
rm -f out/.frame-*.png

echo "demo: out/dark.mp4 (input), out/enhanced.mp4 (enhanced), out/before-after.png (frame 150, left input, right enhanced)"
