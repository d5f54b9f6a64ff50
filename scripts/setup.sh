#!/usr/bin/env bash
# Installs what the tests and the demo need, and only what is missing. Idempotent:
# a second run on a set-up machine installs nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
# PostgreSQL for the PostgreSQL tests. Its package would create and start a system-wide
# cluster; the tests start their own, so ask Debian not to.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  apt_packages+=(postgresql)
fi
command -v curl >/dev/null || apt_packages+=(curl)

if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi
log "ready"
