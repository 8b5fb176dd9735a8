# migrator_add_plugin(<target> SOURCES <src>... [OUTPUT_DIRECTORY <dir>] [LINK_LIBRARIES <lib>...])
#
# Builds one migration plugin as a MODULE library that:
# - exports exactly one symbol, mig_get_plugin_v1 (version script; hidden visibility;
#   --exclude-libs,ALL so that bundled static libraries are not re-exported or interposed);
# - links with -z defs (an undefined symbol fails the build, not the host at load time) and
#   -z now;
# - gets MIGRATOR_SOURCE_CHECKSUM, the SHA-256 of its sources, which the host records when the
#   revision is applied and uses to detect an edited, already-applied migration;
# - is named <target>-<first 12 hex digits of that checksum>.so: glibc serves a library from
#   its existing mapping when a file of the same name is loaded again, so a changed plugin
#   must never reuse a name. Older builds of the same target are pruned from the directory.
#
# Needs the target migrator::plugin_api (headers), defined by the migrator project or its
# installed package (find_package(migrator), which includes this file from
# <prefix>/lib/cmake/migrator/). The version script and the prune script are found next to
# this file, wherever it is.
set(_MIGRATOR_PLUGIN_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(migrator_add_plugin target)
    cmake_parse_arguments(PARSE_ARGV 1 MIG "" "OUTPUT_DIRECTORY" "SOURCES;LINK_LIBRARIES")
    # The directory of this file even when the caller's directory scope never saw the
    # variable above (e.g. find_package(migrator) called inside a function).
    if(CMAKE_CURRENT_FUNCTION_LIST_DIR)
        set(_MIGRATOR_PLUGIN_CMAKE_DIR "${CMAKE_CURRENT_FUNCTION_LIST_DIR}")
    endif()
    if(NOT MIG_SOURCES)
        message(FATAL_ERROR "migrator_add_plugin(${target}): SOURCES is required")
    endif()
    set(_digests "")
    set(_abs_sources "")
    foreach(_src IN LISTS MIG_SOURCES)
        get_filename_component(_abs "${_src}" ABSOLUTE)
        file(SHA256 "${_abs}" _h)
        string(APPEND _digests "${_h}")
        list(APPEND _abs_sources "${_abs}")
        # Editing the source must re-run configure so the checksum (and file name) follow it.
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_abs}")
    endforeach()
    list(LENGTH _abs_sources _n)
    if(_n EQUAL 1)
        set(_sum "${_h}")
    else()
        string(SHA256 _sum "${_digests}")
    endif()
    string(SUBSTRING "${_sum}" 0 12 _short)

    add_library(${target} MODULE ${_abs_sources})
    target_link_libraries(${target} PRIVATE migrator::plugin_api ${MIG_LINK_LIBRARIES})
    target_compile_definitions(${target} PRIVATE MIGRATOR_SOURCE_CHECKSUM="${_sum}")
    target_compile_features(${target} PRIVATE cxx_std_17)
    set_target_properties(${target} PROPERTIES
        PREFIX ""
        OUTPUT_NAME "${target}-${_short}"
        C_VISIBILITY_PRESET hidden
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON
        MIGRATOR_CHECKSUM "${_sum}")
    target_link_options(${target} PRIVATE
        "LINKER:--version-script=${_MIGRATOR_PLUGIN_CMAKE_DIR}/migrator_plugin.map"
        "LINKER:--exclude-libs,ALL"
        "LINKER:-z,defs"
        "LINKER:-z,now")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS
        "${_MIGRATOR_PLUGIN_CMAKE_DIR}/migrator_plugin.map")
    if(MIG_OUTPUT_DIRECTORY)
        set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${MIG_OUTPUT_DIRECTORY}")
    endif()
    # Two builds of one revision in one directory would be refused as duplicate ids.
    add_custom_command(TARGET ${target} POST_BUILD
        COMMAND "${CMAKE_COMMAND}" -DDIR=$<TARGET_FILE_DIR:${target}>
                -DSTEM=${target} -DKEEP=$<TARGET_FILE_NAME:${target}>
                -P "${_MIGRATOR_PLUGIN_CMAKE_DIR}/MigratorPrune.cmake"
        VERBATIM)
endfunction()
