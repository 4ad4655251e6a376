#!/usr/bin/env bash
# Set up sigmascene on a fresh Debian/Ubuntu machine: system libraries for offscreen OpenGL (pyrender via EGL)
# and open3d, the CPU build of torch first (any other torch spec pulls several GB of CUDA packages), then the
# package with every extra. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libegl1 libegl-mesa0 libgl1 libgles2 libgl1-mesa-dri libusb-1.0-0"
# Debian's chromium: the editor's browser tests drive it through Playwright (Playwright's download is not used).
APT_PACKAGES="$APT_PACKAGES chromium"
if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
    fi
fi

PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install -q --disable-pip-version-check -e ".[all]"
