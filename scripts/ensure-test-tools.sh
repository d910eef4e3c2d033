#!/usr/bin/env bash
# Installs the Debian packages the tests and the benchmark smoke test use, when missing:
#   prometheus (with promtool)  a real Prometheus scrapes Sluice; promtool checks and tests the rules
#   docker-compose              static validation of docker-compose.yml (no Docker engine needed)
#   redis-server                shared state between Sluice replicas
#   nginx, haproxy, wrk         the reference proxies and the load generator of `npm run bench`
#   valgrind                    callgrind, the instruction count of `npm run bench:instructions`
# No service is left running or enabled: the tests start their own processes on free loopback
# ports. Debian's post-install scripts would start a system Prometheus on :9090, nginx on :80 and
# Redis on :6379 (blocking the compose stack's ports); a policy-rc.d that refuses every start
# keeps them stopped during the install, and the units are disabled afterwards.
# Quiet and idempotent: nothing happens when every tool is there.
set -euo pipefail

# command -> Debian package
declare -A PACKAGE_OF=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [docker-compose]=docker-compose
  [redis-server]=redis-server
  [nginx]=nginx
  [haproxy]=haproxy
  [wrk]=wrk
  [valgrind]=valgrind
  [callgrind_control]=valgrind
)
# Installed packages whose post-install starts a service.
SERVICES=(prometheus redis-server nginx haproxy)

need=()
for command in "${!PACKAGE_OF[@]}"; do
  # nginx and haproxy live in /usr/sbin, which a non-root PATH may lack.
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || need+=("${PACKAGE_OF[$command]}")
done
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need: ${need[*]}. Install them with your package manager (and stop the services they start), then run npm test again." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
echo "Installing Debian packages for the tests, without starting their services: ${need[*]}" >&2

# policy-rc.d exit status 101: "action forbidden", honoured by invoke-rc.d and deb-systemd-invoke.
POLICY="${POLICY_RC_D:-/usr/sbin/policy-rc.d}" # overridable for the script's own test
backup=""
if [ -e "$POLICY" ]; then
  backup="$(mktemp)"
  $SUDO cp -p "$POLICY" "$backup"
fi
restore_policy() {
  if [ -n "$backup" ]; then $SUDO cp -p "$backup" "$POLICY" && rm -f "$backup"; else $SUDO rm -f "$POLICY"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
$SUDO chmod 755 "$POLICY"

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# Belt and braces: stop and disable whatever a post-install managed to start or enable.
for service in "${SERVICES[@]}"; do
  [[ " ${need[*]} " == *" $service "* ]] || continue
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $SUDO service "$service" stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 && { $SUDO update-rc.d "$service" disable >/dev/null 2>&1 || true; }
  fi
done
