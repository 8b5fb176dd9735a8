// Reference app, revision 2: tasks get a priority (0 = normal), indexed for the scheduler.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) {
    db.exec(R"sql(
ALTER TABLE task ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX task_priority_idx ON task(priority DESC, created_at);
)sql");
}

static void down(migrator::Host& db) {
    // DROP COLUMN refuses while an index uses the column, so the index goes first.
    db.exec(R"sql(
DROP INDEX task_priority_idx;
ALTER TABLE task DROP COLUMN priority;
)sql");
}

MIGRATOR_PLUGIN("0002_task_priority", "0001_initial", "task priority", 0, up, down)
