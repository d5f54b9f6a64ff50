#!/usr/bin/env bash
# Two builds of usage-server, alternately, on the ingestion load of scripts/bench.sh
# (SQLite on disk, random eventIds, wrk -t2 -c32 -d10s, a fresh database per run):
# what a change costs, measured against run-to-run drift.
#
#   scripts/bench/ab-ingest.sh OLD_BINARY NEW_BINARY [ROUNDS=3]
#
# Prints one line per run: the build, events/s and the server's CPU per event.
# Loopback only; each run is bounded by wrk's 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [ROUNDS]" >&2; exit 2; }

run() { # label binary
  local dir keys pid url before after out n rps
  dir=$(mktemp -d)
  keys=$(USAGE_DATABASE_URL="sqlite://$dir/u.db" "$2" keys create --name bench)
  "$2" serve --addr 127.0.0.1:0 --database "sqlite://$dir/u.db" --rate-limit-per-key 0 >"$dir/out" 2>/dev/null &
  pid=$!
  url=$(listening_url "$dir/out" "$pid")
  before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  out=$(BENCH_KEY=$(json_field publicKey "$keys") wrk -t2 -c32 -d10s -s scripts/bench/register.lua "$url")
  after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  n=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  awk -v label="$1" -v rps="$rps" -v t=$((after - before)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s %s events/s, server CPU %.1f µs/event\n", label, rps, t / hz * 1e6 / n }'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for _ in $(seq "${3:-3}"); do
  run old "$1"
  run new "$2"
done
