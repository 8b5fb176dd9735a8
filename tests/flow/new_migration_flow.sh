#!/usr/bin/env bash
# The autogeneration flow end to end, as a developer lives it: change the reference app's
# schema and a JSON model; `check` fails naming the difference; `migrator new` writes the
# migration (SQL + a failing blob stub + the new frozen schema); the stub makes `check` fail
# until it is written; then `check` passes and the new revision migrates a populated DB.
#
#   new_migration_flow.sh MIGRATOR_BIN REPO_DIR REFERENCE_PLUGIN_DIR
set -euo pipefail
M="$1"; REPO="$2"; REF="$3"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$W/src" "$W/plugins" "$W/schemas"
cp -r "$REPO/schemas/." "$W/schemas/"
cp "$REF"/*.so "$W/plugins/"
chmod -R go-w "$W/plugins"
check() { "$M" -q --db "$W/scratch.db" --plugins "$W/plugins" check --schema "$W/schemas/schema.sql" \
    --models "$W/schemas/models" --frozen "$W/schemas/frozen" "$@"; }

# 0. The unchanged app passes.
check >/dev/null || fail "check fails on the unchanged reference app"

# 1. The app changes: a new column and table; a new optional property in its model.
python3 - "$W/schemas" <<'PY'
import json, sys
d = sys.argv[1]
s = open(d + "/schema.sql").read()
s = s.replace("    updated_at TEXT", "    updated_at TEXT,\n    due_at TEXT", 1)
s += "\nCREATE TABLE label(id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL REFERENCES task(id) ON DELETE CASCADE, name TEXT NOT NULL);\n"
open(d + "/schema.sql", "w").write(s)
m = json.load(open(d + "/models/SavedAgentMessage.json"))
m["properties"]["pinned"] = {"type": "boolean"}
json.dump(m, open(d + "/models/SavedAgentMessage.json", "w"), indent=2)
PY
grep -q "due_at" "$W/schemas/schema.sql" || fail "test setup: schema.sql was not changed"

out="$(check 2>&1)" && fail "check passed although schema.sql changed"
grep -q "due_at" <<<"$out" || fail "check does not name the new column: $out"
grep -q "label" <<<"$out" || fail "check does not name the new table: $out"

# 2. Generate the migration.
"$M" -q --plugins "$W/plugins" new task_due_dates --schema "$W/schemas/schema.sql" --out "$W/src" \
    --models "$W/schemas/models" --frozen "$W/schemas/frozen" >"$W/new.out"
SRC="$W/src/0007_task_due_dates.cpp"
[ -f "$SRC" ] || fail "no plugin source written: $(cat "$W/new.out")"
grep -q 'MIGRATOR_PLUGIN_BLOBS("0007_task_due_dates", "0006_frozen_schema_fingerprints"' "$SRC" || fail "wrong revision/parent: $(grep MIGRATOR_PLUGIN "$SRC")"
grep -q 'not implemented' "$SRC" || fail "no failing blob stub"
grep -q '"saved_agent_message", "data", "SavedAgentMessage"' "$SRC" || fail "stub not on saved_agent_message.data"
grep -q 'pinned' "$W/schemas/frozen/SavedAgentMessage.json" || fail "frozen schema not updated"

build_plugin() {
    rm -rf "$W/build"
    cat >"$W/src/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(flow CXX)
set(CMAKE_CXX_STANDARD 20)
add_library(migrator_plugin_api INTERFACE)
add_library(migrator::plugin_api ALIAS migrator_plugin_api)
target_include_directories(migrator_plugin_api INTERFACE "$REPO/plugin_api/include")
include("$REPO/plugin_api/cmake/MigratorPlugin.cmake")
migrator_add_plugin(0007_task_due_dates SOURCES 0007_task_due_dates.cpp OUTPUT_DIRECTORY "$W/built")
CM
    cmake -S "$W/src" -B "$W/build" -G Ninja >/dev/null || fail "configuring the generated plugin"
    cmake --build "$W/build" >/dev/null || fail "building the generated plugin"
    rm -f "$W/plugins"/0007_*.so
    cp "$W"/built/0007_task_due_dates-*.so "$W/plugins/"
    chmod -R go-w "$W/plugins"
}
build_plugin

# 3. The stub fails check until it is written: the populated DBs have messages to migrate.
out="$(check 2>&1)" && fail "check passed with an unwritten blob stub"
grep -q "not implemented" <<<"$out" || fail "check does not say the stub is not implemented: $out"

# 4. Written (here: no stored value needs to change for a new optional property).
python3 - "$SRC" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'err = "not implemented[^;]*;\n    return migrator::BlobResult::error;',
           'return migrator::BlobResult::unchanged;', s)
s = s.replace("std::string& err)", "std::string&)")
open(p, "w").write(s)
PY
grep -q 'not implemented' "$SRC" && fail "test setup: stub still there"
build_plugin
check >/dev/null || fail "check still fails after the stub was written: $(check 2>&1)"

# 5. The new revision migrates a populated DB at the old head; data intact.
DB="$W/app.db"
"$M" -q --db "$DB" --plugins "$W/plugins" up --to 0006_frozen_schema_fingerprints >/dev/null
sqlite3 "$DB" "INSERT INTO agent(id, name, created_at) VALUES (1, 'a', 'now');
  INSERT INTO task(id, agent_id, title, created_at) VALUES (7, 1, 'keep me', 'now');
  INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES (1, 7, 'now', '{\"role\":\"user\",\"content\":[],\"schema_version\":2}');"
"$M" -q --db "$DB" --plugins "$W/plugins" up >/dev/null || fail "up to the generated revision failed"
[ "$(sqlite3 "$DB" 'SELECT revision FROM migrator_version')" = "0007_task_due_dates" ] || fail "not at 0007"
[ "$(sqlite3 "$DB" "SELECT title FROM task WHERE id = 7")" = "keep me" ] || fail "task row lost"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_table_info('task') WHERE name = 'due_at'")" = "1" ] || fail "no due_at"
sqlite3 "$DB" "INSERT INTO label(task_id, name) VALUES (7, 'x')" || fail "no label table"
"$M" -q --db "$DB" --plugins "$W/plugins" down --to 0006_frozen_schema_fingerprints >/dev/null || fail "down failed"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_table_info('task') WHERE name = 'due_at'")" = "0" ] || fail "down kept due_at"
[ "$(sqlite3 "$DB" "SELECT title FROM task WHERE id = 7")" = "keep me" ] || fail "task row lost going down"
echo "ok: check fails on the change, new writes the migration, the stub fails check, then check passes and the DB migrates"
