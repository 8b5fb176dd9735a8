// `migrator new`: writes the next migration plugin from the difference between the chain's
// head schema and the app's latest schema file (and between its current and frozen JSON
// models), so that adding a migration is one command.
//
// The SQL goes through SQLite itself: both schemas are materialized in in-memory databases
// and compared with the normalized model of schema_model.h; statements are taken from
// sqlite_schema of the target. When ALTER TABLE cannot express a change, the table is
// rebuilt with SQLite's 12-step procedure (foreign keys off via MIG_FLAG_FOREIGN_KEYS_OFF,
// foreign_key_check before commit, legacy_alter_table for the rename, indexes, triggers and
// views recreated, rowids and the AUTOINCREMENT counter kept, generated columns never
// copied). A rename is never guessed: a table or column that disappears while another
// appears stops generation unless --rename says what it is (or --allow-drop says it is not).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "status.h"

namespace migrator {

struct NewMigrationOptions {
    std::string name;         // the new revision's name part: [a-z0-9_]+
    std::string schema_file;  // the latest schema DDL (schemas/schema.sql)
    std::string out_dir;      // where the plugin source goes (plugins/)
    std::string cmake_file;   // plugins/CMakeLists.txt to register it in; "" = don't
    std::string models_dir;   // current JSON models, <Model>.json; "" = no model check
    std::string frozen_dir;   // frozen JSON models, updated from models_dir
    // "old:new" table renames, "table.old:new" column renames.
    std::vector<std::string> renames;
    bool allow_drop = false;  // a disappearing table/column next to a new one is a real drop
    bool dry_run = false;     // print the source instead of writing anything
};

Status cmd_new(const GlobalOptions& g, const NewMigrationOptions& o);

// The SQL that turns the schema of `from_ddl` into that of `to_ddl` (both complete DDL
// scripts), exposed for tests. fk_off: the SQL needs MIG_FLAG_FOREIGN_KEYS_OFF (a rebuild or
// a drop). Fails (usage) on a change it must not guess, naming the candidates.
Status schema_change_sql(const std::string& from_ddl, const std::string& to_ddl,
                         const std::vector<std::pair<std::string, std::string>>& table_renames,
                         const std::vector<std::pair<std::string, std::string>>& column_renames,
                         bool allow_drop, std::string& sql, bool& fk_off);

}  // namespace migrator
