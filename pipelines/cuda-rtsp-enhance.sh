#!/usr/bin/env bash
# Live enhancement of an H.264 RTSP camera on the GPU, frames in GPU memory
# from decoder to encoder, served again over RTSP.
# Usage: pipelines/cuda-rtsp-enhance.sh rtsp://CAMERA/... [--display]
#   default    rtspsrc ! nvh264dec ! lowlightenhance ! nvh264enc, served at
#              rtsp://127.0.0.1:8554/enhanced by gst-rtsp-server through its
#              Python binding (packages python3-gi, gir1.2-gst-rtsp-server-1.0)
#   --display  show the enhanced camera on the screen (cudadownload ! autovideosink)
# lowlight-rtsp (pipelines/rtsp-enhance.sh) built with --features cuda also
# runs the element on the GPU (device=auto), with decoding and encoding on
# the CPU.
# Env: NVENC_OPTS, LOWLIGHT_VIDEOSINK, LOWLIGHT_MODEL / LOWLIGHT_OPTS /
# GST_PLUGIN_PATH (see cuda-common.sh and common.sh).
set -euo pipefail
source "$(dirname "$0")/cuda-common.sh"
[ $# -ge 1 ] || die "usage: $0 rtsp://CAMERA [--display]"
URL="$1"; shift
case "$URL" in rtsp://* | rtsps://* | rtspt://*) ;; *) die "$URL is not an rtsp:// URL" ;; esac

SOURCE=(rtspsrc location="$URL" protocols=tcp latency=200 ! "application/x-rtp,media=video,encoding-name=H264"
  ! rtph264depay ! h264parse ! nvh264dec ! "video/x-raw(memory:CUDAMemory),format=NV12")

if [ "${1:-}" = "--display" ]; then
  shift
  [ $# -eq 0 ] || die "--display takes no more options"
  need_element cudadownload
  # shellcheck disable=SC2206
  VSINK=(${LOWLIGHT_VIDEOSINK:-autovideosink})
  exec gst-launch-1.0 "${SOURCE[@]}" ! "${ENHANCE[@]}" ! cudadownload ! videoconvert ! "${VSINK[@]}"
fi
[ $# -eq 0 ] || die "unknown option $1"

need_element nvh264enc
# shellcheck disable=SC2206
ENCODER=(nvh264enc ${NVENC_OPTS:-} ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96)
# gst-rtsp-server's test-launch is not packaged; its Python binding serves
# the same launch line.
python3 - "$URL" "${SOURCE[*]} ! ${ENHANCE[*]} ! ${ENCODER[*]}" <<'PY' || die "serving needs python3-gi and gir1.2-gst-rtsp-server-1.0 (or use --display)"
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
url, launch = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer.new()
server.set_address("127.0.0.1")
server.set_service("8554")
factory = GstRtspServer.RTSPMediaFactory.new()
factory.set_launch("( " + launch + " )")
factory.set_shared(True)
server.get_mount_points().add_factory("/enhanced", factory)
server.attach(None)
print(f"serving {url} enhanced on the GPU at rtsp://127.0.0.1:8554/enhanced", file=sys.stderr)
GLib.MainLoop().run()
PY
