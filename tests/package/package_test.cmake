# cmake -P script, run by CTest (see CMakeLists.txt here). Inputs: BUILD_DIR (the migrator
# build), WORK_DIR (scratch, wiped), PROJECT_DIR (external_plugin/), MAKE_PROGRAM (ninja),
# CXX_COMPILER, SQLITE3, BUILT_MIGRATOR (the built binary), VERSION (the project's).
cmake_minimum_required(VERSION 3.25)
foreach(_v BUILD_DIR WORK_DIR PROJECT_DIR MAKE_PROGRAM CXX_COMPILER SQLITE3 BUILT_MIGRATOR VERSION)
    if(NOT DEFINED ${_v})
        message(FATAL_ERROR "package_test.cmake: -D${_v}=... is required")
    endif()
endforeach()

set(STAGE "${WORK_DIR}/stage")
set(EXT_BUILD "${WORK_DIR}/external-build")
set(PLUGINS "${WORK_DIR}/plugins")
set(M "${STAGE}/bin/migrator")

# run(<name> COMMAND ... [EXPECT_RC n] [INPUT_FILE f] [OUT var]): runs a command, fails the
# test with its output unless it exits with EXPECT_RC (0).
function(run name)
    cmake_parse_arguments(PARSE_ARGV 1 R "" "EXPECT_RC;INPUT_FILE;OUT" "COMMAND")
    if(NOT DEFINED R_EXPECT_RC)
        set(R_EXPECT_RC 0)
    endif()
    set(_in "")
    if(R_INPUT_FILE)
        set(_in INPUT_FILE "${R_INPUT_FILE}")
    endif()
    execute_process(COMMAND ${R_COMMAND} ${_in}
        RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
    if(NOT "${_rc}" STREQUAL "${R_EXPECT_RC}")
        string(REPLACE ";" " " _cmd "${R_COMMAND}")
        message(FATAL_ERROR "${name}: expected exit ${R_EXPECT_RC}, got ${_rc}\n"
                            "command: ${_cmd}\nstdout:\n${_out}\nstderr:\n${_err}")
    endif()
    message(STATUS "ok: ${name}")
    if(R_OUT)
        string(STRIP "${_out}" _out)
        set(${R_OUT} "${_out}" PARENT_SCOPE)
    endif()
endfunction()

function(expect name actual expected)
    if(NOT "${actual}" STREQUAL "${expected}")
        message(FATAL_ERROR "${name}: expected\n  ${expected}\ngot\n  ${actual}")
    endif()
    message(STATUS "ok: ${name}")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Stage an install, as a package would lay it out.
run("cmake --install" COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE}")
foreach(_f
        bin/migrator
        include/migrator/plugin_api.h include/migrator/plugin.hpp include/migrator/json_edit.hpp
        lib/cmake/migrator/migratorConfig.cmake lib/cmake/migrator/migratorConfigVersion.cmake
        lib/cmake/migrator/migratorTargets.cmake lib/cmake/migrator/MigratorPlugin.cmake
        lib/cmake/migrator/MigratorPrune.cmake lib/cmake/migrator/migrator_plugin.map
        share/migrator/reference-app/schemas/schema.sql
        share/migrator/reference-app/schemas/frozen/SavedAgentMessage.json)
    if(NOT EXISTS "${STAGE}/${_f}")
        message(FATAL_ERROR "staged install lacks ${_f}")
    endif()
endforeach()
file(GLOB _ref_plugins "${STAGE}/share/migrator/reference-app/plugins/*.so")
file(GLOB _built_ref_plugins "${BUILD_DIR}/reference-plugins/*.so")
list(LENGTH _ref_plugins _n_staged)
list(LENGTH _built_ref_plugins _n_built)
if(_n_staged EQUAL 0 OR NOT _n_staged EQUAL _n_built)
    message(FATAL_ERROR "staged ${_n_staged} reference plugins, built ${_n_built}")
endif()
file(SHA256 "${M}" _staged_sum)
file(SHA256 "${BUILT_MIGRATOR}" _built_sum)
expect("staged binary is the built one" "${_staged_sum}" "${_built_sum}")
run("migrator --version" COMMAND "${M}" --version OUT _ver)
expect("version is ${VERSION}" "${_ver}" "${VERSION}")

# 2. The app team's project: find_package(migrator) from the staging prefix only.
run("configure external_plugin" COMMAND "${CMAKE_COMMAND}"
    -S "${PROJECT_DIR}" -B "${EXT_BUILD}" -G Ninja
    "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_PREFIX_PATH=${STAGE}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
    "-DPLUGIN_DIR=${PLUGINS}")
file(STRINGS "${EXT_BUILD}/CMakeCache.txt" _dir_line REGEX "^migrator_DIR:")
expect("found the staged package" "${_dir_line}" "migrator_DIR:PATH=${STAGE}/lib/cmake/migrator")
run("build external_plugin" COMMAND "${CMAKE_COMMAND}" --build "${EXT_BUILD}")
file(GLOB _ext_plugins "${PLUGINS}/0001_note-????????????.so" "${PLUGINS}/0002_note_body-????????????.so")
list(LENGTH _ext_plugins _n_ext)
expect("two checksum-named plugins" "${_n_ext}" "2")
# The host refuses group/world-writable plugin files and directories (a umask of 002 in CI
# would make them so), as scripts/build.sh does for the reference plugins.
run("chmod go-w" COMMAND chmod -R go-w "${PLUGINS}")

# 3. The staged migrator runs them.
set(DB "${WORK_DIR}/x.db")
run("plan" COMMAND "${M}" --db "${DB}" --plugins "${PLUGINS}" plan OUT _plan)
if(NOT _plan MATCHES "0001_note" OR NOT _plan MATCHES "0002_note_body")
    message(FATAL_ERROR "plan does not list both revisions:\n${_plan}")
endif()
run("up --to 0001_note" COMMAND "${M}" --db "${DB}" --plugins "${PLUGINS}" -q up --to 0001_note)
run("sqlite3: table note exists" COMMAND "${SQLITE3}" "${DB}"
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'note'" OUT _t)
expect("table note" "${_t}" "note")
run("sqlite3: insert a row" COMMAND "${SQLITE3}" "${DB}"
    "INSERT INTO note(id, data) VALUES (1, '{\"text\":\"hi\",\"n\":1e400}')")
file(WRITE "${WORK_DIR}/row.json" "{\"text\": \"hi\"}")
run("blob 0002_note_body" COMMAND "${M}" --plugins "${PLUGINS}" blob 0002_note_body
    INPUT_FILE "${WORK_DIR}/row.json" OUT _blob)
expect("blob output" "${_blob}" "{\"body\":\"hi\",\"v\":2}")
run("up" COMMAND "${M}" --db "${DB}" --plugins "${PLUGINS}" up)
run("verify" COMMAND "${M}" --db "${DB}" --plugins "${PLUGINS}" verify)
run("sqlite3: migrated row" COMMAND "${SQLITE3}" "${DB}" "SELECT data FROM note WHERE id = 1" OUT _row)
expect("migrated row" "${_row}" "{\"body\":\"hi\",\"n\":1e400,\"v\":2}")
run("down --to base" COMMAND "${M}" --db "${DB}" --plugins "${PLUGINS}" -q down --to base)

# 4. The staged reference app release: installed plugins pass the host's safety checks and
#    migrate a new database to head; its frozen schemas sit where --dry-run looks.
set(REF_DB "${WORK_DIR}/ref.db")
set(REF_PLUGINS "${STAGE}/share/migrator/reference-app/plugins")
run("reference app: up" COMMAND "${M}" --db "${REF_DB}" --plugins "${REF_PLUGINS}" -q up)
run("reference app: verify" COMMAND "${M}" --db "${REF_DB}" --plugins "${REF_PLUGINS}" verify)
run("reference app: check --schema" COMMAND "${M}" --plugins "${REF_PLUGINS}" check
    --schema "${STAGE}/share/migrator/reference-app/schemas/schema.sql")
message(STATUS "package test passed")
