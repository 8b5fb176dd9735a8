#!/usr/bin/env bash
# The app-update flow as a local server lives it: release 1 of the reference app (revisions
# 0001-0003) is installed and started; release 2 (all revisions) is installed over it and
# started; then release 1 is installed again (an app downgrade).
#
#   app_update_flow.sh MIGRATOR_BIN REFERENCE_PLUGIN_DIR
set -euo pipefail
M="$1"; REF="$2"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { sqlite3 "$W/data/app.db" "$1"; }

install_release() {  # the plugin directory of an installed release, replaced whole, sealed
    local release="$1"; shift
    rm -rf "$W/app/plugins"
    mkdir -p "$W/app/plugins"
    for rev in "$@"; do cp "$REF/$rev"-*.so "$W/app/plugins/"; done
    chmod -R go-w "$W/app"
    "$M" --plugins "$W/app/plugins" manifest --release "$release" >/dev/null || fail "manifest of release $release"
}
start() { "$M" --db "$W/data/app.db" --plugins "$W/app/plugins" --events "$W/events.jsonl" --require-manifest start; }
mkdir -p "$W/data"

# Release 1: a new install creates the DB at its head; the app writes rows.
install_release 1 0001_initial 0002_task_priority 0003_agent_tools
start >/dev/null || fail "release 1: first start"
[ "$(q 'SELECT revision FROM migrator_version')" = "0003_agent_tools" ] || fail "release 1: not at its head"
q "INSERT INTO agent(id, name, created_at) VALUES (1, 'planner', 'now');
   INSERT INTO task(id, agent_id, title, status, created_at) VALUES (1, 1, 'ship it', 'open', 'now');
   INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES
     (1, 1, 'now', '{\"role\":\"assistant\",\"content\":\"hi\",\"tool_calls\":[{\"id\":\"c\",\"name\":\"search\",\"arguments\":\"{\\\"q\\\":1}\"}],\"legacy_flag\":true}');"
start >/dev/null || fail "release 1: second start"
grep -q '"event":"finished"' "$W/events.jsonl" || fail "no finished event"

# Release 2 over it: migrated at start, blobs too, history shows both runs.
install_release 2 0001_initial 0002_task_priority 0003_agent_tools 0004_task_status_check 0005_message_v2 \
    0006_frozen_schema_fingerprints
start >/dev/null || fail "release 2: start"
[ "$(q 'SELECT revision FROM migrator_version')" = "0006_frozen_schema_fingerprints" ] || fail "release 2: not at head"
[ "$(q 'SELECT data FROM saved_agent_message WHERE id = 1')" = \
  '{"role":"assistant","content":[{"type":"text","text":"hi"}],"tool_calls":[{"id":"c","function":"search","arguments":{"q":1}}],"schema_version":2}' ] \
  || fail "release 2: blob not migrated: $(q 'SELECT data FROM saved_agent_message WHERE id = 1')"
[ "$(q "SELECT group_concat(revision, ',') FROM (SELECT revision FROM migrator_history WHERE direction = 'up' ORDER BY id)")" = \
  "0001_initial,0002_task_priority,0003_agent_tools,0004_task_status_check,0005_message_v2,0006_frozen_schema_fingerprints" ] || fail "history"
[ "$(q 'SELECT title FROM task WHERE id = 1')" = "ship it" ] || fail "task row lost"

# Release 1 again (downgrade): refused with the "newer than the app" code, data untouched.
before="$(sha256sum "$W/data/app.db")"
# A downgrade done by hand that leaves release 2's files behind: not release 1's set, refused
# by name before anything runs (exit 3), and not answered with a reset.
install_release 1 0001_initial 0002_task_priority 0003_agent_tools
cp "$REF"/0005_message_v2-*.so "$W/app/plugins/"
set +e; out="$(start 2>&1)"; rc=$?; set -e
[ "$rc" = 3 ] || fail "stray plugin: exit $rc, expected 3: $out"
grep -q "0005_message_v2-.*not listed in the release manifest" <<<"$out" || fail "stray plugin: message: $out"
[ "$(sha256sum "$W/data/app.db")" = "$before" ] || fail "stray plugin: DB changed"
# A tampered file of the release: refused by hash (the DB is at release 2's head, so it is
# only caught when it would run: here by an operator's explicit verification).
install_release 1 0001_initial 0002_task_priority 0003_agent_tools
printf 'x' >> "$(ls "$W"/app/plugins/0002_task_priority-*.so)"
set +e; out="$("$M" --plugins "$W/app/plugins" manifest --verify 2>&1)"; rc=$?; set -e
[ "$rc" = 3 ] && grep -q "0002_task_priority.*SHA-256" <<<"$out" || fail "tampered file: exit $rc: $out"
install_release 1 0001_initial 0002_task_priority 0003_agent_tools
set +e; out="$(start 2>&1)"; rc=$?; set -e
[ "$rc" = 4 ] || fail "downgrade: exit $rc, expected 4: $out"
grep -q "newer version of the app" <<<"$out" || fail "downgrade: message: $out"
[ "$(sha256sum "$W/data/app.db")" = "$before" ] || fail "downgrade: DB changed"
[ ! -d "$W/data/app.db.backups" ] || fail "downgrade: a backup/reset happened"
# The operator can still revert with the archived plugins, then release 1 starts.
"$M" -q --db "$W/data/app.db" --plugins "$W/app/plugins" down --to 0003_agent_tools >/dev/null || fail "down from archive"
start >/dev/null || fail "release 1 after revert"
[ "$(q 'SELECT title FROM task WHERE id = 1')" = "ship it" ] || fail "task row lost after revert"
echo "ok: release 1 created the DB, release 2 migrated it (blobs too), a stray file was refused (3), the downgrade was refused (4) and revertible"
