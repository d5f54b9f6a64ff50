#!/usr/bin/env bash
# Installs whatever is missing, then runs the demo: builds the npm package (pkg/)
# and the pages (www/dist), starts the usage server on SQLite serving both the API
# and the pages from one origin, with a demo licence key and an admin token made on
# first start (kept in .demo/). Ctrl-C stops it; the counts stay in .demo/usage.db.
#   USAGE_SERVER_ADDR=127.0.0.1:9000 ./scripts/demo.sh   # another address
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
./scripts/setup.sh
USAGE_SETUP_DONE=1 ./scripts/build-pkg.sh
npm ci --prefix www --no-audit --no-fund --loglevel=error
(cd www && ./node_modules/.bin/vite build --logLevel warn)

export USAGE_SERVER_ADDR="${USAGE_SERVER_ADDR:-127.0.0.1:8787}"
export USAGE_DATABASE_URL="${USAGE_DATABASE_URL:-sqlite://.demo/usage.db}"
# The demo's secrets and database are its owner's alone (folder 0700, files 0600).
umask 077
mkdir -p .demo
chmod 700 .demo
chmod 600 .demo/* 2>/dev/null || true
cargo build --release --locked -p usage-server
server=target/release/usage-server

# Secrets are printed only once, at creation: keep the demo's in .demo/ (git-ignored).
[ -s .demo/key.json ] || "$server" keys create --name "demo-$(date +%s)" --monthly-limit 1000 > .demo/key.json
[ -s .demo/admin.json ] || "$server" admin create-token --name "demo-$(date +%s)" > .demo/admin.json
source scripts/lib.sh
public_key=$(json_field publicKey "$(cat .demo/key.json)")
secret_key=$(json_field secretKey "$(cat .demo/key.json)")
admin_token=$(json_field token "$(cat .demo/admin.json)")
# The converter page reads the public key from here (absent: it registers as unlicensed).
printf '{"publicKey":"%s"}\n' "$public_key" > www/dist/demo-config.json

url="http://$USAGE_SERVER_ADDR"
cat <<MSG

demo:      $url/
dashboard: $url/dashboard/
public key: $public_key   secret key: $secret_key   admin token: $admin_token

Convert a file (or the built-in sample) on the demo page, then sign in to the
dashboard with the secret key (your licence) or the admin token (every licence,
and the sites using the product without one). Database: $USAGE_DATABASE_URL

MSG
exec "$server" serve --static www/dist
