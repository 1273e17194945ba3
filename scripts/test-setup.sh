#!/usr/bin/env bash
# Installs what the tests need beyond the npm packages, when it is missing (npm runs this before
# `npm test`): Debian's Azure SDKs for the system python3 (the compatibility tests), strace (the
# durability test traces fsyncs), flock (task ledgers), PostgreSQL's server binaries (the PostgreSQL
# tests start throwaway servers of their own, docs/postgres.md). Runs as root, as the tests and a node
# agent do. Idempotent: with everything present it only checks.
#   --check   print the Debian packages that would be installed, one a line, and install nothing
set -euo pipefail
python=${KILN_TEST_PYTHON:-/usr/bin/python3}
missing=()
"$python" -c 'import azure.storage.blob, azure.multiapi.storage' 2>/dev/null || missing+=(python3-azure-storage python3-azure-multiapi-storage)
command -v strace >/dev/null || missing+=(strace)
command -v flock >/dev/null || missing+=(util-linux)
# Debian installs the server outside PATH, one directory per major version; the tests need initdb and pg_ctl.
postgres_server() {
  local initdb
  for initdb in /usr/lib/postgresql/*/bin/initdb; do [ -x "$initdb" ] && [ -x "${initdb%/initdb}/pg_ctl" ] && return 0; done
  return 1
}
postgres_server || missing+=(postgresql)
if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test set-up: the tests run node agents, which run as root (they switch users, make OS users and cgroups): run sudo npm test" >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "test set-up: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The postgresql package creates a cluster and starts it: the tests want none running, so keep
# invoke-rc.d from starting services (Debian's policy-rc.d hook; Docker images ship one already).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
"$python" -c 'import azure.storage.blob, azure.multiapi.storage'
postgres_server || { echo 'test set-up: postgresql installed no initdb and pg_ctl under /usr/lib/postgresql/*/bin' >&2; exit 1; }
