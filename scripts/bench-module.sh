#!/usr/bin/env bash
# The module's main-thread cost against plain fetch, and the time from a
# conversion's end to its being counted, in headless Chromium against a local
# usage-server on SQLite (tests/js/bench-main-thread.mjs says how it measures).
#
#   ./scripts/bench-module.sh           # 5 runs of 200 registrations per path
#   ./scripts/bench-module.sh --smoke   # 1 run of 20: checks the bench runs
#
# Prints a Markdown section (scripts/bench.sh puts it in docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=false
[ "${1:-}" = --smoke ] && smoke=true
[ "${USAGE_SETUP_DONE:-}" = 1 ] || ./scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
source scripts/lib.sh
export USAGE_SETUP_DONE=1

[ -f pkg/web/usage_telemetry_bg.wasm ] && [ "${BENCH_REBUILD_PKG:-1}" = 0 ] || ./scripts/build-pkg.sh >/dev/null
npm install --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
profile=$($smoke && echo dev || echo release)
cargo build --quiet --locked --profile "$profile" -p usage-server --bin usage-server
server="$PWD/target/$([ "$profile" = dev ] && echo debug || echo release)/usage-server"

work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export USAGE_DATABASE_URL="sqlite://$work/usage.db"
keys=$("$server" keys create --name bench-module)
RUST_LOG=warn "$server" serve --addr 127.0.0.1:0 --rate-limit-per-key 0 >"$work/server.out" 2>"$work/server.log" &
pid=$!
export USAGE_SERVER_URL=$(listening_url "$work/server.out" "$pid" "$work/server.log")
export BENCH_PUBLIC_KEY=$(json_field publicKey "$keys")
if $smoke; then export BENCH_N=20 BENCH_RUNS=1 BENCH_SAMPLES=5; fi
node tests/js/bench-main-thread.mjs >"$work/result.json"

# Every registration of every burst was answered (the script checks); the server
# counted each exactly once.
counted=$(curl -sf "$USAGE_SERVER_URL/api/track/get-usage" -H 'Content-Type: application/json' \
  -d "{\"apiKey\":\"$(json_field secretKey "$keys")\",\"since\":null}" |
  sed -n 's/.*"webcodecConversions":{"billable":[0-9]*,"development":\([0-9]*\).*/\1/p')
node - "$work/result.json" "$counted" "$smoke" <<'JS'
const [file, counted, smoke] = process.argv.slice(2);
const r = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
if (Number(counted) !== r.registrationsMade) {
  console.error(`bench-module: the server counted ${counted} registrations, ${r.registrationsMade} were made`);
  process.exit(1);
}
const ms = (v) => v.toFixed(3);
const m = r.msPerRegistration;
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(1)}×` : 'n/a');
const row = (label, module, plain) =>
  `| ${label} | ${ms(module.total)} ms | ${ms(plain.total)} ms | ${ratio(module.total, plain.total)} | ` +
  `${ms(module.script)} / ${ms(module.fetch)} / ${ms(module.indexedDB)} / ${ms(module.browser + module.gc)} | ` +
  `${ms(plain.script)} / ${ms(plain.fetch)} / ${ms(plain.browser + plain.gc)} |`;
console.log(`### The module on the main thread (headless Chromium)

Main-thread time per registration: V8's sampling profiler (CDP \`Profiler\`, 100 µs) over a burst, its non-idle
samples minus an idle baseline (${r.idleBaselineMs.toFixed(2)} ms), from the run with the median total of ${r.runs}
runs of ${r.n} (paths interleaved). The module: \`trackConversion\` to \`onRegistered\` (queued in IndexedDB,
sent, answer read, removed from the queue); the queue in memory: the same on a page without IndexedDB, so the
difference is what the IndexedDB journal costs. Plain fetch: a \`fetch\` POST of the same body to \`response.json()\`,
what the JavaScript client this module replaces does. Parts: script and wasm / inside \`fetch\` / IndexedDB calls /
the browser's other work on the thread and GC.

| burst | module | plain fetch | module ÷ fetch | module parts | fetch parts |
|---|---|---|---|---|---|
${row(`${r.n} at once (a batch converter)`, m.moduleAtOnce, m.fetchAtOnce)}
${row(`${r.n} one after another`, m.moduleOneByOne, m.fetchOneByOne)}
${row(`${r.n} one after another, the queue in memory (no IndexedDB)`, m.moduleOneByOneInMemory, m.fetchOneByOne)}

From a conversion's end to its registration counted by the local server (answered after its commit), ${r.endToCountedMs.samples}
conversions one after another: median ${r.endToCountedMs.median.toFixed(1)} ms, p95 ${r.endToCountedMs.p95.toFixed(1)} ms,
max ${r.endToCountedMs.max.toFixed(1)} ms (target: under 1 s). The server counted all ${counted} registrations of the run once each.

Reproduce: \`./scripts/bench-module.sh\`${smoke === 'true' ? ' (this was --smoke: 1 run of 20)' : ''}.`);
JS
