#!/usr/bin/env bash
# Installs the Debian packages the stack tests use when they are missing: prometheus (with
# promtool) and docker-compose (static validation of docker-compose.yml only). Neither service
# is started; the tests run their own Prometheus on loopback.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The stack tests need: ${need[*]}. Install them with your package manager, then run npm test again." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
echo "Installing Debian packages for the stack tests: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
