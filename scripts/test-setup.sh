#!/usr/bin/env bash
# Installs what the tests need beyond the npm packages, when it is missing (npm runs this before
# `npm test`): Debian's Azure SDKs for the system python3 (the compatibility tests), strace (the
# durability test traces fsyncs), flock (task ledgers). Needs root or passwordless sudo, as the
# node agent does. Idempotent: with everything present it only checks.
set -euo pipefail
python=${KILN_TEST_PYTHON:-/usr/bin/python3}
missing=()
"$python" -c 'import azure.storage.blob, azure.multiapi.storage' 2>/dev/null || missing+=(python3-azure-storage python3-azure-multiapi-storage)
command -v strace >/dev/null || missing+=(strace)
command -v flock >/dev/null || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "test set-up: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! sudo -n true 2>/dev/null; then
    echo "test set-up: the tests need root or passwordless sudo (they run node agents, which switch users)" >&2
    exit 1
  fi
  sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
"$python" -c 'import azure.storage.blob, azure.multiapi.storage'
