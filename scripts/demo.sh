#!/usr/bin/env bash
# Installs whatever is missing, then runs the demo: builds the npm package (pkg/),
# starts the usage server on SQLite with a demo key, and prints the commands to try
# it. Ctrl-C stops it; the counts stay in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
./scripts/setup.sh
USAGE_SETUP_DONE=1 ./scripts/build-pkg.sh

export USAGE_SERVER_ADDR="${USAGE_SERVER_ADDR:-127.0.0.1:8787}"
export USAGE_DATABASE_URL="${USAGE_DATABASE_URL:-sqlite://.demo/usage.db}"
mkdir -p .demo
cargo build --release --locked -p usage-server
server=target/release/usage-server

# The secret key is printed only once, at creation: keep the demo's pair in .demo/.
if [ ! -s .demo/key.json ]; then
  "$server" keys create --name "demo-$(date +%s)" > .demo/key.json
fi
public_key=$(sed -n 's/.*"publicKey":"\([^"]*\)".*/\1/p' .demo/key.json)
secret_key=$(sed -n 's/.*"secretKey":"\([^"]*\)".*/\1/p' .demo/key.json)
url="http://$USAGE_SERVER_ADDR"

cat <<MSG

usage server: $url   database: $USAGE_DATABASE_URL
public key:   $public_key
secret key:   $secret_key

Register a conversion:
  curl -s $url/api/track/register-usage-point -H 'Content-Type: application/json' \\
    -d '{"event":"webcodec-conversion","apiKey":"$public_key","host":"https://customer.com","succeeded":true}'

Or from Node, with the npm package just built in pkg/:
  node -e "require('./pkg').registerUsageEvent({licenseKey:'$public_key',endpoint:'$url',event:'webcodec-conversion',succeeded:true}).then(console.log)"

Read the counts:
  curl -s $url/api/track/get-usage -H 'Content-Type: application/json' \\
    -d '{"apiKey":"$secret_key","since":null}'

MSG
exec "$server" serve
