#!/usr/bin/env bash
# Builds (scripts/build.sh) and packages into $BUILD_DIR/packages (default build/packages):
#   migrator_<version>_<arch>.deb, migrator-<version>-Linux-<arch>.tar.gz
#       the host: bin/migrator, include/migrator/*, lib/cmake/migrator/*   (project version)
#   migrator-reference-app_<app version>_<arch>.deb, migrator-reference-app-<app version>-...tar.gz
#       the reference app's release: share/migrator/reference-app/{plugins,schemas}
# plus -dbgsym .ddeb files with the debug info of the .deb files.
#
# The reference app's package carries the app release's version: REFERENCE_APP_VERSION, or
# the CMake cache variable MIGRATOR_REFERENCE_APP_VERSION (default: the project version).
# GENERATORS overrides the CPack generators ("DEB;TGZ").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
BUILD_DIR="${BUILD_DIR:-build}"
GENERATORS="${GENERATORS:-DEB;TGZ}"
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt"; }
REF_VERSION="${REFERENCE_APP_VERSION:-$(cache_value MIGRATOR_REFERENCE_APP_VERSION)}"

cpack --config "$BUILD_DIR/CPackConfig.cmake" -G "$GENERATORS" \
    -D CPACK_COMPONENTS_ALL=host
# REFERENCE_APP_VERSION also names the release in its plugins' MANIFEST.json (Install.cmake).
REFERENCE_APP_VERSION="$REF_VERSION" cpack --config "$BUILD_DIR/CPackConfig.cmake" -G "$GENERATORS" \
    -D CPACK_COMPONENTS_ALL=reference_app -D CPACK_PACKAGE_VERSION="$REF_VERSION"
rm -rf "$BUILD_DIR/packages/_CPack_Packages"
ls -l "$BUILD_DIR/packages"
