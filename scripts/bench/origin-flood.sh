#!/usr/bin/env bash
# The vendor's view after a flood of 1,000,000 events from 1,000,000 distinct
# origins, written through the real write path (usage-server bench-load) with the
# default cap on new origins per account and day; then 4 connections for 10 s.
#
#   scripts/bench/origin-flood.sh [USAGE_SERVER_BINARY=target/release/usage-server]
#
# Loopback only; bounded by the load's size and wrk's 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
server=${1:-target/release/usage-server}
dir=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
db="sqlite://$dir/usage.db"
USAGE_DATABASE_URL=$db "$server" keys create --name flooded >/dev/null
admin=$(json_field token "$(USAGE_DATABASE_URL=$db "$server" admin create-token --name bench)")
USAGE_DATABASE_URL=$db "$server" bench-load --events 1000000 --origins 1000000 --days 1 2>/dev/null
"$server" serve --addr 127.0.0.1:0 --database "$db" >"$dir/out" 2>/dev/null &
pid=$!
url=$(listening_url "$dir/out" "$pid")
curl -sf -H "Authorization: Bearer $admin" "$url/api/admin/usage" | python3 -c '
import json, sys
view = json.load(sys.stdin)
licence = view["licenses"][0]
def total(counts): return sum(counts.values())
print("counted", total(licence["totals"]["webcodecConversions"]) + total(licence["totals"]["cloudRenders"]),
      "events; folded into (other origins):", total(licence["foldedOrigins"]))'
echo "distinct origins in the rollups: $(python3 -c "import sqlite3; print(sqlite3.connect('$dir/usage.db').execute('SELECT COUNT(DISTINCT origin) FROM rollup_monthly').fetchone()[0])")"
echo "first admin view after start: $(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $admin" "$url/api/admin/usage") s"
wrk -t1 -c4 -d10s --latency -H "Authorization: Bearer $admin" "$url/api/admin/usage" | grep -E " 50%| 99%|Requests/sec"
echo "server peak RSS: $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status"); database: $(du -sh "$dir" | cut -f1)"
