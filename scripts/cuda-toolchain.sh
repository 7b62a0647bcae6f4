#!/usr/bin/env bash
# Installs a CUDA 13.4 compiler toolchain (nvcc, NVVM, headers, runtime) from
# PyPI wheels into a virtual environment, so that `--features cuda` builds
# compile on a machine with no GPU and no driver (Debian 12 has no usable
# CUDA toolkit for us, and the CUDA 12 wheels lack nvcc). See
# ../shared/docs/cuda.md and README.md ("CUDA").
#
#   bash scripts/cuda-toolchain.sh          # install (once) and print the env file
#   . "$(bash scripts/cuda-toolchain.sh)"   # install and export PATH, CUDA_HOME, ...
#
# The venv goes to $LOWLIGHT_CUDA_VENV (default .cache/cuda-venv); it writes
# $LOWLIGHT_CUDA_VENV/env.sh with PATH, CUDA_HOME, CUDA_PATH, CUDA_COMPUTE_CAP
# (default 80, keep the caller's value) and CUDARC_CUDA_VERSION. Only the env
# file's path goes to stdout; progress goes to stderr. Linking a CUDA binary
# also needs libcuda.so, which only an NVIDIA driver installs: this toolchain
# is for `cargo check` / `cargo build` of the libraries and for nvcc.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LOWLIGHT_CUDA_VENV:-$PWD/.cache/cuda-venv}
case "$VENV" in /*) ;; *) VENV=$PWD/$VENV ;; esac
PYTHON=${PYTHON:-python3}
WHEELS=(
  nvidia-cuda-nvcc==13.4.92 nvidia-nvvm==13.4.92 nvidia-cuda-crt==13.4.92
  nvidia-cuda-runtime==13.4.92 nvidia-cuda-nvrtc==13.4.92
  nvidia-cuda-cccl nvidia-curand nvidia-cublas==13.4.3.11
)

log() { echo "cuda-toolchain: $*" >&2; }

find_root() {
  # The wheels install under site-packages/nvidia/cu13 (bin/nvcc, include/, lib/).
  local nvcc
  nvcc=$(find "$VENV/lib" -path '*/nvidia/*/bin/nvcc' -type f 2>/dev/null | head -n 1)
  [ -n "$nvcc" ] && dirname "$(dirname "$nvcc")"
}

ROOT=$(find_root || true)
if [ -z "$ROOT" ]; then
  if [ ! -x "$VENV/bin/pip" ]; then
    log "creating $VENV"
    if ! "$PYTHON" -m venv "$VENV" >&2; then
      # Debian/Ubuntu ship venv's pip bootstrap separately.
      if command -v apt-get >/dev/null; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        log "installing python3-venv"
        rm -rf "$VENV"
        $SUDO apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-venv >&2
        "$PYTHON" -m venv "$VENV" >&2
      else
        log "python3 -m venv failed; install Python's venv module and run again"
        exit 1
      fi
    fi
  fi
  log "installing ${WHEELS[*]} (about 1.2 GB)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${WHEELS[@]}" >&2
  ROOT=$(find_root || true)
  if [ -z "$ROOT" ]; then
    log "nvcc not found under $VENV after installing the wheels"
    exit 1
  fi
fi

# Some wheel versions ship nvcc without the execute bit.
chmod +x "$ROOT"/bin/* "$ROOT"/nvvm/bin/* 2>/dev/null || true
# nvcc looks for libdevice and cicc under $CUDA_HOME/nvvm; the nvvm wheel may
# place them beside it rather than inside the same prefix.
if [ ! -e "$ROOT/nvvm/bin/cicc" ]; then
  CICC=$(find "$VENV/lib" -path '*/nvvm/bin/cicc' -type f 2>/dev/null | head -n 1)
  if [ -n "$CICC" ] && [ ! -e "$ROOT/nvvm" ]; then
    ln -s "$(dirname "$(dirname "$CICC")")" "$ROOT/nvvm"
  fi
fi

VERSION=$("$ROOT/bin/nvcc" --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r MAJOR MINOR <<<"$VERSION"
ENV_FILE=$VENV/env.sh
cat >"$ENV_FILE" <<ENV
# Written by scripts/cuda-toolchain.sh: nvcc $MAJOR.$MINOR from PyPI wheels.
export CUDA_HOME='$ROOT'
export CUDA_PATH='$ROOT'
export CUDA_ROOT='$ROOT'
export PATH='$ROOT/bin':"\$PATH"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-80}"
export CUDARC_CUDA_VERSION='$((MAJOR * 1000 + MINOR * 10))'
ENV
log "nvcc $MAJOR.$MINOR at $ROOT/bin/nvcc; environment in $ENV_FILE"
echo "$ENV_FILE"
