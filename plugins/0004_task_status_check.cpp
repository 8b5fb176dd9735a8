// Reference app, revision 4: `task.status` and `task.priority` get CHECK constraints.
//
// SQLite's ALTER TABLE cannot add a constraint, so this is the table-rebuild procedure
// (https://www.sqlite.org/lang_altertable.html#otheralter), done the safe way:
// - MIG_FLAG_FOREIGN_KEYS_OFF: the host turns foreign keys off before its transaction (a
//   no-op inside one), so dropping the old table cascades nothing, and runs
//   foreign_key_check before COMMIT;
// - legacy_alter_table=ON for the rename, so the `open_task` view, which names `task`, is
//   left as it is instead of failing the rename;
// - rowids (the INTEGER PRIMARY KEY) are copied, so every reference to a task stays valid;
// - the table's indexes and trigger, dropped with the old table, are recreated.
// A row that violates a new CHECK fails the INSERT, and the host rolls everything back.
#include <migrator/plugin.hpp>

namespace {

const char* const kIndexesAndTrigger = R"sql(
CREATE INDEX task_agent_idx ON task(agent_id);
CREATE INDEX task_priority_idx ON task(priority DESC, created_at);
CREATE TRIGGER task_touch AFTER UPDATE OF status ON task
BEGIN
    UPDATE task SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
)sql";

void rebuild(migrator::Host& db, const char* create_new) {
    db.exec(create_new);
    db.exec(R"sql(
INSERT INTO task_new(id, agent_id, title, status, created_at, priority, updated_at)
    SELECT id, agent_id, title, status, created_at, priority, updated_at FROM task;
DROP TABLE task;
PRAGMA legacy_alter_table = ON;
ALTER TABLE task_new RENAME TO task;
PRAGMA legacy_alter_table = OFF;
)sql");
    db.exec(kIndexesAndTrigger);
}

void up(migrator::Host& db) {
    rebuild(db, R"sql(
CREATE TABLE task_new(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'running', 'done', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    updated_at TEXT);
)sql");
}

void down(migrator::Host& db) {
    rebuild(db, R"sql(
CREATE TABLE task_new(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT);
)sql");
}

}  // namespace

MIGRATOR_PLUGIN("0004_task_status_check", "0003_agent_tools",
                "CHECK constraints on task.status and task.priority (table rebuild)",
                MIG_FLAG_FOREIGN_KEYS_OFF, up, down)
