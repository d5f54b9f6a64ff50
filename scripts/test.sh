#!/usr/bin/env bash
# Installs whatever is missing, then runs every test: the shared core, the usage
# server against real SQLite and PostgreSQL over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# The PostgreSQL tests must not skip here: setup.sh installed PostgreSQL.
export USAGE_TEST_REQUIRE_POSTGRES=1
echo "== cargo test --workspace (core, server on SQLite and PostgreSQL)" >&2
cargo test --workspace --locked
