#!/usr/bin/env bash
# What the package costs a page before it converts anything: bytes and
# main-thread time by `load` and by network idle, with and without the package,
# in headless Chromium (tests/js/bench-page-load.mjs says how it measures).
#
#   ./scripts/bench-page-load.sh            # 15 cold loads of each page
#   BENCH_RUNS=3 ./scripts/bench-page-load.sh
#
# Prints a Markdown section for docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${USAGE_SETUP_DONE:-}" = 1 ] || ./scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export USAGE_SETUP_DONE=1
[ -f pkg/web/usage_telemetry_bg.wasm ] && [ "${BENCH_REBUILD_PKG:-1}" = 0 ] || ./scripts/build-pkg.sh >/dev/null
npm install --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
node tests/js/bench-page-load.mjs
