#!/usr/bin/env bash
# Sets up, builds and runs the default guest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
exec build/softkvm run --flat build/tests/guests/hello.bin
