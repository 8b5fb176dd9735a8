-- The reference app's schema at the head of its migration history (0005_message_v2; the last
-- schema change is 0004_task_status_check, 0005 only rewrites saved_agent_message.data),
-- as a freshly created database would have it. CI checks that running every plugin from
-- scratch yields exactly this schema.
CREATE TABLE agent(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL);

CREATE TABLE task(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'running', 'done', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    updated_at TEXT);
CREATE INDEX task_agent_idx ON task(agent_id);
CREATE INDEX task_priority_idx ON task(priority DESC, created_at);
CREATE TRIGGER task_touch AFTER UPDATE OF status ON task
BEGIN
    UPDATE task SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

CREATE TABLE saved_agent_message(
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX saved_agent_message_task_idx ON saved_agent_message(task_id, created_at);

CREATE TABLE agent_tool(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    UNIQUE(agent_id, name));

CREATE VIEW open_task AS
    SELECT id, agent_id, title, priority, created_at FROM task WHERE status = 'open';
