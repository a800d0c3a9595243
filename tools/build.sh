#!/usr/bin/env bash
# Configures and builds softkvm into build/ (or $SKVM_BUILD_DIR). Extra args go to cmake configure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SKVM_BUILD_DIR:-build}
WERROR=OFF; [ "${CI:-}" = "true" ] && WERROR=ON
cmake -S . -B "$BUILD" -DSKVM_WERROR=$WERROR "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
