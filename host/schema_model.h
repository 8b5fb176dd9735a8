// A SQLite database's schema as a normalized, comparable model, and a readable diff of two.
//
// Read from SQLite's own pragmas wherever SQLite exposes a fact (columns, keys, indexes,
// collations, table options), and from the stored SQL text only for what it does not expose
// (CHECK constraints, partial-index WHERE clauses, view and trigger bodies), normalized for
// whitespace, identifier quoting and keyword case so that a table created by `CREATE TABLE` and one
// produced by a chain of ALTER TABLEs compare equal when they mean the same.
// Tables and other objects whose names start with "sqlite_" or "migrator_" are excluded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "db.h"
#include "status.h"

namespace migrator {

struct ColumnModel {
    std::string name, type, default_value, collation;
    bool not_null = false, has_default = false, autoincrement = false;
    int pk = 0;      // position in the primary key, 0 = not part of it
    int hidden = 0;  // 0 normal, 2/3 generated (virtual/stored), 1 hidden (virtual tables)
    bool operator==(const ColumnModel&) const = default;
};

struct ForeignKeyModel {
    std::string table, on_update, on_delete, match;
    std::vector<std::string> from, to;
    bool operator==(const ForeignKeyModel&) const = default;
};

struct IndexModel {
    std::string name, table, where;  // where: normalized partial-index condition, "" if none
    bool unique = false;
    std::string origin;  // c (CREATE INDEX), u (UNIQUE constraint), pk
    std::vector<std::string> keys;  // "name|expr COLLATE x DESC" per key column
    bool operator==(const IndexModel&) const = default;
};

struct TableModel {
    std::string name;
    std::vector<ColumnModel> columns;
    std::vector<ForeignKeyModel> foreign_keys;  // sorted
    std::vector<std::string> checks;            // normalized CHECK expressions, sorted
    bool without_rowid = false, strict = false, is_virtual = false;
    std::string virtual_sql;  // normalized CREATE VIRTUAL TABLE text
    bool operator==(const TableModel&) const = default;
};

struct SchemaModel {
    std::map<std::string, TableModel> tables;
    std::map<std::string, IndexModel> indexes;  // by name; auto-indexes keyed "table:autoindex:N"
    std::map<std::string, std::string> views;     // name -> normalized SQL
    std::map<std::string, std::string> triggers;  // name -> normalized SQL
};

Status read_schema(Db& db, SchemaModel& out);

struct SchemaDifference {
    std::string object;  // e.g. "table task", "index task_agent_idx"
    std::string attribute;
    std::string expected;
    std::string actual;
};

// Differences of `actual` from `expected`; empty when they are the same.
std::vector<SchemaDifference> diff_schema(const SchemaModel& expected, const SchemaModel& actual);
std::string format_diff(const std::vector<SchemaDifference>& d);

// Collapses whitespace and strips quotes from identifiers that need none, outside string
// literals. Exposed for tests.
std::string normalize_sql(const std::string& sql);

// Upper-cases words outside string literals and quoted identifiers: keywords always,
// identifiers too when `identifiers` (SQLite ignores their case; not in views, whose column
// names keep the case they are written with). read_schema applies it to every text of the
// model (with normalize_sql to column types), so that `check` and `migrator new` compare
// schemas the same way; exposed for the texts autogen reads from stored SQL itself.
std::string fold_sql_case(const std::string& s, bool identifiers);

}  // namespace migrator
