#!/usr/bin/env bash
# Sets up, builds (sanitizer build, in build-san/) and runs every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
# Linux's KVM selftests (fetched and built once, cached outside git) for the kvm_selftests test
tools/selftests/build.sh >/dev/null
SKVM_BUILD_DIR=build-san tools/build.sh -DSKVM_SANITIZE=ON
ctest --test-dir build-san --output-on-failure -j"$(nproc)"
