#!/usr/bin/env bash
# Installs what the tests and the demo need, and only what is missing. Idempotent:
# on a set-up machine it installs nothing and takes a few seconds.
#
#   Rust target wasm32-unknown-unknown           rustup
#   Rust target x86_64-unknown-linux-musl        rustup; the container image's static build
#   wasm-bindgen-cli (= the version in Cargo.lock) cargo install, before wasm-pack runs
#   wasm-pack (pinned)                            cargo install
#   wasm-opt (npm binaryen, pinned in tools/)     npm ci; Debian's v108 breaks the module
#   esbuild (npm, pinned in tools/)               npm ci; minifies the web build's JavaScript
#   standardwebhooks (npm, pinned in tools/)      npm ci; verifies webhook signatures in tests
#   Chromium + ChromeDriver, PostgreSQL, curl, wrk apt-get (Debian's packages)
#   Prometheus (2.42)                             apt-get; a test scrapes the server with it
#   podman, runc, musl-tools                      apt-get; scripts/image.sh and its test
#   Firefox ESR, WebKitGTK's WebKitWebDriver      apt-get (firefox-esr, webkit2gtk-driver,
#     + MiniBrowser and GStreamer plugins, Xvfb    gstreamer1.0-*, xvfb, xauth): the
#                                                  other two engines
#   geckodriver (pinned)                          cargo install
#   Schemathesis, openapi-spec-validator (pinned  python3 -m venv tools/python + pip
#     in tools/requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.36.0
log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export PATH="$HOME/.cargo/bin:$PATH"

# --- Debian packages -------------------------------------------------------------
apt_packages=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # The package would create and start a system-wide cluster; the tests start their
  # own, so ask Debian not to.
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  apt_packages+=(postgresql)
fi
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || apt_packages+=(chromium-driver)
# Firefox and WebKit for the browser suites in every engine (scripts/test.sh).
[ -x /usr/bin/firefox-esr ] || apt_packages+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] || apt_packages+=(webkit2gtk-driver)
# WebKitGTK's WebCodecs run on GStreamer: without the plugins it recommends, the
# demo's conversions lose their video in WebKit.
for package in gstreamer1.0-gl gstreamer1.0-libav gstreamer1.0-plugins-bad libgl1-mesa-dri; do
  dpkg -s "$package" >/dev/null 2>&1 || apt_packages+=("$package")
done
command -v xvfb-run >/dev/null || apt_packages+=(xvfb)
command -v xauth >/dev/null || apt_packages+=(xauth)
command -v curl >/dev/null || apt_packages+=(curl)
command -v wrk >/dev/null || apt_packages+=(wrk) # HTTP load for scripts/bench.sh
command -v prometheus >/dev/null || apt_packages+=(prometheus) # scrapes --metrics-addr in a test
# The container image: podman builds and runs it (runc: crun fails on this kernel's
# hybrid cgroups); musl-gcc compiles the static build's C (SQLite, ring).
command -v podman >/dev/null || apt_packages+=(podman)
command -v runc >/dev/null || apt_packages+=(runc)
command -v musl-gcc >/dev/null || apt_packages+=(musl-tools)
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

# --- Rust tools ------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  log "adding the x86_64-unknown-linux-musl target (the container image)"
  rustup target add x86_64-unknown-linux-musl
fi
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ] \
   || ! command -v wasm-bindgen-test-runner >/dev/null; then
  log "installing wasm-bindgen-cli $bindgen_version (about 2 minutes)"
  cargo install --quiet --force wasm-bindgen-cli --version "$bindgen_version"
fi
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
  log "installing wasm-pack $WASM_PACK_VERSION (about 2 minutes)"
  cargo install --quiet --force --locked wasm-pack --version "$WASM_PACK_VERSION"
fi

if [ "$(geckodriver --version 2>/dev/null | awk 'NR == 1 { print $2 }')" != "$GECKODRIVER_VERSION" ]; then
  log "installing geckodriver $GECKODRIVER_VERSION (about 2 minutes)"
  cargo install --quiet --force geckodriver --version "$GECKODRIVER_VERSION"
fi

# --- npm tools (pinned in tools/package-lock.json) --------------------------------
if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ ! -x tools/node_modules/.bin/esbuild ] ||
  [ tools/package-lock.json -nt tools/node_modules/.package-lock.json ]; then
  log "installing pinned npm tools (binaryen, esbuild, standardwebhooks)"
  npm ci --prefix tools --no-audit --no-fund --loglevel=error
fi

# --- Python tools (pinned in tools/requirements.txt): Schemathesis, openapi-spec-validator
if [ ! -x tools/python/bin/schemathesis ] || [ tools/requirements.txt -nt tools/python/.installed ]; then
  log "installing pinned Python tools (schemathesis, openapi-spec-validator; about a minute)"
  python3 -m venv tools/python || { as_root apt-get install -y -qq python3-venv >/dev/null && python3 -m venv tools/python; }
  tools/python/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
  touch tools/python/.installed
fi
log "ready"
