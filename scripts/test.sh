#!/usr/bin/env bash
# Installs whatever is missing, then runs every test:
#   0. cargo fmt --check and clippy (native and wasm32), warnings as errors; the
#      layers (no import circle, no JavaScript binding below the wasm shell)
#   1. native: usage-core, usage-client (the module's rules), usage-server (real
#      binary, SQLite and PostgreSQL); the server's OpenAPI document validated and
#      Schemathesis run against the real server from it
#   2. the WebAssembly module (tests/web.rs) in Node, and in a page and a dedicated
#      worker of each engine: headless Chromium, headless Firefox ESR and WebKitGTK's
#      MiniBrowser (under Xvfb), against the real usage server and a fault-injecting
#      proxy on loopback
#   3. the npm package from JavaScript: Node ESM and CJS, a page and a Worker in
#      Chromium, and a strict TypeScript check of every export; the packed tarball
#      through publint, attw, tsc (bundler, node16) and apps built by webpack 5,
#      esbuild and Rollup (tests/package/); its delivery guarantees and a keyless
#      registration in Chromium, Firefox and WebKit (WebDriver)
#   4. the demo (www/): a strict TypeScript check, the Vite build, and the converter
#      and dashboard in headless Chromium against usage-server --static; the
#      converter in Firefox ESR and WebKitGTK too
#   5. the container image built with podman and run: SQLite in a volume across
#      restarts and SIGTERM, and PostgreSQL on the host
#   6. the benchmarks' smoke run (scripts/bench.sh --smoke): counts checked, not speed
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export USAGE_SETUP_DONE=1
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export USAGE_TEST_REQUIRE_POSTGRES=1 # setup.sh installed it: never skip
export USAGE_TEST_REQUIRE_PROMETHEUS=1 # the same
source scripts/lib.sh
# Each step's header says when it started (seconds since the first), so a slow
# CI run shows which step grew.
started=$SECONDS
step() { printf '\n\033[1m== [%4ds] %s\033[0m\n' "$((SECONDS - started))" "$*" >&2; }

step "formatting, lints and docs (cargo fmt --check, clippy and rustdoc with -D warnings)"
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --target wasm32-unknown-unknown -p usage-telemetry --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --quiet

step "layers: no import circle; only the wasm shell can name a JavaScript type"
node scripts/check-module-cycles.mjs
for crate in usage-client usage-core usage-server; do
  if cargo tree --locked -p "$crate" -e normal --prefix none | grep -E '^(wasm-bindgen|js-sys|web-sys) '; then
    echo "$crate depends on a JavaScript binding crate: only the root crate may" >&2
    exit 1
  fi
done

step "native tests (cargo test --workspace)"
cargo test --workspace --locked

step "the HTTP API against its OpenAPI document (openapi-spec-validator, Schemathesis, docs/API.md)"
tests/schemathesis/run.sh target/debug/usage-server
openapi_json=$(mktemp)
target/debug/usage-server openapi >"$openapi_json"
node scripts/api-reference.mjs "$openapi_json" --check
rm -f "$openapi_json"

step "npm package (scripts/build-pkg.sh) within its size budget (size-budget.txt)"
./scripts/build-pkg.sh
total=$(awk '/^web total/ { print $(NF-3) }' pkg/SIZES.txt)
budget=$(grep -v '^#' size-budget.txt)
if [ "$total" -gt "$budget" ]; then
  echo "the web build weighs $total bytes gzip -9, over its budget of $budget (size-budget.txt)" >&2
  exit 1
fi

step "start the usage server and the fault-injecting proxy on loopback"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
server=target/debug/usage-server
export USAGE_DATABASE_URL="sqlite://$work/usage.db"
keys=$("$server" keys create --name module-tests)
export USAGE_TEST_PUBLIC_KEY=$(json_field publicKey "$keys") USAGE_TEST_SECRET_KEY=$(json_field secretKey "$keys")
# A licence whose monthly limit is 0: every billable event is over it.
keys=$("$server" keys create --name over-limit --monthly-limit 0)
export USAGE_TEST_LIMITED_PUBLIC_KEY=$(json_field publicKey "$keys") USAGE_TEST_LIMITED_SECRET_KEY=$(json_field secretKey "$keys")
export USAGE_TEST_ADMIN_TOKEN=$(json_field token "$("$server" admin create-token --name module-tests)")
# A licence allowed on one site only: Remotion's published client reads the answer elsewhere.
keys=$("$server" keys create --name allowed-elsewhere --allowed-origin https://licensee-only-site.com)
export USAGE_TEST_ALLOWED_ELSEWHERE_PUBLIC_KEY=$(json_field publicKey "$keys")
RUST_LOG=warn "$server" serve --addr 127.0.0.1:0 >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
export USAGE_SERVER_URL=$(listening_url "$work/server.out" "$!")
node tests/support/fault-server.mjs --upstream "$USAGE_SERVER_URL" >"$work/fault.out" 2>&1 &
pids+=($!)
export FAULT_SERVER_URL=$(listening_url "$work/fault.out" "$!")
echo "usage server $USAGE_SERVER_URL, fault proxy $FAULT_SERVER_URL" >&2

export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/support/webdriver.json"
# wasm_test [WRAPPER…]: tests/web.rs, optionally run under a wrapper such as xvfb-run.
wasm_test() { "$@" cargo test --locked --target wasm32-unknown-unknown -p usage-telemetry --test web; }
step "tests/web.rs in Node"
wasm_test
step "tests/web.rs in headless Chromium (a page)"
WASM_BINDGEN_USE_BROWSER=1 wasm_test
step "tests/web.rs in headless Chromium (a dedicated worker)"
WASM_BINDGEN_USE_DEDICATED_WORKER=1 wasm_test
# The runner picks GECKODRIVER, then SAFARIDRIVER, then CHROMEDRIVER.
gecko="$HOME/.cargo/bin/geckodriver"
step "tests/web.rs in headless Firefox ESR $(firefox-esr --version 2>/dev/null | awk '{ print $NF }') (a page, a dedicated worker)"
GECKODRIVER=$gecko WASM_BINDGEN_USE_BROWSER=1 wasm_test
GECKODRIVER=$gecko WASM_BINDGEN_USE_DEDICATED_WORKER=1 wasm_test
# WebKitWebDriver speaks the protocol the runner uses for safaridriver; with no
# capabilities it drives WebKitGTK's MiniBrowser, which needs a display: Xvfb.
step "tests/web.rs in WebKitGTK's MiniBrowser under Xvfb (a page, a dedicated worker)"
SAFARIDRIVER=/usr/bin/WebKitWebDriver WASM_BINDGEN_USE_BROWSER=1 wasm_test xvfb-run -a
SAFARIDRIVER=/usr/bin/WebKitWebDriver WASM_BINDGEN_USE_DEDICATED_WORKER=1 wasm_test xvfb-run -a

step "the npm package from JavaScript (node --test tests/js) and TypeScript"
npm install --prefix tests/js --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 tests/js/
tests/js/node_modules/.bin/tsc -p tests/js/tsconfig.json
echo "tsc --noEmit --strict: every export type-checks" >&2

step "the packed package: publint, attw, tsc (bundler, node16), webpack 5, esbuild and Rollup apps in Chromium, Node ESM and CJS"
tests/package/run.sh "$server"

step "the module's guarantees in every engine through WebDriver (Chromium, Firefox ESR, WebKitGTK under Xvfb)"
xvfb-run -a node --test --test-concurrency=1 tests/js/engines.mjs

step "the demo in www/: tsc, Vite build, converter and dashboard in headless Chromium"
npm ci --prefix www --no-audit --no-fund --loglevel=error
(cd www && ./node_modules/.bin/tsc --noEmit && ./node_modules/.bin/vite build --logLevel warn)
echo "tsc --noEmit --strict: the demo type-checks; vite build: www/dist" >&2
USAGE_SERVER_BIN="$PWD/$server" node --test --test-concurrency=1 www/tests/
step "the demo's converter in Firefox ESR and WebKitGTK through WebDriver (screenshots in test-output/)"
USAGE_SERVER_BIN="$PWD/$server" xvfb-run -a node --test --test-concurrency=1 www/tests/engines.mjs

step "deployment: the Prometheus example and its alerts (promtool), the container image run with podman"
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/alerts.test.yml
./scripts/image.sh
node --test --test-concurrency=1 tests/container/

step "benchmark smoke run (scripts/bench.sh --smoke): the bench code runs and its counts are right"
./scripts/bench.sh --smoke >/dev/null
echo "bench smoke: ingestion and reads counted exactly; figures in test-output/bench-smoke.md" >&2
echo "every step passed, in $((SECONDS - started)) s after setup" >&2
