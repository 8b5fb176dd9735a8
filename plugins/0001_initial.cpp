// Reference app, revision 1: agents, their tasks, and the messages saved for each task.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) {
    db.exec(R"sql(
CREATE TABLE agent(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL);
CREATE TABLE task(
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL);
CREATE INDEX task_agent_idx ON task(agent_id);
CREATE TABLE saved_agent_message(
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX saved_agent_message_task_idx ON saved_agent_message(task_id, created_at);
)sql");
}

static void down(migrator::Host& db) {
    db.exec(R"sql(
DROP TABLE saved_agent_message;
DROP TABLE task;
DROP TABLE agent;
)sql");
}

MIGRATOR_PLUGIN("0001_initial", "", "agents, tasks and saved agent messages", 0, up, down)
