#include "autogen.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "chain.h"
#include "check.h"
#include "db.h"
#include "json_models.h"
#include "log.h"
#include "plan.h"
#include "schema_model.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

std::string ql(const std::string& s) {  // string literal
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
}

struct Obj {
    std::string type, name, table, sql;
    std::int64_t order = 0;
};

// A schema: its normalized model plus the stored SQL of every object, by name.
struct Snap {
    SchemaModel model;
    std::map<std::string, Obj> objs;
    std::map<std::string, std::vector<std::string>> vtab_columns;  // virtual tables' visible columns
};

bool excluded(const std::string& n) { return n.rfind("sqlite_", 0) == 0 || n.rfind("migrator_", 0) == 0; }

Status load_snap(const std::string& ddl, const std::string& what, Snap& out) {
    out.objs.clear();  // it is loaded again after renames
    Db db;
    MIG_TRY(Db::open(":memory:", Db::Mode::create, 1000, db));
    MIG_TRY(db.exec(ddl).with_context(fmt::format("{} does not execute: ", what)));
    MIG_TRY(read_schema(db, out.model));
    Stmt s;
    MIG_TRY(db.prepare("SELECT sm.type, sm.name, sm.tbl_name, sm.sql, sm.rowid, coalesce(tl.type, '') "
                       "FROM sqlite_schema sm LEFT JOIN pragma_table_list tl ON tl.schema = 'main' "
                       "AND tl.name = sm.name WHERE sm.sql IS NOT NULL ORDER BY sm.rowid",
                       s));
    Status st;
    while (s.step(st)) {
        Obj o{s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4)};
        if (excluded(o.name) || s.text(5) == "shadow") continue;
        out.objs[o.name] = std::move(o);
    }
    MIG_TRY(st);
    out.vtab_columns.clear();
    for (const auto& [n, t] : out.model.tables) {
        if (!t.is_virtual) continue;
        Stmt c;
        MIG_TRY(db.prepare("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid", c));
        c.bind(1, std::string_view(n));
        auto& cols = out.vtab_columns[n];
        while (c.step(st)) cols.push_back(c.text(0));
        MIG_TRY(st);
    }
    return st;
}

// CREATE VIRTUAL TABLE text with the table's name replaced by `name` (with_table_name takes
// the token before the first '(', which is the module's name there).
std::string with_vtab_name(const std::string& create_sql, const std::string& name) {
    static const std::regex re(R"(^(\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)([\s\S]*?)(\s+USING\b))",
                               std::regex::icase);
    return std::regex_replace(create_sql, re, "$1" + quote_ident(name) + "$3", std::regex_constants::format_first_only);
}

// Reads the whole schema of a DB as DDL, in creation order.
Status dump_ddl(Db& db, std::string& ddl) {
    Stmt s;
    MIG_TRY(db.prepare("SELECT sm.sql FROM sqlite_schema sm LEFT JOIN pragma_table_list tl ON "
                       "tl.schema = 'main' AND tl.name = sm.name WHERE sm.sql IS NOT NULL AND "
                       "sm.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sm.name NOT LIKE 'migrator\\_%' "
                       "ESCAPE '\\' AND coalesce(tl.type, '') <> 'shadow' ORDER BY sm.rowid",
                       s));
    Status st;
    ddl.clear();
    while (s.step(st)) ddl += s.text(0) + ";\n";
    return st;
}

// CREATE TABLE text with the table's name replaced by `name`.
std::string with_table_name(const std::string& create_sql, const std::string& name) {
    size_t open = create_sql.find('(');
    // The name is the last token before the first '(' (after TABLE [IF NOT EXISTS]).
    size_t end = open;
    while (end > 0 && std::isspace(static_cast<unsigned char>(create_sql[end - 1]))) --end;
    size_t start = end;
    if (start > 0 && (create_sql[start - 1] == '"' || create_sql[start - 1] == '`' || create_sql[start - 1] == ']')) {
        char close = create_sql[start - 1];
        char openq = close == ']' ? '[' : close;
        start -= 1;
        while (start > 0) {
            --start;
            if (create_sql[start] == openq) {
                if (openq != '[' && start > 0 && create_sql[start - 1] == openq) {
                    --start;
                    continue;
                }
                break;
            }
        }
    } else {
        while (start > 0 && !std::isspace(static_cast<unsigned char>(create_sql[start - 1]))) --start;
    }
    return create_sql.substr(0, start) + quote_ident(name) + " " + create_sql.substr(open);
}

// The top-level definitions of a CREATE TABLE body ("id INTEGER PRIMARY KEY", "UNIQUE(a)").
std::vector<std::string> table_parts(const std::string& sql) {
    std::vector<std::string> parts;
    size_t i = sql.find('(');
    if (i == std::string::npos) return parts;
    int depth = 0;
    std::string cur;
    for (++i; i < sql.size(); ++i) {
        char c = sql[i];
        if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char close = c == '[' ? ']' : c;
            size_t j = i + 1;
            while (j < sql.size()) {
                if (sql[j] == close && close != ']' && j + 1 < sql.size() && sql[j + 1] == close) j += 2;
                else if (sql[j] == close) break;
                else ++j;
            }
            cur += sql.substr(i, j - i + 1);
            i = j;
            continue;
        }
        if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            while (i < sql.size() && sql[i] != '\n') ++i;
            continue;
        }
        // Fix: /* */ comments are skipped too (SQLite keeps them in the stored CREATE TABLE);
        // a comma in one split the definitions there and ADD COLUMN got a piece of a comment.
        if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            const size_t e = sql.find("*/", i + 2);
            i = e == std::string::npos ? sql.size() : e + 1;
            continue;
        }
        if (c == '(') ++depth;
        if (c == ')') {
            if (depth == 0) break;
            --depth;
        }
        if (c == ',' && depth == 0) {
            parts.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    parts.push_back(cur);
    for (auto& p : parts) {
        size_t a = p.find_first_not_of(" \t\r\n");
        size_t b = p.find_last_not_of(" \t\r\n");
        p = a == std::string::npos ? std::string() : p.substr(a, b - a + 1);
    }
    return parts;
}

// The column definition of `col` in a CREATE TABLE statement.
std::string column_definition(const std::string& create_sql, const std::string& col) {
    for (const auto& p : table_parts(create_sql)) {
        std::string first;
        if (!p.empty() && (p[0] == '"' || p[0] == '`' || p[0] == '[')) {
            char close = p[0] == '[' ? ']' : p[0];
            size_t j = p.find(close, 1);
            first = p.substr(1, j == std::string::npos ? std::string::npos : j - 1);
        } else {
            size_t j = 0;
            while (j < p.size() && !std::isspace(static_cast<unsigned char>(p[j]))) ++j;
            first = p.substr(0, j);
        }
        auto lower = [](std::string s) {
            for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            return s;
        };
        if (lower(first) == lower(col)) return p;
    }
    return quote_ident(col);
}

bool mentions(const std::string& normalized_sql, const std::string& name) {
    // normalize_sql unquotes simple identifiers: match whole words, case-insensitively.
    std::string hay = normalized_sql, needle = name;
    for (auto& c : hay) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t pos = 0;
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); };
    while ((pos = hay.find(needle, pos)) != std::string::npos) {
        bool left = pos == 0 || !word(hay[pos - 1]);
        bool right = pos + needle.size() >= hay.size() || !word(hay[pos + needle.size()]);
        if (left && right) return true;
        ++pos;
    }
    return false;
}

bool is_ipk(const TableModel& t) {
    int pks = 0;
    bool integer = false;
    for (const auto& c : t.columns)
        if (c.pk) {
            ++pks;
            integer = c.type == "INTEGER";
        }
    return pks == 1 && integer && !t.without_rowid;
}

std::set<std::string> auto_index_keys(const SchemaModel& m, const std::string& table) {
    std::set<std::string> out;
    for (const auto& [k, ix] : m.indexes)
        if (ix.table == table && ix.origin != "c") out.insert(k.substr(k.find(':')));
    return out;
}

// Fix: pragma_table_xinfo gives `DEFAULT (strftime('%s', 'now'))` as "strftime('%s','now')",
// without its parentheses, so the old test (starts with '(' or CURRENT_) took it for a
// constant and generated ALTER TABLE ADD COLUMN, which SQLite refuses on a table with rows
// ("Cannot add a column with non-constant default"). Only a literal counts as constant now;
// any expression is rebuilt (SQLite would accept a constant one, but a rebuild is never wrong).
bool constant_default(const ColumnModel& c) {
    if (!c.has_default) return true;
    static const std::regex literal(
        R"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?0[xX][0-9a-fA-F]+|'([^']|'')*'|[xX]'[0-9a-fA-F]*'|NULL|TRUE|FALSE)",
        std::regex::icase);
    return std::regex_match(c.default_value, literal);
}

// Fix: the model has no generated column's expression (pragma_table_xinfo does not give it),
// so `AS (a * 2)` becoming `AS (a + a + 1)` generated no SQL. The normalized definitions of
// the generated columns of `t` that `other` has too (new ones are the ADD COLUMN check's).
std::vector<std::string> generated_definitions(const Snap& s, const TableModel& t, const TableModel& other) {
    std::vector<std::string> out;
    auto o = s.objs.find(t.name);
    for (const auto& c : t.columns)
        if ((c.hidden == 2 || c.hidden == 3) &&
            std::any_of(other.columns.begin(), other.columns.end(), [&](const ColumnModel& x) { return x.name == c.name; }))
            out.push_back(fold_sql_case(normalize_sql(column_definition(o == s.objs.end() ? "" : o->second.sql, c.name)), true));
    return out;
}

}  // namespace

Status schema_change_sql(const std::string& from_ddl, const std::string& to_ddl,
                         const std::vector<std::pair<std::string, std::string>>& table_renames,
                         const std::vector<std::pair<std::string, std::string>>& column_renames,
                         bool allow_drop, std::string& sql, bool& fk_off) {
    Snap a, b;
    MIG_TRY(load_snap(from_ddl, "the old schema", a));
    MIG_TRY(load_snap(to_ddl, "the new schema", b));
    std::vector<std::string> out;
    fk_off = false;

    // Renames first, told by the operator, never guessed. SQLite's RENAME updates every
    // reference (indexes, views, triggers, foreign keys of other tables).
    for (const auto& [from, to] : table_renames) {
        auto it = a.model.tables.find(from);
        if (it == a.model.tables.end())
            return {Code::usage, fmt::format("--rename {}:{}: the old schema has no table '{}'", from, to, from)};
        if (!b.model.tables.count(to))
            return {Code::usage, fmt::format("--rename {}:{}: the new schema has no table '{}'", from, to, to)};
        out.push_back(fmt::format("ALTER TABLE {} RENAME TO {};", quote_ident(from), quote_ident(to)));
        // Only the table list is kept up to date here, for the checks of the hints that
        // follow; the whole old schema is read again with the renames applied below.
        TableModel t = it->second;
        t.name = to;
        a.model.tables.erase(it);
        a.model.tables[to] = std::move(t);
    }
    for (const auto& [dotted, to] : column_renames) {
        const size_t dot = dotted.find('.');
        std::string table = dotted.substr(0, dot);
        const std::string from = dotted.substr(dot + 1);
        // Fix: the table may be named as it was before a table rename of the same run, too
        // (`migrator new` spells down's column hints that way): down failed with "no table".
        if (!a.model.tables.count(table))
            for (const auto& [tf, tt] : table_renames)
                if (tf == table) table = tt;
        auto it = a.model.tables.find(table);
        if (it == a.model.tables.end())
            return {Code::usage, fmt::format("--rename {}:{}: no table '{}' in the old schema", dotted, to, table)};
        bool found = false;
        for (auto& c : it->second.columns)
            if (c.name == from) {
                c.name = to;
                found = true;
            }
        if (!found) return {Code::usage, fmt::format("--rename {}:{}: table '{}' has no column '{}'", dotted, to, table, from)};
        out.push_back(fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {};", quote_ident(table), quote_ident(from), quote_ident(to)));
    }
    // Fix: the old schema as the renames leave it, read back from SQLite, which rewrote every
    // reference (other tables' REFERENCES, index keys, UNIQUE constraints, views, triggers).
    // The model used to be patched by hand and missed those, so a pure rename rebuilt the
    // renamed table's children and any table whose UNIQUE/foreign key named a renamed column.
    if (!out.empty()) {
        std::string renamed = from_ddl + "\n;\n";
        for (const auto& s : out) renamed += s + "\n";
        MIG_TRY(load_snap(renamed, "the old schema with the renames applied", a));
    }

    std::vector<std::string> dropped, added;
    for (const auto& [n, t] : a.model.tables)
        if (!b.model.tables.count(n)) dropped.push_back(n);
    for (const auto& [n, t] : b.model.tables)
        if (!a.model.tables.count(n)) added.push_back(n);
    if (!dropped.empty() && !added.empty() && !allow_drop)
        return {Code::usage,
                fmt::format("table(s) {} disappear and {} appear: a rename is never guessed. If one "
                            "is renamed, pass --rename OLD:NEW; if they really are a drop and a new "
                            "table, pass --allow-drop",
                            fmt::join(dropped, ", "), fmt::join(added, ", "))};

    // Which tables change, and how.
    std::set<std::string> rebuild, altered;
    std::map<std::string, std::vector<std::string>> add_columns;
    std::vector<std::string> vtab_recreate;
    for (const auto& [n, tb] : b.model.tables) {
        auto ia = a.model.tables.find(n);
        if (ia == a.model.tables.end()) continue;
        const TableModel& ta = ia->second;
        if (tb.is_virtual || ta.is_virtual) {
            if (ta.is_virtual != tb.is_virtual || ta.virtual_sql != tb.virtual_sql) vtab_recreate.push_back(n);
            continue;
        }
        std::vector<std::string> gone, fresh;
        for (const auto& c : ta.columns)
            if (std::none_of(tb.columns.begin(), tb.columns.end(), [&](const ColumnModel& x) { return x.name == c.name; }))
                gone.push_back(c.name);
        for (const auto& c : tb.columns)
            if (std::none_of(ta.columns.begin(), ta.columns.end(), [&](const ColumnModel& x) { return x.name == c.name; }))
                fresh.push_back(c.name);
        if (!gone.empty() && !fresh.empty() && !allow_drop)
            return {Code::usage,
                    fmt::format("in table '{}', column(s) {} disappear and {} appear: a rename is never "
                                "guessed. If one is renamed, pass --rename {}.OLD:NEW; if not, pass --allow-drop",
                                n, fmt::join(gone, ", "), fmt::join(fresh, ", "), n)};
        const bool same_shape = ta.foreign_keys == tb.foreign_keys && ta.checks == tb.checks &&
                                ta.without_rowid == tb.without_rowid && ta.strict == tb.strict &&
                                auto_index_keys(a.model, n) == auto_index_keys(b.model, n) &&
                                generated_definitions(a, ta, tb) == generated_definitions(b, tb, ta);
        if (same_shape && ta.columns == tb.columns) continue;
        // ALTER TABLE ADD COLUMN can do it: the old columns unchanged, new ones appended, each
        // addable (no key, a constant default where NOT NULL, not a stored generated column).
        bool appendable = same_shape && tb.columns.size() > ta.columns.size() &&
                          std::equal(ta.columns.begin(), ta.columns.end(), tb.columns.begin());
        if (appendable) {
            for (size_t k = ta.columns.size(); k < tb.columns.size(); ++k) {
                const ColumnModel& c = tb.columns[k];
                const bool ok = c.pk == 0 && c.hidden != 3 && c.hidden != 1 && constant_default(c) &&
                                (!c.not_null || (c.has_default && c.default_value != "NULL"));
                if (!ok) appendable = false;
            }
        }
        if (appendable) {
            altered.insert(n);
            for (size_t k = ta.columns.size(); k < tb.columns.size(); ++k)
                add_columns[n].push_back(column_definition(b.objs.at(n).sql, tb.columns[k].name));
            continue;
        }
        for (const auto& c : tb.columns) {
            const bool existed = std::any_of(ta.columns.begin(), ta.columns.end(),
                                             [&](const ColumnModel& x) { return x.name == c.name && x.hidden == 0; });
            // Fix: DEFAULT NULL is no default for a NOT NULL column (the copy then failed on
            // "NOT NULL constraint failed" instead of this message).
            const bool no_default = !c.has_default || c.default_value == "NULL";
            if (!existed && c.hidden == 0 && c.not_null && no_default && !(c.pk && is_ipk(tb)))
                return {Code::usage,
                        fmt::format("table '{}' gets column '{}' NOT NULL without a DEFAULT: its existing "
                                    "rows have no value for it. Give it a DEFAULT in the schema, or write "
                                    "this migration by hand",
                                    n, c.name)};
        }
        rebuild.insert(n);
    }
    if (!rebuild.empty() || !dropped.empty()) fk_off = true;

    // Views and triggers: recreated when they change, disappear, or read a table that is
    // rebuilt or dropped.
    std::set<std::string> touched(rebuild.begin(), rebuild.end());
    touched.insert(dropped.begin(), dropped.end());
    touched.insert(vtab_recreate.begin(), vtab_recreate.end());
    // Fix: views are decided first, so that the INSTEAD OF triggers of a dropped view are
    // dropped (before it) and recreated too: DROP VIEW drops them silently, and one that does
    // not name a touched table was lost. Views and triggers are kept apart (two namespaces).
    std::set<std::string> drop_views, drop_triggers;
    auto must_drop = [&](const std::string& n, const std::string& s, const std::map<std::string, std::string>& bm) {
        auto it = bm.find(n);
        bool drop = it == bm.end() || it->second != s;
        for (const auto& t : touched) drop |= mentions(s, t);
        return drop;
    };
    for (const auto& [n, s] : a.model.views)
        if (must_drop(n, s, b.model.views)) drop_views.insert(n);
    for (const auto& [n, s] : a.model.triggers) {
        auto o = a.objs.find(n);
        if (must_drop(n, s, b.model.triggers) || (o != a.objs.end() && drop_views.count(o->second.table))) {
            out.push_back(fmt::format("DROP TRIGGER {};", quote_ident(n)));
            drop_triggers.insert(n);
        }
    }
    for (const auto& n : drop_views) out.push_back(fmt::format("DROP VIEW {};", quote_ident(n)));
    // Indexes made with CREATE INDEX that disappear or change (those of rebuilt or dropped
    // tables go with their table).
    std::set<std::string> dropped_idx;
    for (const auto& [k, ix] : a.model.indexes) {
        if (ix.origin != "c" || rebuild.count(ix.table) || std::count(dropped.begin(), dropped.end(), ix.table)) continue;
        auto it = b.model.indexes.find(k);
        if (it == b.model.indexes.end() || !(it->second == ix)) {
            out.push_back(fmt::format("DROP INDEX {};", quote_ident(ix.name)));
            dropped_idx.insert(k);
        }
    }
    // New tables, in the new schema's creation order.
    std::vector<const Obj*> border;
    for (const auto& [n, o] : b.objs) border.push_back(&o);
    std::sort(border.begin(), border.end(), [](const Obj* x, const Obj* y) { return x->order < y->order; });
    for (const auto* o : border)
        if (o->type == "table" && std::count(added.begin(), added.end(), o->name)) out.push_back(o->sql + ";");
    for (const auto& [n, defs] : add_columns)
        for (const auto& d : defs) out.push_back(fmt::format("ALTER TABLE {} ADD COLUMN {};", quote_ident(n), d));
    // The 12-step rebuild (https://www.sqlite.org/lang_altertable.html#otheralter).
    for (const auto& n : rebuild) {
        const TableModel& ta = a.model.tables.at(n);
        const TableModel& tb = b.model.tables.at(n);
        const std::string tmp = n + "__migrator_new";
        out.push_back(with_table_name(b.objs.at(n).sql, tmp) + ";");
        std::vector<std::string> cols;
        for (const auto& c : tb.columns) {
            if (c.hidden != 0) continue;  // generated columns are computed, never copied
            if (std::any_of(ta.columns.begin(), ta.columns.end(), [&](const ColumnModel& x) { return x.name == c.name && x.hidden == 0; }))
                cols.push_back(quote_ident(c.name));
        }
        std::string col_list = fmt::format("{}", fmt::join(cols, ", "));
        const bool keep_rowid = !ta.without_rowid && !tb.without_rowid && !is_ipk(tb);
        if (keep_rowid) col_list = "rowid" + std::string(cols.empty() ? "" : ", ") + col_list;
        out.push_back(fmt::format("INSERT INTO {0}({1}) SELECT {1} FROM {2};", quote_ident(tmp), col_list, quote_ident(n)));
        const bool autoinc_a = std::any_of(ta.columns.begin(), ta.columns.end(), [](const ColumnModel& c) { return c.autoincrement; });
        const bool autoinc_b = std::any_of(tb.columns.begin(), tb.columns.end(), [](const ColumnModel& c) { return c.autoincrement; });
        if (autoinc_a && autoinc_b) {
            out.push_back(fmt::format("DELETE FROM sqlite_sequence WHERE name = {};", ql(tmp)));
            out.push_back(fmt::format("INSERT INTO sqlite_sequence(name, seq) SELECT {}, seq FROM sqlite_sequence WHERE name = {};",
                                      ql(tmp), ql(n)));
        }
        out.push_back(fmt::format("DROP TABLE {};", quote_ident(n)));
        out.push_back("PRAGMA legacy_alter_table = ON;");
        out.push_back(fmt::format("ALTER TABLE {} RENAME TO {};", quote_ident(tmp), quote_ident(n)));
        out.push_back("PRAGMA legacy_alter_table = OFF;");
    }
    for (const auto& n : dropped) out.push_back(fmt::format("DROP TABLE {};", quote_ident(n)));
    // Fix: virtual tables are recreated once the ordinary tables have their new shape (they
    // were recreated before ADD COLUMN and the rebuilds, so an external-content FTS table's
    // 'rebuild' read its content table's old columns: "no such column").
    for (const auto& n : vtab_recreate) {
        // Fix: only an external-content table can 'rebuild'; on a contentless one (content='')
        // the old substring test matched too and 'rebuild' is an error there.
        static const std::regex content_re(R"(\bcontent\s*=\s*('(?:[^']|'')*'|"[^"]*"|[^\s,)]+))", std::regex::icase);
        static const std::regex module_re(R"(\bUSING\s+(\w+))", std::regex::icase);
        std::smatch cm, mm;
        const std::string& vsql = b.objs.at(n).sql;
        const bool has_content = std::regex_search(vsql, cm, content_re);
        // Fix: a virtual table that keeps its own rows (FTS without content=, R*Tree) was
        // dropped and created again empty: every row lost, silently. Both definitions virtual,
        // the columns they share are copied as in a rebuild (an FTS table with its rowids).
        // (A contentless old table has nothing to read back.)
        std::smatch om;
        const bool old_contentless = std::regex_search(a.objs.at(n).sql, om, content_re) &&
                                     (om[1] == "''" || om[1] == "\"\"");
        std::vector<std::string> common;
        if (!has_content && !old_contentless && a.model.tables.at(n).is_virtual && b.model.tables.at(n).is_virtual)
            for (const auto& c : a.vtab_columns[n])
                if (std::count(b.vtab_columns[n].begin(), b.vtab_columns[n].end(), c)) common.push_back(quote_ident(c));
        if (!common.empty()) {
            const std::string tmp = n + "__migrator_new";
            std::string cols = fmt::format("{}", fmt::join(common, ", "));
            std::string module = std::regex_search(vsql, mm, module_re) ? mm[1].str() : std::string();
            for (auto& ch : module) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (module.rfind("fts", 0) == 0) cols = "rowid, " + cols;
            out.push_back(with_vtab_name(vsql, tmp) + ";");
            out.push_back(fmt::format("INSERT INTO {0}({1}) SELECT {1} FROM {2};", quote_ident(tmp), cols, quote_ident(n)));
            out.push_back(fmt::format("DROP TABLE {};", quote_ident(n)));
            out.push_back("PRAGMA legacy_alter_table = ON;");
            out.push_back(fmt::format("ALTER TABLE {} RENAME TO {};", quote_ident(tmp), quote_ident(n)));
            out.push_back("PRAGMA legacy_alter_table = OFF;");
            continue;
        }
        out.push_back(fmt::format("DROP TABLE {};", quote_ident(n)));
        out.push_back(vsql + ";");
        if (has_content && cm[1] != "''" && cm[1] != "\"\"")
            out.push_back(fmt::format("INSERT INTO {0}({0}) VALUES ('rebuild');", quote_ident(n)));
    }
    // Indexes, then views and triggers, of the new schema that are new or were dropped above.
    for (const auto* o : border) {
        if (o->type != "index") continue;
        const IndexModel* ix = nullptr;
        std::string key;
        for (const auto& [k, v] : b.model.indexes)
            if (v.name == o->name && v.origin == "c") {
                ix = &v;
                key = k;
            }
        if (!ix) continue;
        const bool is_new = !a.model.indexes.count(key);
        if (is_new || dropped_idx.count(key) || rebuild.count(ix->table))
            out.push_back(o->sql + ";");
    }
    for (const auto* o : border) {
        if (o->type != "view" && o->type != "trigger") continue;
        const auto& am = o->type == "view" ? a.model.views : a.model.triggers;
        const auto& dropped_vt = o->type == "view" ? drop_views : drop_triggers;
        if (!am.count(o->name) || dropped_vt.count(o->name)) out.push_back(o->sql + ";");
    }
    sql.clear();
    for (const auto& s : out) sql += s + "\n";
    return Status::ok();
}

namespace {

std::string next_revision_id(const Chain& chain, const std::string& name) {
    const std::string head = chain.head();
    size_t digits = 0;
    while (digits < head.size() && std::isdigit(static_cast<unsigned char>(head[digits]))) ++digits;
    long long n = digits ? std::stoll(head.substr(0, digits)) + 1 : static_cast<long long>(chain.revisions().size()) + 1;
    const int width = static_cast<int>(std::max<size_t>(digits, 4));
    return fmt::format("{:0{}}_{}", n, width, name);
}

std::string indent_sql(const std::string& sql) { return sql.empty() ? std::string("-- no schema change\n") : sql; }

}  // namespace

Status cmd_new(const GlobalOptions& g, const NewMigrationOptions& o) {
    static const std::regex name_re("[a-z0-9_]+");
    if (!std::regex_match(o.name, name_re))
        return {Code::usage, fmt::format("migration name '{}': use lowercase letters, digits and _", o.name)};
    Chain chain;
    MIG_TRY(load_chain(g, chain));
    std::ifstream probe(o.schema_file);
    if (!probe) return {Code::usage, fmt::format("cannot read schema file '{}'", o.schema_file)};
    const std::string target_ddl = read_text_file(o.schema_file);

    // The head schema: every plugin run from scratch.
    Db head;
    MIG_TRY(Db::open(":memory:", Db::Mode::create, g.busy_timeout_ms, head));
    Plan plan;
    MIG_TRY(plan_up(chain, "", chain.head(), plan));
    MIG_TRY(run_plan_quietly(head, plan, RunOptions{}).with_context("running every plugin from scratch failed: "));
    std::string head_ddl;
    MIG_TRY(dump_ddl(head, head_ddl));

    std::vector<std::pair<std::string, std::string>> trn, crn, trn_back, crn_back;
    for (const auto& r : o.renames) {
        size_t colon = r.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == r.size())
            return {Code::usage, fmt::format("--rename '{}': expected OLD:NEW or TABLE.OLD:NEW", r)};
        std::string from = r.substr(0, colon), to = r.substr(colon + 1);
        if (from.find('.') != std::string::npos) {
            crn.emplace_back(from, to);
            crn_back.emplace_back(from.substr(0, from.find('.')) + "." + to, from.substr(from.find('.') + 1));
        } else {
            trn.emplace_back(from, to);
            trn_back.emplace_back(to, from);
        }
    }
    std::string up_sql, down_sql;
    bool fk_up = false, fk_down = false;
    MIG_TRY(schema_change_sql(head_ddl, target_ddl, trn, crn, o.allow_drop, up_sql, fk_up));
    // Down is the same diff the other way. Its column hints are spelled with the new table
    // name; schema_change_sql renames tables back first and accepts either name.
    for (auto& [col, to] : crn_back)
        for (const auto& [tf, tt] : trn)
            if (col.rfind(tf + ".", 0) == 0) col = tt + col.substr(tf.size());
    MIG_TRY(schema_change_sql(target_ddl, head_ddl, trn_back, crn_back, true, down_sql, fk_down));

    // JSON models: every current model that differs from its frozen copy gets a blob
    // migration stub that fails until someone writes it.
    struct Stub { std::string model, table, column; std::vector<std::string> changes; };
    std::vector<Stub> stubs;
    auto stub_for = [&](const std::string& model, std::vector<std::string> changes) {
        Stub s{model, "TODO_table", "TODO_column", std::move(changes)};
        for (const auto& m : chain.revisions())
            for (const auto& b : m.blobs)
                if (b.model == model) {
                    s.table = b.table;
                    s.column = b.column;
                }
        return s;
    };
    std::vector<std::pair<std::string, std::string>> freeze;  // model file -> frozen file
    if (!o.models_dir.empty()) {
        std::vector<ModelDifference> diffs;
        MIG_TRY(compare_models(o.models_dir, o.frozen_dir, diffs));
        for (const auto& d : diffs) {
            stubs.push_back(stub_for(d.model, d.changes));
            freeze.emplace_back((fs::path(o.models_dir) / (d.model + ".json")).string(),
                                (fs::path(o.frozen_dir) / (d.model + ".json")).string());
        }
    }
    // The frozen schemas as this migration leaves them: it declares them, as the new head.
    // Against the old head's declaration they also show a frozen schema that was edited by
    // hand, without a migration (its model edited alike, so compare_models saw nothing): it
    // gets a stub too. A head that declares nothing (ABI 1.0) tells nothing: no stubs.
    Fingerprints declare, declared;
    if (!o.frozen_dir.empty()) {
        MIG_TRY(frozen_fingerprints(o.frozen_dir, declare));
        for (const auto& [from, to] : freeze) MIG_TRY(schema_fingerprint(from, declare[fs::path(to).stem().string()]));
        MIG_TRY(declared_fingerprints(chain.revisions().at(static_cast<size_t>(chain.index_of(chain.head()))), declared));
        for (const auto& [model, digest] : declare) {
            auto it = declared.find(model);
            if (declared.empty() || (it != declared.end() && it->second == digest) ||
                std::any_of(stubs.begin(), stubs.end(), [&](const Stub& s) { return s.model == model; }))
                continue;
            stubs.push_back(stub_for(model, {fmt::format("the frozen schema changed after {} without a migration: "
                                                         "{} declared {}, it is {} now",
                                                         chain.head(), chain.head(),
                                                         it == declared.end() ? "none" : it->second, digest)}));
        }
    }
    if (up_sql.empty() && stubs.empty() && declare == declared) {
        fmt::print("nothing to generate: the head schema ({}) already is {}{}\n", chain.head(), o.schema_file,
                   o.models_dir.empty() ? "" : " and every JSON model matches its frozen schema");
        return Status::ok();
    }

    const std::string rev = next_revision_id(chain, o.name);
    std::string src;
    src += fmt::format("// {}: generated by `migrator new {}` from {}", rev, o.name, o.schema_file);
    src += "\n// (head was " + chain.head() + "). Review it: it is yours now; edit it before it is released,\n";
    src += "// never after (the host refuses an applied revision whose source changed).\n";
    if (fk_up || fk_down)
        src += "// MIG_FLAG_FOREIGN_KEYS_OFF: the table rebuilds run with foreign keys off (set by the host\n"
               "// before its transaction) and `PRAGMA foreign_key_check` must pass before commit.\n";
    src += "#include <migrator/plugin.hpp>\n\nnamespace {\n\n";
    src += "const char* const kUp = R\"migrator_sql(\n" + indent_sql(up_sql) + ")migrator_sql\";\n\n";
    src += "const char* const kDown = R\"migrator_sql(\n" + indent_sql(down_sql) + ")migrator_sql\";\n\n";
    src += "void up(migrator::Host& db) { db.exec(kUp); }\nvoid down(migrator::Host& db) { db.exec(kDown); }\n";
    for (const auto& s : stubs) {
        src += fmt::format("\n// TODO: the JSON model {} changed; this blob migration of {}.{} fails every row\n"
                           "// until it is written (or deleted, when no stored value needs to change):\n",
                           s.model, s.table, s.column);
        for (const auto& c : s.changes) src += "//   " + c + "\n";
        for (const char* dir : {"up", "down"})
            src += fmt::format(
                "migrator::BlobResult {0}_{1}(std::string_view, std::string&, std::string& err) {{\n"
                "    err = \"not implemented: the {0} blob migration of model {1} ({2}.{3}) was generated by \"\n"
                "          \"`migrator new` and has not been written yet\";\n"
                "    return migrator::BlobResult::error;\n}}\n",
                dir, s.model, s.table, s.column);
    }
    if (!stubs.empty()) {
        src += "\nconstexpr migrator::Blob kBlobs[] = {\n";
        for (const auto& s : stubs)
            src += fmt::format("    migrator::blob<up_{0}, down_{0}>(\"{1}\", \"{2}\", \"{0}\"),\n", s.model, s.table, s.column);
        src += "};\n";
    }
    src += "\n}  // namespace\n\n";
    if (!declare.empty())
        src += fmt::format("// The frozen JSON Schemas the chain is written up to with this revision (`migrator check`\n"
                           "// compares the head's declaration with {}).\n{}\n",
                           o.frozen_dir, sdk_declaration(declare));
    const std::string flags = (fk_up || fk_down) ? "MIG_FLAG_FOREIGN_KEYS_OFF" : "0";
    if (stubs.empty())
        src += fmt::format("MIGRATOR_PLUGIN(\"{}\", \"{}\", \"{}\", {}, up, down)\n", rev, chain.head(), o.name, flags);
    else
        src += fmt::format("MIGRATOR_PLUGIN_BLOBS(\"{}\", \"{}\", \"{}\", {}, up, down, kBlobs)\n", rev, chain.head(),
                           o.name, flags);

    if (o.dry_run) {
        fmt::print("{}", src);
        return Status::ok();
    }
    const fs::path out = fs::path(o.out_dir) / (rev + ".cpp");
    std::error_code ec;
    if (fs::exists(out, ec)) return {Code::usage, fmt::format("'{}' exists already", out.string())};
    {
        std::ofstream f(out);
        f << src;
        if (!f) return {Code::db_error, fmt::format("cannot write '{}'", out.string())};
    }
    for (const auto& [from, to] : freeze) {
        fs::create_directories(fs::path(to).parent_path(), ec);
        fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) return {Code::db_error, fmt::format("cannot update frozen schema '{}': {}", to, ec.message())};
    }
    if (!o.cmake_file.empty()) {
        std::string cm = read_text_file(o.cmake_file);
        const size_t set = cm.find("set(_revisions");
        const size_t close = set == std::string::npos ? std::string::npos : cm.find(')', set);
        if (close == std::string::npos)
            return {Code::usage, fmt::format("'{}' has no `set(_revisions ...)` list to register {} in", o.cmake_file, rev)};
        cm.insert(close, "\n    " + rev);
        std::ofstream f(o.cmake_file);
        f << cm;
    }
    fmt::print("wrote {} ({} -> {}{}{}{})\n", out.string(), chain.head(), rev,
               fk_up || fk_down ? ", table rebuild with foreign keys off" : "",
               stubs.empty() ? "" : fmt::format(", {} blob migration stub(s) to write", stubs.size()),
               declare.empty() ? "" : fmt::format(", declares {} frozen schema fingerprint(s)", declare.size()));
    for (const auto& [from, to] : freeze) fmt::print("froze {} -> {}\n", from, to);
    if (!o.cmake_file.empty()) fmt::print("registered {} in {}\n", rev, o.cmake_file);
    return Status::ok();
}

}  // namespace migrator
