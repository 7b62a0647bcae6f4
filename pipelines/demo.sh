#!/usr/bin/env bash
# The main job: generate a dark night scene and enhance it.
# Writes out/sample.png and out/sample-enhanced.png.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/lowlight
cargo build --release --bin lowlight --locked -q
mkdir -p out
"$BIN" sample out/sample.png --width 1280 --height 720
MODEL_ARGS=()
# Until the project ships its own trained model, use the authors' weights
# from ../shared when present.
if [ -f ../shared/reference/sgz/weights.safetensors ]; then
  MODEL_ARGS=(--model ../shared/reference/sgz/weights.safetensors)
fi
"$BIN" enhance "${MODEL_ARGS[@]}" out/sample.png out/sample-enhanced.png
echo "demo: wrote out/sample.png (input) and out/sample-enhanced.png (enhanced)"
