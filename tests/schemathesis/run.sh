#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document, on the real server and a fresh
# SQLite database: the document served at /api/openapi.json must validate
# (openapi-spec-validator), and Schemathesis must find nothing with every check
# (no 5xx, no status, header or body the document does not promise, no valid
# request refused but for the rules schemathesis.toml names, no invalid one
# accepted). Run by scripts/test.sh; SCHEMATHESIS_EXAMPLES and SCHEMATHESIS_SEED
# change how much and which data it tries; KEEP_SERVER_LOG=FILE keeps the
# server's log (with RUST_LOG=tower_http=debug, every request) to look into a finding.
#   tests/schemathesis/run.sh [target/debug/usage-server]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
bin=${1:-target/debug/usage-server}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; [ -z "${KEEP_SERVER_LOG:-}" ] || cp "$work/server.log" "$KEEP_SERVER_LOG"; rm -rf "$work"' EXIT
export USAGE_DATABASE_URL="sqlite://$work/usage.db"
key=$("$bin" keys create --name schemathesis)
token=$("$bin" admin create-token --name schemathesis)
export USAGE_ST_SECRET_KEY=$(json_field secretKey "$key")
export USAGE_ST_ADMIN_TOKEN=$(json_field token "$token")
# Rate limits off: Schemathesis sends thousands of requests from one address.
RUST_LOG="${RUST_LOG:-usage_server=info,tower_http=info}" "$bin" serve --addr 127.0.0.1:0 --rate-limit-per-address 0 --rate-limit-per-key 0 >"$work/server.log" 2>&1 &
pid=$!
url=$(listening_url "$work/server.log" "$pid")

curl -sf "$url/api/openapi.json" -o "$work/openapi.json"
tools/python/bin/openapi-spec-validator "$work/openapi.json"

run() {
  tools/python/bin/schemathesis --config-file tests/schemathesis/schemathesis.toml run "$url/api/openapi.json" \
    --checks all --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed "${SCHEMATHESIS_SEED:-1}" \
    --no-color --warnings off "$@"
}
# Reads and registrations first, with the licence whose secret key they use
# intact; then the licence and webhook operations (stateful: create, then read,
# change, rotate, revoke, delete), which may rotate or revoke it.
run --exclude-tag licenses --exclude-tag webhooks --phases examples,coverage,fuzzing
run --include-tag licenses --include-tag webhooks
