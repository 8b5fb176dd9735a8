# Install rules, included from the top-level CMakeLists.txt after every target exists.
#
# Components (one package each, see packaging/CPack.cmake):
#   host           bin/migrator (installed by host/CMakeLists.txt into the default component,
#                  which the top level sets to "host"), the plugin SDK headers in
#                  include/migrator/, and the CMake package in lib/cmake/migrator/.
#   reference_app  the reference app's release: its plugins and schemas under
#                  share/migrator/reference-app/{plugins,schemas}.
#
# Layout (relative to the prefix; /usr for the .deb): see docs/operations.md.
include(GNUInstallDirs)
set(MIGRATOR_REFERENCE_APP_VERSION "${PROJECT_VERSION}" CACHE STRING
    "Version of the migrator-reference-app package (the app release its plugins belong to)")
include(CMakePackageConfigHelpers)

# Arch-independent on purpose: the package holds headers and CMake code only, so it does not
# go to the multiarch lib/<triplet>/ that GNUInstallDirs would pick for /usr.
set(MIGRATOR_INSTALL_CMAKEDIR "lib/cmake/migrator" CACHE STRING
    "Where the CMake package (migratorConfig.cmake) is installed, relative to the prefix")
set(MIGRATOR_INSTALL_REFERENCE_APP_DIR "${CMAKE_INSTALL_DATADIR}/migrator/reference-app" CACHE STRING
    "Where the reference app's plugins/ and schemas/ are installed, relative to the prefix")

# --- host: SDK headers ---------------------------------------------------------------------
# "include", as migrator::plugin_api's INSTALL_INTERFACE says (top-level CMakeLists.txt).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/plugin_api/include/migrator"
    DESTINATION include
    COMPONENT host
    FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

# --- host: CMake package --------------------------------------------------------------------
# migrator::plugin_api, exported from the in-tree target (its INSTALL_INTERFACE include dir).
set_target_properties(migrator_plugin_api PROPERTIES EXPORT_NAME plugin_api)
install(TARGETS migrator_plugin_api EXPORT migratorTargets COMPONENT host)
install(EXPORT migratorTargets
    NAMESPACE migrator::
    DESTINATION "${MIGRATOR_INSTALL_CMAKEDIR}"
    COMPONENT host)

configure_package_config_file(
    "${CMAKE_CURRENT_LIST_DIR}/migratorConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/packaging/migratorConfig.cmake"
    INSTALL_DESTINATION "${MIGRATOR_INSTALL_CMAKEDIR}"
    PATH_VARS CMAKE_INSTALL_BINDIR)
# The package is headers and CMake code: any architecture may use it. Within a major
# version, a newer package serves a project that asked for an older one (0.x: same minor).
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/packaging/migratorConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMajorVersion
    ARCH_INDEPENDENT)
install(FILES
        "${PROJECT_BINARY_DIR}/packaging/migratorConfig.cmake"
        "${PROJECT_BINARY_DIR}/packaging/migratorConfigVersion.cmake"
        # migrator_add_plugin() and the files it finds next to itself (CMAKE_CURRENT_LIST_DIR).
        "${PROJECT_SOURCE_DIR}/plugin_api/cmake/MigratorPlugin.cmake"
        "${PROJECT_SOURCE_DIR}/plugin_api/cmake/MigratorPrune.cmake"
        "${PROJECT_SOURCE_DIR}/plugin_api/cmake/migrator_plugin.map"
    DESTINATION "${MIGRATOR_INSTALL_CMAKEDIR}"
    COMPONENT host)

# --- reference_app: plugins and schemas ------------------------------------------------------
# Every plugin target of plugins/ (MODULE libraries), so a new revision is packaged without
# touching this file. Installed under their checksummed file names.
get_property(_migrator_plugin_dir_targets DIRECTORY "${PROJECT_SOURCE_DIR}/plugins"
    PROPERTY BUILDSYSTEM_TARGETS)
set(_migrator_reference_plugins "")
foreach(_t IN LISTS _migrator_plugin_dir_targets)
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "MODULE_LIBRARY")
        list(APPEND _migrator_reference_plugins ${_t})
    endif()
endforeach()
# The host refuses a plugin directory or file that is group- or world-writable.
install(TARGETS ${_migrator_reference_plugins}
    LIBRARY DESTINATION "${MIGRATOR_INSTALL_REFERENCE_APP_DIR}/plugins"
        PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                    WORLD_READ WORLD_EXECUTE
    COMPONENT reference_app)
# The release manifest (host/manifest.h), written over the installed files themselves: the
# archives are stripped while installing (CPACK_STRIP_FILES), so hashes of the build tree's
# files would not match. REFERENCE_APP_VERSION (scripts/package.sh) names the release.
install(CODE "
    set(_release \"\$ENV{REFERENCE_APP_VERSION}\")
    if(_release STREQUAL \"\")
        set(_release \"${MIGRATOR_REFERENCE_APP_VERSION}\")
    endif()
    execute_process(
        COMMAND \"$<TARGET_FILE:migrator>\" -q
            --plugins \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${MIGRATOR_INSTALL_REFERENCE_APP_DIR}/plugins\"
            manifest --release \"\${_release}\"
        RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR \"migrator manifest failed (\${_rc})\")
    endif()"
    COMPONENT reference_app)
install(FILES "${PROJECT_SOURCE_DIR}/schemas/schema.sql"
    DESTINATION "${MIGRATOR_INSTALL_REFERENCE_APP_DIR}/schemas"
    COMPONENT reference_app)
# `up --dry-run` finds the frozen JSON Schemas at <plugins>/../schemas/frozen by default.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/schemas/frozen"
    DESTINATION "${MIGRATOR_INSTALL_REFERENCE_APP_DIR}/schemas"
    COMPONENT reference_app
    FILES_MATCHING PATTERN "*.json")

# migrator(1), generated from the binary's own --help texts (packaging/make-man.sh), when
# help2man is there (scripts/install-deps.sh installs it).
find_program(MIGRATOR_HELP2MAN help2man)
if(MIGRATOR_HELP2MAN)
    set(_man "${CMAKE_BINARY_DIR}/man/migrator.1")
    add_custom_command(OUTPUT "${_man}"
        COMMAND bash "${PROJECT_SOURCE_DIR}/packaging/make-man.sh" "$<TARGET_FILE:migrator>" "${_man}"
        DEPENDS migrator "${PROJECT_SOURCE_DIR}/packaging/make-man.sh"
        COMMENT "Generating the migrator(1) man page"
        VERBATIM)
    add_custom_target(man ALL DEPENDS "${_man}")
    install(FILES "${_man}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT host)
endif()
