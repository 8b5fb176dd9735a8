// Reference app, revision 3: per-agent tool configuration, a task `updated_at` kept by a
// trigger, and the `open_task` view the scheduler reads.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) {
    db.exec(R"sql(
CREATE TABLE agent_tool(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    UNIQUE(agent_id, name));
ALTER TABLE task ADD COLUMN updated_at TEXT;
CREATE TRIGGER task_touch AFTER UPDATE OF status ON task
BEGIN
    UPDATE task SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE VIEW open_task AS
    SELECT id, agent_id, title, priority, created_at FROM task WHERE status = 'open';
)sql");
}

static void down(migrator::Host& db) {
    db.exec(R"sql(
DROP VIEW open_task;
DROP TRIGGER task_touch;
ALTER TABLE task DROP COLUMN updated_at;
DROP TABLE agent_tool;
)sql");
}

MIGRATOR_PLUGIN("0003_agent_tools", "0002_task_priority", "agent tools, task updated_at, open_task view",
                0, up, down)
