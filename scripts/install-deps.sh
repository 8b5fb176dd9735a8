#!/usr/bin/env bash
# Installs the Debian 12 packages migrator needs to build and test. Idempotent: installs only
# what is missing, and runs apt-get update only when it has something to install.
set -euo pipefail

PACKAGES=(
    build-essential cmake ninja-build pkg-config
    libsqlite3-dev sqlite3 python3
    libboost-dev libboost-filesystem-dev
    libsimdjson-dev libfmt-dev libspdlog-dev libcli11-dev libvalijson-dev rapidjson-dev
    libssl-dev
    catch2 help2man
)

missing=()
for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
