#!/usr/bin/env bash
# Builds the usage server's container image with podman: a static musl build of
# `usage-server` in a `FROM scratch` image (Containerfile). Nothing is pulled.
#
#   scripts/image.sh                 # builds usage-server:VERSION and :latest, prints size and time
#   scripts/image.sh --save FILE     # also writes an OCI archive (`podman load -i FILE` elsewhere)
#
# Needs podman, musl-tools and the x86_64-unknown-linux-musl target: scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

save=""
if [ "${1:-}" = "--save" ]; then save="${2:?--save needs a file}"; fi

target=x86_64-unknown-linux-musl
version=$(sed -n 's/^version = "\(.*\)"/\1/p' crates/usage-server/Cargo.toml | head -1)
started=$(date +%s)

# rusqlite's bundled SQLite and ring are C: musl-gcc compiles them for musl.
CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release --locked -p usage-server --target "$target"

context=target/image-context
rm -rf "$context"
mkdir -p "$context/data" "$context/tmp"
cp "target/$target/release/usage-server" "$context/usage-server"
strip "$context/usage-server"
# A dynamically linked program names its loader (PT_INTERP); a static one does not.
if readelf --program-headers "$context/usage-server" | grep -q INTERP; then
  echo "image: $context/usage-server is not static" >&2
  exit 1
fi

podman build --quiet --file Containerfile --build-arg "VERSION=$version" \
  --tag "usage-server:$version" --tag usage-server:latest "$context" >/dev/null
if [ -n "$save" ]; then
  rm -f "$save"
  podman save --quiet --format oci-archive --output "$save" "usage-server:$version"
fi

bytes=$(podman image inspect --format '{{.Size}}' "usage-server:$version")
binary=$(stat -c %s "$context/usage-server")
echo "image: usage-server:$version, $bytes bytes (binary $binary bytes), built in $(( $(date +%s) - started )) s${save:+, saved to $save}"
