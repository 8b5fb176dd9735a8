# Packages, included from the top-level CMakeLists.txt after packaging/Install.cmake.
#
#   cpack --config <build>/CPackConfig.cmake -G "DEB;TGZ"     # both packages, one version
#   scripts/package.sh                                        # the same, each with its version
#
# Two packages, one per install component:
#   migrator                 (component host)          bin/migrator, include/migrator/*,
#                                                       lib/cmake/migrator/*
#   migrator-reference-app   (component reference_app) share/migrator/reference-app/
#                                                       {plugins,schemas}: one app release
# The reference app's package is released with the app, not with the host: its version is
# MIGRATOR_REFERENCE_APP_VERSION, which scripts/package.sh passes to a second cpack run
# (cpack versions all packages of one run alike).
# (MIGRATOR_REFERENCE_APP_VERSION is defined in packaging/Install.cmake, which names the
# release in its manifest.)

set(CPACK_PACKAGE_NAME "migrator")
set(CPACK_PACKAGE_VENDOR "migrator")
set(CPACK_PACKAGE_CONTACT "migrator maintainers <migrator@localhost>")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://example.invalid/migrator")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_SOURCE_GENERATOR "")
# Paths in the packages are not affected by the umask of whoever builds them: the host
# refuses group- or world-writable plugin directories.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_COMPONENTS_ALL host reference_app)
set(CPACK_COMPONENT_HOST_DISPLAY_NAME "migrator host and plugin SDK")
set(CPACK_COMPONENT_HOST_DESCRIPTION
    "The migrator binary, the plugin SDK headers and the CMake package (find_package(migrator)).")
set(CPACK_COMPONENT_REFERENCE_APP_DISPLAY_NAME "migrator reference app release")
set(CPACK_COMPONENT_REFERENCE_APP_DESCRIPTION
    "The reference app's migration plugins and schemas, under share/migrator/reference-app.")

# --- DEB -------------------------------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)                 # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "database")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_HOST_PACKAGE_NAME "migrator")
set(CPACK_DEBIAN_REFERENCE_APP_PACKAGE_NAME "migrator-reference-app")
# First line: the synopsis (CPACK_PACKAGE_DESCRIPTION_SUMMARY is left unset so that CPack does
# not prepend one summary to both packages); the rest: the extended description.
set(CPACK_DEBIAN_HOST_DESCRIPTION "SQLite migration tool with compiled plugin migrations
migrator applies versioned migration plugins (shared libraries behind a stable C ABI)
to a SQLite database in one transaction. This package holds the migrator binary, the
plugin SDK headers (/usr/include/migrator) and the CMake package for building plugins
out of tree: find_package(migrator) and migrator_add_plugin().")
set(CPACK_DEBIAN_REFERENCE_APP_DESCRIPTION "migrator reference app: migration plugins and schemas
One release of the reference app's migration history, for the migrator host: its
plugins in /usr/share/migrator/reference-app/plugins and its schemas (schema.sql and
the frozen JSON Schemas) in /usr/share/migrator/reference-app/schemas.")

# Debug info goes to <name>-dbgsym_<version>_<arch>.ddeb; the .deb files are stripped (the
# plugins' .note.migrator survives stripping). The archives are stripped too (see
# CPackProjectConfig.cmake.in).
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
# Except the reference app: its release manifest holds the SHA-256 of each plugin as
# installed, and the DEB generator would strip the files after that manifest is written. Its
# run strips while installing instead (CPackProjectConfig.cmake.in).
set(CPACK_DEBIAN_REFERENCE_APP_DEBUGINFO_PACKAGE OFF)

# Runtime libraries of the binary (bin/migrator: SQLite, fmt (spdlog is header-only), and
# simdjson where the host links it) and of the reference plugins (0005_message_v2: simdjson).
# dpkg-shlibdeps computes them, with minimum versions and libc6/libstdc++6/libgcc-s1, from
# the ELF files actually packaged. The lists below are the Debian 12 names it finds, used
# where dpkg-shlibdeps is missing.
#
# The reference plugins need a host that speaks plugin ABI 1: any migrator from this version
# on (CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS would pin the host to the app's exact version).
set(CPACK_DEBIAN_REFERENCE_APP_PACKAGE_DEPENDS "migrator (>= ${PROJECT_VERSION})")
find_program(MIGRATOR_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(MIGRATOR_DPKG_SHLIBDEPS)
if(MIGRATOR_DPKG_SHLIBDEPS)
    set(_migrator_shlibdeps_default ON)
else()
    set(_migrator_shlibdeps_default OFF)
endif()
option(MIGRATOR_DEB_SHLIBDEPS "Compute the .deb Depends with dpkg-shlibdeps (else a fixed list)"
    ${_migrator_shlibdeps_default})
# libssl3: the host opens libcrypto.so.3 when it first hashes (host/sha256.cpp), so neither
# the ELF file nor dpkg-shlibdeps names it.
if(MIGRATOR_DEB_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)   # appended to the DEPENDS above
    set(CPACK_DEBIAN_HOST_PACKAGE_DEPENDS "libssl3")
else()
    set(CPACK_DEBIAN_HOST_PACKAGE_DEPENDS
        "libc6, libstdc++6, libgcc-s1, libsqlite3-0, libfmt9, libssl3")
    get_target_property(_migrator_core_libs migrator_core LINK_LIBRARIES)
    if("simdjson::simdjson" IN_LIST _migrator_core_libs)
        string(APPEND CPACK_DEBIAN_HOST_PACKAGE_DEPENDS ", libsimdjson14")
    endif()
    string(APPEND CPACK_DEBIAN_REFERENCE_APP_PACKAGE_DEPENDS
        ", libc6, libstdc++6, libgcc-s1, libsimdjson14")
endif()

# --- TGZ -------------------------------------------------------------------------------------
set(CPACK_ARCHIVE_COMPONENT_INSTALL ON)

# Per-run settings, read at cpack time: archive names from CPACK_PACKAGE_VERSION (which
# scripts/package.sh sets with -D for the reference app), stripping for the archives.
set(CPACK_PROJECT_CONFIG_FILE "${PROJECT_BINARY_DIR}/packaging/CPackProjectConfig.cmake")
configure_file("${CMAKE_CURRENT_LIST_DIR}/CPackProjectConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/packaging/CPackProjectConfig.cmake" @ONLY)

include(CPack)
