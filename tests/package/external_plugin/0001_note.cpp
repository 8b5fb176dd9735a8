// Revision 1 of an out-of-tree app: a schema step.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) {
    db.exec("CREATE TABLE note(id INTEGER PRIMARY KEY, data TEXT NOT NULL)");
}
static void down(migrator::Host& db) {
    db.exec("DROP TABLE note");
}
MIGRATOR_PLUGIN("0001_note", "", "note table", 0, up, down)
