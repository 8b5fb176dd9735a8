#!/usr/bin/env bash
# The main job on a demo database: builds migrator and the reference app's plugins, creates
# build/demo.db at an old revision (0002_task_priority) filled with realistic rows, runs
# `migrator up` as a local server would at start, then prints status and history.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
BUILD_DIR="${BUILD_DIR:-build}"
M="$BUILD_DIR/bin/migrator"
PLUGINS="$BUILD_DIR/reference-plugins"
DB="${DEMO_DB:-$BUILD_DIR/demo.db}"

rm -f "$DB" "$DB-journal" "$DB-wal" "$DB-shm"
echo "== creating $DB at revision 0002_task_priority"
"$M" --db "$DB" --plugins "$PLUGINS" -q up --to 0002_task_priority >/dev/null
sqlite3 "$DB" <<'SQL'
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
INSERT INTO agent(id, name, created_at)
SELECT i, 'agent-' || i, strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || i || ' hours') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
INSERT INTO task(id, agent_id, title, status, created_at, priority)
SELECT i, 1 + i % 12, 'task ' || i || ': ' || substr('summarise the logs|fix the flaky test|draft release notes|triage new issues', 1 + (i % 4) * 20, 19),
       CASE i % 5 WHEN 0 THEN 'done' WHEN 1 THEN 'running' WHEN 2 THEN 'failed' ELSE 'open' END,
       strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-02', '+' || i || ' minutes'), i % 4
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
INSERT INTO saved_agent_message(id, task_id, created_at, data)
SELECT i, 1 + i % 400, strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-03', '+' || i || ' seconds'),
       json_object(
         'role', CASE i % 4 WHEN 0 THEN 'user' WHEN 1 THEN 'assistant' WHEN 2 THEN 'tool' ELSE 'system' END,
         'content', 'Message ' || i || ' caf' || char(233) || ' ' || hex(randomblob(8 + i % 40)),
         'tool_calls', CASE WHEN i % 4 = 1 THEN json_array(json_object('id', 'call_' || i, 'name', 'search',
                        'arguments', '' || json_object('q', 'query ' || i, 'limit', i % 10))) ELSE json_array() END,
         'created_at', strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-03', '+' || i || ' seconds'),
         'metadata', json_object('model', 'm-7', 'usage', json_object('input_tokens', i * 3, 'output_tokens', i * 7),
                                 'latency_ms', 100.25 + i),
         'legacy_flag', json('true'))
FROM n;
COMMIT;
SQL
echo "== before"
"$M" --db "$DB" --plugins "$PLUGINS" status
sqlite3 "$DB" "SELECT 'rows: agent=' || (SELECT count(*) FROM agent) || ' task=' || (SELECT count(*) FROM task) || ' saved_agent_message=' || (SELECT count(*) FROM saved_agent_message)"
echo "one saved_agent_message.data (v1):"
sqlite3 "$DB" "SELECT data FROM saved_agent_message WHERE id = 5"
echo "== migrator up"
"$M" --db "$DB" --plugins "$PLUGINS" up
echo "== after"
"$M" --db "$DB" --plugins "$PLUGINS" status
"$M" --db "$DB" --plugins "$PLUGINS" history
sqlite3 "$DB" "SELECT 'rows: agent=' || (SELECT count(*) FROM agent) || ' task=' || (SELECT count(*) FROM task) || ' saved_agent_message=' || (SELECT count(*) FROM saved_agent_message) || ' open_task=' || (SELECT count(*) FROM open_task)"
echo "the same saved_agent_message.data (v2):"
sqlite3 "$DB" "SELECT data FROM saved_agent_message WHERE id = 5"
