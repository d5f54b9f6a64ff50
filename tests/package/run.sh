#!/usr/bin/env bash
# The npm package as users get it: `npm pack` of pkg/, checked with publint and
# @arethetypeswrong/cli, installed from the tarball, type-checked by a consumer
# under moduleResolution bundler and node16 (ESM and CJS), bundled by webpack 5,
# esbuild and Rollup into apps that register in Chromium against the real server,
# and used from Node ESM and CJS (package.test.mjs).
#   tests/package/run.sh [SERVER_BIN]     (after scripts/build-pkg.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
export USAGE_SERVER_BIN="$PWD/${1:-target/debug/usage-server}"
out=target/package
rm -rf "$out" && mkdir -p "$out"
tarball="$PWD/$out/$(npm pack ./pkg --pack-destination "$out" --loglevel=error | tail -1)"
npm ci --prefix tests/package --no-audit --no-fund --loglevel=error
npm install --prefix tests/package --no-save --no-audit --no-fund --loglevel=error "$tarball"
bin=tests/package/node_modules/.bin
"$bin/publint" run "$tarball" --strict
# The .wasm subpath is an asset for bundlers, not a module: it has no types to check.
"$bin/attw" "$tarball" --exclude-entrypoints usage_telemetry_bg.wasm --format table-flipped
"$bin/tsc" -p tests/package/types/tsconfig.bundler.json
"$bin/tsc" -p tests/package/types/tsconfig.node16.json
echo "publint, attw: clean; tsc (bundler, node16 ESM and CJS): the types resolve and check" >&2
node --test --test-concurrency=1 tests/package/
