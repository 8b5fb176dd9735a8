#!/usr/bin/env bash
# Installs what is missing, configures (Ninja) and builds into ./build (or $BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
WERROR="${MIGRATOR_WERROR:-OFF}"
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DMIGRATOR_WERROR="$WERROR" >/dev/null
cmake --build "$BUILD_DIR"
# Plugin directories must not be group/world-writable (the host refuses them); a umask of
# 002 would make them so.
chmod -R go-w "$BUILD_DIR/reference-plugins"
