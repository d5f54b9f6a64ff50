#!/usr/bin/env bash
# Where the web build's bytes go: twiggy (installed here when missing, pinned) on
# the release module after wasm-bindgen and before wasm-opt (import names still
# long), items summed by crate and by module of this workspace. Reproduces the
# size tables in docs/SIZE.md:
#   ./scripts/size-profile.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${USAGE_SETUP_DONE:-}" = 1 ] || ./scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
source scripts/lib.sh
TWIGGY_VERSION=0.8.0
if [ "$(twiggy --version 2>/dev/null | awk '{ print $2 }')" != "$TWIGGY_VERSION" ]; then
  echo "installing twiggy $TWIGGY_VERSION (about a minute)" >&2
  cargo install --quiet --force twiggy --version "$TWIGGY_VERSION"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --quiet --locked --profile wasm-release --target wasm32-unknown-unknown -p usage-telemetry --features global-allocator
wasm-bindgen --target web --out-dir "$out" target/wasm32-unknown-unknown/wasm-release/usage_telemetry.wasm
# What scripts/build-pkg.sh does to the web build (scripts/lib.sh).
cp "$out/usage_telemetry_bg.wasm" "$out/opt.wasm"
cp "$out/usage_telemetry.js" "$out/glue.js"
optimise_wasm "$out/opt.wasm" "$out/glue.js"
echo "after wasm-opt and short names (as pkg/web/ has it): $(wc -c < "$out/opt.wasm") bytes, $(gzip -9c "$out/opt.wasm" | wc -c) gzip -9"
twiggy top -n 1000000 --format csv "$out/usage_telemetry_bg.wasm" > "$out/top.csv"
node - "$out/top.csv" "${1:-30}" <<'JS'
const [file, rows] = process.argv.slice(2);
const lines = require('node:fs').readFileSync(file, 'utf8').trim().split('\n').slice(1);
const sums = new Map();
for (const line of lines) {
  const match = line.match(/^"?(.*?)"?,(\d+),/);
  if (!match) continue;
  const [, name, size] = match;
  if (/function names|custom section/.test(name)) continue;
  const bare = name.replace(/^[<&]+(mut )?/, '');
  let key = (bare.match(/^[A-Za-z_0-9]+/) || [name.slice(0, 30)])[0];
  // Standard library and workspace items by module: core::fmt, usage_telemetry::outbox.
  if (['core', 'alloc', 'std', 'usage_telemetry', 'usage_core', 'usage_client'].includes(key)) {
    const module = bare.replace(/\[[0-9a-f]+\]/g, '').match(/^[a-z_]+::([a-z_0-9]+)/);
    if (module) key += '::' + module[1];
  }
  sums.set(key, (sums.get(key) || 0) + Number(size));
}
const total = [...sums.values()].reduce((a, b) => a + b, 0);
console.log(`${'bytes'.padStart(8)}  part (before wasm-opt; total ${total})`);
for (const [key, size] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(rows))) {
  console.log(`${String(size).padStart(8)}  ${key}`);
}
JS
