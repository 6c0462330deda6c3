#!/usr/bin/env bash
# Installs what the observed-traffic tests run: Debian's prometheus package,
# for the prometheus server and promtool (tsdb create-blocks-from
# openmetrics), when either command is missing. The tests start their own
# server on 127.0.0.1 over blocks they write; the package's service is not
# used (nor started on machines without systemd).
#
# Needs root to install; does nothing when both commands are there.
set -euo pipefail

log() { echo "prometheus: $*" >&2; }

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { log "prometheus and promtool are missing; install Debian's prometheus package (needs root)"; exit 1; }
log "installing prometheus from Debian"
apt-get update
# RUNLEVEL=1 keeps invoke-rc.d from starting the package's service where an
# init system would.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y --no-install-recommends prometheus
command -v prometheus >/dev/null && command -v promtool >/dev/null
