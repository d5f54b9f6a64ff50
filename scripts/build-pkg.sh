#!/usr/bin/env bash
# Builds the npm package `usage-telemetry` into pkg/:
#   pkg/web/   wasm-pack --target web (ES module, default export init)
#   pkg/node/  wasm-pack --target nodejs (CommonJS) plus ESM and CJS entry points
#   pkg/package.json  one package: Node gets node/, browsers and bundlers web/
# then optimises both .wasm files with the pinned wasm-opt and prints their sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${USAGE_SETUP_DONE:-}" = 1 ] || ./scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
source scripts/lib.sh

rm -rf pkg
for target in web nodejs; do
  out=$([ "$target" = nodejs ] && echo node || echo web)
  wasm-pack --log-level warn build --profile wasm-release --target "$target" --out-dir "pkg/$out" --out-name usage_telemetry --no-pack -- --features global-allocator
  # What a page downloads also gets short private names; the Node build keeps
  # wasm-bindgen's.
  if [ "$out" = web ]; then
    optimise_wasm pkg/web/usage_telemetry_bg.wasm pkg/web/usage_telemetry.js \
      pkg/web/usage_telemetry.d.ts pkg/web/usage_telemetry_bg.wasm.d.ts
  else
    optimise_wasm "pkg/$out/usage_telemetry_bg.wasm"
  fi
  rm -f "pkg/$out/.gitignore"
  # wasm-bindgen types its raw exports (InitOutput) with `any`; the package promises none.
  sed -i 's/\bany\b/unknown/g' "pkg/$out/usage_telemetry.d.ts" "pkg/$out/usage_telemetry_bg.wasm.d.ts"
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Node entry points with the same shape as the web build: a no-op init so the same
# code runs in both.
exports=$(node -e 'console.log(Object.keys(require("./pkg/node/usage_telemetry.js")).filter((name) => !name.startsWith("__")).join(", "))')
cat > pkg/node/index.mjs <<JS
import { createRequire } from 'node:module';
const wasm = createRequire(import.meta.url)('./usage_telemetry.js');
export const { ${exports} } = wasm;
/** Node loads the module synchronously; init exists so browser code runs unchanged. */
export default async function init() { return wasm; }
export function initSync() { return wasm; }
JS
# Each export assigned by name, as TypeScript emits CommonJS: Node's ESM loader and
# the type checkers (the types say `export default`) see the same exports.
{
  printf "'use strict';\nObject.defineProperty(exports, '__esModule', { value: true });\n"
  printf "const wasm = require('./usage_telemetry.js');\n"
  for name in ${exports//,/}; do printf "exports.%s = wasm.%s;\n" "$name" "$name"; done
  printf "/** Node loads the module synchronously; init exists so browser code runs unchanged. */\n"
  printf "exports.default = async () => wasm;\nexports.initSync = () => wasm;\n"
} > pkg/node/index.cjs
echo '{ "type": "commonjs" }' > pkg/node/package.json
echo '{ "type": "module" }' > pkg/web/package.json
# Pages, workers and bundlers import index.js: the same exports, usable before init().
# fallback.js stands in where the WebAssembly cannot be used (README, "Content
# Security Policy"); only such pages download it.
cp js/web-entry.js pkg/web/index.js
cp js/fallback.js pkg/web/fallback.js
# What a page downloads is minified, as browser SDKs ship theirs (the glue from 33.8 KB
# to ~11 KB); each file keeps its imports and exports, its types hint for Deno
# (`@ts-self-types`), and gets a source map (with its original text) for the
# browser's developer tools.
for file in pkg/web/usage_telemetry.js pkg/web/index.js; do
  types="./$(basename "$file" .js).d.ts"
  esbuild "$file" --minify --format=esm --sourcemap --sources-content=true --allow-overwrite --log-level=warning \
    --banner:js="/* @ts-self-types=\"$types\" */" --outfile="$file"
done
# The stand-in bakes in the same default endpoint as the module (USAGE_TELEMETRY_ENDPOINT).
baked=$(node -p 'JSON.stringify(process.env.USAGE_TELEMETRY_ENDPOINT ?? null)')
esbuild pkg/web/fallback.js --minify --format=esm --sourcemap --sources-content=true --allow-overwrite --log-level=warning \
  --define:USAGE_TELEMETRY_ENDPOINT="$baked" --outfile=pkg/web/fallback.js
# The entry's types: the module's, but initSync (the entry loads the module's
# JavaScript lazily, so nothing can be synchronous before init()).
node -e '
const fs = require("fs");
const types = fs.readFileSync("pkg/web/usage_telemetry.d.ts", "utf8");
const entry = types.replace(/\/\*\*(?:(?!\*\/)[\s\S])*\*\/\s*export function initSync\([^;]*;\n/, "");
if (entry === types) throw new Error("build-pkg: no initSync declaration in the web types");
fs.writeFileSync("pkg/web/index.d.ts", entry);'
# `require('usage-telemetry')` gets CommonJS types: the same declarations, in a
# .d.cts (TypeScript reads ES-style exports there as the CJS object's properties).
cp pkg/web/usage_telemetry.d.ts pkg/node/index.d.cts
cat > pkg/package.json <<JSON
{
  "name": "usage-telemetry",
  "version": "$version",
  "description": "Usage telemetry for in-browser media tools: register conversions with a licensing server, read usage back.",
  "license": "MIT OR Apache-2.0",
  "keywords": ["telemetry", "usage", "licensing", "metering", "webcodecs", "remotion", "wasm", "webassembly"],
  "repository": { "type": "git", "url": "$(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -1)" },
  "engines": { "node": ">=20" },
  "type": "module",
  "main": "./node/index.cjs",
  "module": "./web/index.js",
  "types": "./node/index.d.cts",
  "exports": {
    ".": {
      "node": {
        "import": { "types": "./web/index.d.ts", "default": "./node/index.mjs" },
        "require": { "types": "./node/index.d.cts", "default": "./node/index.cjs" }
      },
      "types": "./web/index.d.ts",
      "default": "./web/index.js"
    },
    "./usage_telemetry_bg.wasm": "./web/usage_telemetry_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": ["web", "node", "README.md"],
  "sideEffects": ["./node/*.js", "./node/*.cjs", "./node/*.mjs"]
}
JSON
# npm readers get the package's own README, not the project's.
cp js/README.md pkg/README.md

size_report() {
  printf '%-34s %10s %10s\n' "file" "bytes" "gzip -9"
  for file in pkg/web/usage_telemetry_bg.wasm pkg/web/usage_telemetry.js pkg/web/index.js pkg/web/fallback.js pkg/node/usage_telemetry_bg.wasm pkg/node/usage_telemetry.js; do
    printf '%-34s %10d %10d\n' "$file" "$(wc -c < "$file")" "$(gzip -9c "$file" | wc -c)"
  done
  # What a page downloads: the web build's wasm, its glue and the entry (gzip -9);
  # fallback.js only where the WebAssembly cannot be used, instead of the wasm.
  total=0
  for file in pkg/web/usage_telemetry_bg.wasm pkg/web/usage_telemetry.js pkg/web/index.js; do
    total=$((total + $(gzip -9c "$file" | wc -c)))
  done
  printf '%-34s %10s %10d   (budget %s: size-budget.txt)\n' "web total (wasm + glue + entry)" "" "$total" "$(grep -v '^#' size-budget.txt)"
}
echo "== package sizes (reproduce: ./scripts/build-pkg.sh)"
size_report | tee pkg/SIZES.txt
