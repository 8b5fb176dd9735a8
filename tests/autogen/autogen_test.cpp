// `migrator new`: the SQL that schema_change_sql generates, applied to real data for each kind
// of schema change, the way the host applies a plugin (foreign keys off before BEGIN when the
// SQL asks for it, foreign_key_check before COMMIT, everything rolled back on failure).
//
// Every round trip: a DB made from v1's DDL and rows; up = schema_change_sql(v1, v2); after
// it, the DB's schema model equals that of a fresh DB made from v2, integrity_check is ok,
// foreign_key_check is clean and the rows (with their rowids) are what they were; then down =
// schema_change_sql(v2, v1, reversed renames, allow_drop) and the same checks against v1.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "autogen.h"
#include "db.h"
#include "schema_model.h"
#include "test_support.h"

using namespace migrator;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Renames = std::vector<std::pair<std::string, std::string>>;

namespace {

Db open_db(const std::string& sql) {
    Db db;
    REQUIRE(Db::open(":memory:", Db::Mode::create, 1000, db).is_ok());
    Status st = db.exec(sql);
    INFO(sql << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    return db;
}

void exec(Db& db, const std::string& sql) {
    Status st = db.exec(sql);
    INFO(sql << "\n-> " << st.message());
    REQUIRE(st.is_ok());
}

// A query's rows, each as "v1|v2|..." with its values typed: 7, 1.5r, 'text', NULL, x'..'.
std::vector<std::string> rows(Db& db, const std::string& q) {
    Stmt s;
    Status st = db.prepare(q, s);
    INFO(q << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    std::vector<std::string> out;
    while (s.step(st)) {
        std::string r;
        for (int i = 0; i < sqlite3_column_count(s.get()); ++i) {
            if (i) r += "|";
            switch (sqlite3_column_type(s.get(), i)) {
                case SQLITE_NULL: r += "NULL"; break;
                case SQLITE_INTEGER: r += std::to_string(s.int64(i)); break;
                case SQLITE_FLOAT: r += std::to_string(s.real(i)) + "r"; break;
                case SQLITE_TEXT: r += "'" + s.text(i) + "'"; break;
                default: r += "x'" + std::to_string(sqlite3_column_bytes(s.get(), i)) + " bytes'"; break;
            }
        }
        out.push_back(r);
    }
    REQUIRE(st.is_ok());
    return out;
}

std::string one(Db& db, const std::string& q) {
    auto r = rows(db, q);
    REQUIRE(r.size() == 1);
    return r[0];
}

struct Gen {
    Status st;
    std::string sql;
    bool fk_off = false;
};

Gen generate(const std::string& from, const std::string& to, const Renames& trn = {}, const Renames& crn = {},
             bool allow_drop = false) {
    Gen g;
    g.st = schema_change_sql(from, to, trn, crn, allow_drop, g.sql, g.fk_off);
    return g;
}

// The hints for down, as `migrator new` makes them: table renames swapped; a column rename
// "table.old" -> "new" becomes "table.new" -> "old".
Renames reverse_tables(const Renames& trn) {
    Renames out;
    for (const auto& [from, to] : trn) out.emplace_back(to, from);
    return out;
}
Renames reverse_columns(const Renames& crn) {
    Renames out;
    for (const auto& [dotted, to] : crn) {
        const auto dot = dotted.find('.');
        out.emplace_back(dotted.substr(0, dot) + "." + to, dotted.substr(dot + 1));
    }
    return out;
}

// Applies generated SQL as the host applies a plugin's step.
Status apply(Db& db, const std::string& sql, bool fk_off) {
    MIG_TRY(db.exec(fk_off ? "PRAGMA foreign_keys = OFF" : "PRAGMA foreign_keys = ON"));
    MIG_TRY(db.exec("BEGIN"));
    Status st = db.exec("SAVEPOINT step");
    if (st) st = db.exec(sql);
    if (st) st = db.exec("RELEASE step");
    if (st) {
        Stmt s;
        st = db.prepare("PRAGMA foreign_key_check", s);
        std::string v;
        while (st && s.step(st))
            v += (v.empty() ? "" : "; ") + s.text(0) + " rowid " + s.text(1) + " -> " + s.text(2);
        if (st && !v.empty()) st = {Code::migration_failed, "foreign key violations: " + v};
    }
    if (st) st = db.exec("COMMIT");
    if (!st) (void)db.exec("ROLLBACK");
    (void)db.exec("PRAGMA foreign_keys = ON");
    return st;
}

SchemaModel model_of(const std::string& ddl) {
    Db db = open_db(ddl);
    SchemaModel m;
    REQUIRE(read_schema(db, m).is_ok());
    return m;
}

// The DB's schema is exactly `ddl`'s, and the DB is sound.
void check_db(Db& db, const std::string& ddl, const char* when) {
    INFO(when);
    SchemaModel actual;
    REQUIRE(read_schema(db, actual).is_ok());
    const std::string diff = format_diff(diff_schema(model_of(ddl), actual));
    INFO("schema difference:\n" << diff);
    CHECK(diff.empty());
    CHECK(rows(db, "PRAGMA integrity_check") == std::vector<std::string>{"'ok'"});
    CHECK(rows(db, "PRAGMA foreign_key_check").empty());
}

// A query in v1's terms, and the same one in v2's (empty: the same text).
struct Keep {
    Keep(std::string q1, std::string q2 = "") : v1(std::move(q1)), v2(std::move(q2)) {}
    std::string v1, v2;
};

struct Case {
    std::string v1, v2, rows;
    std::vector<Keep> keep;  // data that both directions must keep exactly
    Renames trn, crn;
    bool allow_drop = false;
    // Checks run inside a transaction that is rolled back, so they may write.
    std::function<void(Db&)> after_up, after_down;
};

struct Trip {
    Gen up, down;
};

// Check after up and down, in transactions rolled back afterwards.
void probe(Db& db, const std::function<void(Db&)>& f) {
    if (!f) return;
    exec(db, "PRAGMA foreign_keys = ON");
    exec(db, "BEGIN");
    f(db);
    exec(db, "ROLLBACK");
}

Trip round_trip(const Case& c) {
    Trip t;
    Db db = open_db(c.v1);
    exec(db, c.rows);
    std::vector<std::vector<std::string>> before;
    for (const auto& k : c.keep) {
        before.push_back(rows(db, k.v1));
        INFO(k.v1);
        REQUIRE(!before.back().empty());  // a check of nothing checks nothing
    }

    t.up = generate(c.v1, c.v2, c.trn, c.crn, c.allow_drop);
    INFO("up: " << t.up.st.message());
    REQUIRE(t.up.st.is_ok());
    INFO("up SQL (foreign keys " << (t.up.fk_off ? "off" : "on") << "):\n" << t.up.sql);
    Status st = apply(db, t.up.sql, t.up.fk_off);
    INFO("applying up: " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, c.v2, "after up");
    for (size_t i = 0; i < c.keep.size(); ++i) {
        INFO("after up: " << (c.keep[i].v2.empty() ? c.keep[i].v1 : c.keep[i].v2));
        CHECK(rows(db, c.keep[i].v2.empty() ? c.keep[i].v1 : c.keep[i].v2) == before[i]);
    }
    probe(db, c.after_up);

    t.down = generate(c.v2, c.v1, reverse_tables(c.trn), reverse_columns(c.crn), true);
    INFO("down: " << t.down.st.message());
    REQUIRE(t.down.st.is_ok());
    INFO("down SQL (foreign keys " << (t.down.fk_off ? "off" : "on") << "):\n" << t.down.sql);
    st = apply(db, t.down.sql, t.down.fk_off);
    INFO("applying down: " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, c.v1, "after down");
    for (size_t i = 0; i < c.keep.size(); ++i) {
        INFO("after down: " << c.keep[i].v1);
        CHECK(rows(db, c.keep[i].v1) == before[i]);
    }
    probe(db, c.after_down);
    return t;
}

// Up generates, but applying it must fail with `error` and leave v1 and its rows untouched.
void up_fails(const std::string& v1, const std::string& v2, const std::string& data, const std::string& keep,
              const std::string& error) {
    Db db = open_db(v1);
    exec(db, data);
    const auto before = rows(db, keep);
    Gen up = generate(v1, v2);
    INFO("up: " << up.st.message());
    REQUIRE(up.st.is_ok());
    INFO("up SQL:\n" << up.sql);
    Status st = apply(db, up.sql, up.fk_off);
    INFO("applying up: " << st.message());
    CHECK(!st.is_ok());
    CHECK_THAT(st.message(), Contains(error));
    check_db(db, v1, "after the failed up");
    CHECK(rows(db, keep) == before);
}

bool rebuilds(const Gen& g) { return g.sql.find("__migrator_new") != std::string::npos; }

const std::string kItem = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
const std::string kItemRows = "INSERT INTO item(id, name) VALUES (1, 'one'), (5, 'five'), (9, 'nine');";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Columns

TEST_CASE("autogen: add a column with a constant DEFAULT (ALTER TABLE ADD COLUMN)") {
    Case c;
    c.v1 = kItem;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, colour TEXT DEFAULT 'red');";
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    c.after_up = [](Db& db) {
        CHECK(rows(db, "SELECT colour FROM item") == std::vector<std::string>(3, "'red'"));
    };
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, Contains("ALTER TABLE \"item\" ADD COLUMN colour TEXT DEFAULT 'red'"));
    CHECK(!rebuilds(t.up));
    CHECK(!t.up.fk_off);
    CHECK(rebuilds(t.down));  // dropping it is a rebuild
}

TEST_CASE("autogen: add a NOT NULL column with a DEFAULT (ALTER TABLE ADD COLUMN)") {
    Case c;
    c.v1 = kItem;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, flags INTEGER NOT NULL DEFAULT 0);";
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(rows(db, "SELECT flags FROM item") == std::vector<std::string>(3, "0")); };
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, Contains("ADD COLUMN flags INTEGER NOT NULL DEFAULT 0"));
    CHECK(!rebuilds(t.up));
}

TEST_CASE("autogen: add columns after comments, with quoted names (ALTER TABLE ADD COLUMN)") {
    Case c;
    c.v1 = kItem;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL /* the name, shown */,\n"
           "  \"my col\" TEXT DEFAULT 'x, y', -- a comment, with a comma\n"
           "  [order] INTEGER NOT NULL DEFAULT -1, shown /* , fake INTEGER */ INTEGER);";
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    c.after_up = [](Db& db) {
        CHECK(rows(db, "SELECT \"my col\", [order], shown FROM item WHERE id = 1") ==
              std::vector<std::string>{"'x, y'|-1|NULL"});
    };
    Trip t = round_trip(c);
    CHECK(!rebuilds(t.up));
}

namespace {
// A column whose DEFAULT is evaluated per row cannot be added by ALTER TABLE to a table with
// rows: SQLite refuses it ("Cannot add a column with non-constant default").
void non_constant_default(const std::string& column, const std::string& check) {
    Case c;
    c.v1 = kItem;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, " + column + ");";
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    c.after_up = [check](Db& db) { CHECK(one(db, "SELECT count(*) FROM item WHERE " + check) == "3"); };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
    CHECK_THAT(t.up.sql, !Contains("ADD COLUMN"));
}
}  // namespace

TEST_CASE("autogen: add a column with DEFAULT (strftime(...)) (rebuild, not ALTER TABLE)") {
    non_constant_default("created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d', 'now'))", "length(created) = 10");
}

TEST_CASE("autogen: add a column with DEFAULT CURRENT_TIMESTAMP (rebuild, not ALTER TABLE)") {
    non_constant_default("seen TEXT DEFAULT CURRENT_TIMESTAMP", "length(seen) = 19");
}

TEST_CASE("autogen: change a column's type") {
    Case c;
    c.v1 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price TEXT);";
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL);";
    c.rows = "INSERT INTO item VALUES (1, 'one', '1.5'), (2, 'two', NULL), (7, 'seven', '20.25');";
    c.keep = {{"SELECT id, name, CAST(price AS TEXT) FROM item ORDER BY id"}};
    c.after_up = [](Db& db) {
        CHECK(rows(db, "SELECT typeof(price) FROM item ORDER BY id") ==
              std::vector<std::string>{"'real'", "'null'", "'real'"});
    };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
    CHECK(t.up.fk_off);
}

TEST_CASE("autogen: drop a column that has an index") {
    Case c;
    c.v1 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, sku TEXT);"
           "CREATE INDEX item_sku ON item(sku); CREATE INDEX item_name ON item(name);";
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
           "CREATE INDEX item_name ON item(name);";
    c.rows = "INSERT INTO item VALUES (1, 'one', 'A1'), (2, 'two', 'B2');";
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    c.after_down = [](Db& db) { CHECK(one(db, "SELECT count(*) FROM item WHERE sku IS NULL") == "2"); };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

TEST_CASE("autogen: drop a column used by a view (the views still work after)") {
    Case c;
    c.v1 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);"
           "CREATE VIEW item_notes AS SELECT id, name, note FROM item;"
           "CREATE VIEW item_names AS SELECT name FROM item;"
           "CREATE VIEW item_names_upper AS SELECT upper(name) AS n FROM item_names;";
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
           "CREATE VIEW item_notes AS SELECT id, name FROM item;"
           "CREATE VIEW item_names AS SELECT name FROM item;"
           "CREATE VIEW item_names_upper AS SELECT upper(name) AS n FROM item_names;";
    c.rows = "INSERT INTO item VALUES (1, 'one', 'n1'), (2, 'two', NULL);";
    c.keep = {{"SELECT id, name FROM item ORDER BY id"},
              {"SELECT id, name FROM item_notes ORDER BY id"},
              {"SELECT n FROM item_names_upper ORDER BY n"}};
    round_trip(c);
}

TEST_CASE("autogen: an INSTEAD OF trigger on a view of a rebuilt table is kept") {
    // DROP VIEW drops the view's triggers with it, even those that do not name the table.
    Case c;
    const std::string rest =
        "CREATE TABLE log(id INTEGER PRIMARY KEY, msg TEXT);"
        "CREATE VIEW item_v AS SELECT id, name FROM item;"
        "CREATE TRIGGER item_v_ins INSTEAD OF INSERT ON item_v BEGIN INSERT INTO log(msg) VALUES (NEW.name); END;";
    c.v1 = kItem + rest;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE);" + rest;
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item_v ORDER BY id"}};
    auto fire = [](Db& db) {
        exec(db, "INSERT INTO item_v(id, name) VALUES (20, 'via view')");
        CHECK(one(db, "SELECT msg FROM log") == "'via view'");
    };
    c.after_up = fire;
    c.after_down = fire;
    round_trip(c);
}

// ---------------------------------------------------------------------------------------------
// Constraints

TEST_CASE("autogen: add a CHECK that every row satisfies") {
    Case c;
    c.v1 = "CREATE TABLE stock(id INTEGER PRIMARY KEY, qty INTEGER);";
    c.v2 = "CREATE TABLE stock(id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty >= 0));";
    c.rows = "INSERT INTO stock VALUES (1, 0), (2, 10), (3, NULL);";
    c.keep = {{"SELECT id, qty FROM stock ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(!db.exec("INSERT INTO stock VALUES (4, -1)").is_ok()); };
    round_trip(c);
}

TEST_CASE("autogen: add a CHECK that a row violates: up fails and rolls back") {
    up_fails("CREATE TABLE stock(id INTEGER PRIMARY KEY, qty INTEGER);",
             "CREATE TABLE stock(id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty >= 0));",
             "INSERT INTO stock VALUES (1, 0), (2, -3);", "SELECT id, qty FROM stock ORDER BY id",
             "CHECK constraint failed");
}

TEST_CASE("autogen: add a foreign key that rows satisfy") {
    Case c;
    c.v1 = "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
           "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER);";
    c.v2 = "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
           "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));";
    c.rows = "INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1), (2, 2), (3, NULL);";
    c.keep = {{"SELECT id, parent_id FROM child ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(!db.exec("INSERT INTO child VALUES (4, 99)").is_ok()); };
    round_trip(c);
}

TEST_CASE("autogen: add a foreign key with orphan rows: foreign_key_check fails naming the table") {
    up_fails("CREATE TABLE parent(id INTEGER PRIMARY KEY);"
             "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER);",
             "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
             "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));",
             "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99);",
             "SELECT id, parent_id FROM child ORDER BY id", "child rowid 2 -> parent");
}

TEST_CASE("autogen: a new NOT NULL column without a DEFAULT is refused") {
    // Alone (ALTER TABLE cannot add it either) and on a table rebuilt anyway.
    for (const char* v2 : {"CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL);",
                           "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, code TEXT NOT NULL);",
                           "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL DEFAULT NULL);"}) {
        Gen g = generate(kItem, v2);
        INFO(v2 << "\n" << g.sql);
        CHECK(g.st.code() == Code::usage);
        CHECK_THAT(g.st.message(), Contains("'item'") && Contains("'code'") && Contains("NOT NULL without a DEFAULT"));
    }
}

// ---------------------------------------------------------------------------------------------
// Table kinds

TEST_CASE("autogen: change a WITHOUT ROWID table") {
    Case c;
    c.v1 = "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER, n TEXT) WITHOUT ROWID;";
    c.v2 = "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0 CHECK (v >= 0),"
           " n TEXT COLLATE NOCASE) WITHOUT ROWID;";
    c.rows = "INSERT INTO kv VALUES ('b', 2, NULL), ('a', 1, 'x');";
    c.keep = {{"SELECT k, v, n FROM kv ORDER BY k"}};
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

TEST_CASE("autogen: a rowid table becomes WITHOUT ROWID") {
    Case c;
    c.v1 = "CREATE TABLE kv(k TEXT PRIMARY KEY NOT NULL, v INTEGER);";
    c.v2 = "CREATE TABLE kv(k TEXT PRIMARY KEY NOT NULL, v INTEGER) WITHOUT ROWID;";
    c.rows = "INSERT INTO kv VALUES ('b', 2), ('a', 1);";
    c.keep = {{"SELECT k, v FROM kv ORDER BY k"}};
    round_trip(c);
}

TEST_CASE("autogen: a table with VIRTUAL and STORED generated columns is rebuilt (they are never copied)") {
    Case c;
    c.v1 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER,"
           " twice INTEGER AS (a * 2) VIRTUAL, total INTEGER AS (a + b) STORED);";
    c.v2 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER NOT NULL DEFAULT 0,"
           " twice INTEGER AS (a * 2) VIRTUAL, total INTEGER AS (a + b) STORED,"
           " thrice INTEGER AS (a * 3) STORED);";
    c.rows = "INSERT INTO g(id, a, b) VALUES (1, 1, 10), (2, 2, 20);";
    c.keep = {{"SELECT id, a, b, twice, total FROM g ORDER BY id"}};
    c.after_up = [](Db& db) {
        CHECK(rows(db, "SELECT thrice FROM g ORDER BY id") == std::vector<std::string>{"3", "6"});
    };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
    CHECK_THAT(t.up.sql, !Contains("twice\", ") && !Contains("total\", ") && !Contains("\"thrice\""));
}

TEST_CASE("autogen: add a VIRTUAL generated column (ALTER TABLE ADD COLUMN)") {
    Case c;
    c.v1 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER);";
    c.v2 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, twice INTEGER AS (a * 2) VIRTUAL);";
    c.rows = "INSERT INTO g VALUES (1, 1), (2, 2);";
    c.keep = {{"SELECT id, a FROM g ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(rows(db, "SELECT twice FROM g ORDER BY id") == std::vector<std::string>{"2", "4"}); };
    Trip t = round_trip(c);
    CHECK(!rebuilds(t.up));
}

TEST_CASE("autogen: change a generated column's expression") {
    Case c;
    c.v1 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, twice INTEGER AS (a * 2) STORED);";
    c.v2 = "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, twice INTEGER AS (a + a + 1) STORED);";
    c.rows = "INSERT INTO g(id, a) VALUES (1, 1), (2, 2);";
    c.keep = {{"SELECT id, a FROM g ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(rows(db, "SELECT twice FROM g ORDER BY id") == std::vector<std::string>{"3", "5"}); };
    c.after_down = [](Db& db) { CHECK(rows(db, "SELECT twice FROM g ORDER BY id") == std::vector<std::string>{"2", "4"}); };
    round_trip(c);
}

TEST_CASE("autogen: a table becomes STRICT") {
    Case c;
    c.v1 = "CREATE TABLE s(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score INTEGER);";
    c.v2 = "CREATE TABLE s(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score INTEGER, extra ANY) STRICT;";
    c.rows = "INSERT INTO s VALUES (1, 'a', 10), (2, 'b', NULL);";
    c.keep = {{"SELECT id, name, score FROM s ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(!db.exec("INSERT INTO s VALUES (3, 'c', 'not a number', NULL)").is_ok()); };
    c.after_down = [](Db& db) { CHECK(db.exec("INSERT INTO s VALUES (3, 'c', 'not a number')").is_ok()); };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

TEST_CASE("autogen: add a column to a STRICT table") {
    Case c;
    c.v1 = "CREATE TABLE s(id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;";
    c.v2 = "CREATE TABLE s(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score INTEGER NOT NULL DEFAULT 0) STRICT;";
    c.rows = "INSERT INTO s VALUES (1, 'a'), (2, 'b');";
    c.keep = {{"SELECT id, name FROM s ORDER BY id"}};
    Trip t = round_trip(c);
    CHECK(!rebuilds(t.up));
}

TEST_CASE("autogen: a rowid table without INTEGER PRIMARY KEY keeps its rowids through a rebuild") {
    Case c;
    c.v1 = "CREATE TABLE note(body TEXT, tag TEXT);"
           "CREATE TABLE code(code INT PRIMARY KEY, label TEXT);";
    c.v2 = "CREATE TABLE note(body TEXT NOT NULL DEFAULT '', tag TEXT COLLATE NOCASE);"
           "CREATE TABLE code(code INT PRIMARY KEY, label TEXT NOT NULL DEFAULT '');";
    c.rows = "INSERT INTO note(rowid, body, tag) VALUES (3, 'c', 'x'), (1, 'a', NULL), (100, 'z', 'y');"
             "INSERT INTO code(rowid, code, label) VALUES (50, 1, 'one'), (7, 2, 'two');";
    c.keep = {{"SELECT rowid, body, tag FROM note ORDER BY rowid"}, {"SELECT rowid, code, label FROM code ORDER BY rowid"}};
    c.after_up = [](Db& db) {
        exec(db, "INSERT INTO note(body) VALUES ('next')");
        CHECK(one(db, "SELECT max(rowid) FROM note") == "101");
    };
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

TEST_CASE("autogen: AUTOINCREMENT counter above max(rowid) survives the rebuild") {
    Case c;
    c.v1 = "CREATE TABLE ticket(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT);";
    c.v2 = "CREATE TABLE ticket(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '');";
    c.rows = "INSERT INTO ticket(title) VALUES ('a'), ('b'), ('c'), ('d'), ('e');"
             "DELETE FROM ticket WHERE id > 3;"
             "UPDATE sqlite_sequence SET seq = 41 WHERE name = 'ticket';";
    c.keep = {{"SELECT id, title FROM ticket ORDER BY id"}, {"SELECT name, seq FROM sqlite_sequence ORDER BY name"}};
    auto next = [](Db& db) {
        exec(db, "INSERT INTO ticket(title) VALUES ('next')");
        CHECK(one(db, "SELECT id FROM ticket WHERE title = 'next'") == "42");
    };
    c.after_up = next;
    c.after_down = next;
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

// ---------------------------------------------------------------------------------------------
// Indexes, triggers, views, virtual tables

TEST_CASE("autogen: change a partial index's WHERE (DROP INDEX + CREATE INDEX, no rebuild)") {
    Case c;
    c.v1 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, active INTEGER NOT NULL DEFAULT 1);"
           "CREATE INDEX item_active ON item(name) WHERE active = 1;";
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, active INTEGER NOT NULL DEFAULT 1);"
           "CREATE INDEX item_active ON item(name) WHERE active = 1 AND name IS NOT NULL;";
    c.rows = "INSERT INTO item VALUES (1, 'a', 1), (2, NULL, 1), (3, 'c', 0);";
    c.keep = {{"SELECT id, name, active FROM item ORDER BY id"}};
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, Contains("DROP INDEX \"item_active\""));
    CHECK(!rebuilds(t.up));
    CHECK(!t.up.fk_off);
}

TEST_CASE("autogen: collation change on an indexed column") {
    Case c;
    c.v1 = "CREATE TABLE tag(id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX tag_name ON tag(name);";
    c.v2 = "CREATE TABLE tag(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE); CREATE INDEX tag_name ON tag(name);";
    c.rows = "INSERT INTO tag VALUES (1, 'abc'), (2, 'Def');";
    c.keep = {{"SELECT id, name FROM tag ORDER BY id"}};
    c.after_up = [](Db& db) {
        CHECK(one(db, "SELECT id FROM tag WHERE name = 'ABC'") == "1");
        CHECK_THAT(one(db, "EXPLAIN QUERY PLAN SELECT id FROM tag WHERE name = 'ABC'"), Contains("tag_name"));
    };
    c.after_down = [](Db& db) { CHECK(rows(db, "SELECT id FROM tag WHERE name = 'ABC'").empty()); };
    round_trip(c);
}

TEST_CASE("autogen: triggers on the rebuilt table and on other tables that use it still fire") {
    Case c;
    const std::string rest =
        "CREATE TABLE log(id INTEGER PRIMARY KEY, msg TEXT);"
        "CREATE TABLE audit(id INTEGER PRIMARY KEY, item_id INTEGER);"
        "CREATE TRIGGER item_ins AFTER INSERT ON item BEGIN INSERT INTO log(msg) VALUES ('ins ' || NEW.name); END;"
        "CREATE TRIGGER audit_ins AFTER INSERT ON audit BEGIN UPDATE item SET qty = qty + 1 WHERE id = NEW.item_id; END;";
    c.v1 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);" + rest;
    c.v2 = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER NOT NULL DEFAULT 0 CHECK (qty >= 0));" + rest;
    c.rows = "INSERT INTO item VALUES (1, 'a', 0), (2, 'b', 5); INSERT INTO audit(item_id) VALUES (2);";
    c.keep = {{"SELECT id, name, qty FROM item ORDER BY id"}, {"SELECT id, msg FROM log ORDER BY id"},
              {"SELECT id, item_id FROM audit ORDER BY id"}};
    auto fire = [](Db& db) {
        exec(db, "INSERT INTO item(id, name, qty) VALUES (10, 'new', 0)");
        CHECK(one(db, "SELECT msg FROM log ORDER BY id DESC LIMIT 1") == "'ins new'");
        exec(db, "INSERT INTO audit(item_id) VALUES (10)");
        CHECK(one(db, "SELECT qty FROM item WHERE id = 10") == "1");
    };
    c.after_up = fire;
    c.after_down = fire;
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

namespace {
const std::string kDocTriggers =
    "CREATE TRIGGER doc_ai AFTER INSERT ON doc BEGIN"
    "  INSERT INTO doc_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;"
    "CREATE TRIGGER doc_ad AFTER DELETE ON doc BEGIN"
    "  INSERT INTO doc_fts(doc_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END;";
const std::string kDocRows =
    "INSERT INTO doc(id, title, body) VALUES (1, 'hello', 'first words'), (4, 'other', 'hello again'),"
    " (6, 'third', 'nothing here');";
}  // namespace

TEST_CASE("autogen: FTS5 external-content table whose content table is rebuilt still finds rows") {
    Case c;
    const std::string fts =
        "CREATE VIRTUAL TABLE doc_fts USING fts5(title, body, content='doc', content_rowid='id');" + kDocTriggers;
    c.v1 = "CREATE TABLE doc(id INTEGER PRIMARY KEY, title TEXT, body TEXT);" + fts;
    c.v2 = "CREATE TABLE doc(id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', body TEXT);" + fts;
    c.rows = kDocRows;
    c.keep = {{"SELECT id, title, body FROM doc ORDER BY id"},
              {"SELECT rowid, title FROM doc_fts WHERE doc_fts MATCH 'hello' ORDER BY rowid"}};
    auto search = [](Db& db) {
        exec(db, "INSERT INTO doc_fts(doc_fts) VALUES ('integrity-check')");
        exec(db, "INSERT INTO doc(id, title, body) VALUES (9, 'late', 'hello late')");
        CHECK(rows(db, "SELECT rowid FROM doc_fts WHERE doc_fts MATCH 'hello' ORDER BY rowid") ==
              std::vector<std::string>{"1", "4", "9"});
    };
    c.after_up = search;
    c.after_down = search;
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
}

TEST_CASE("autogen: FTS5 external-content table gains a column its content table gains") {
    Case c;
    c.v1 = "CREATE TABLE doc(id INTEGER PRIMARY KEY, title TEXT, body TEXT);"
           "CREATE VIRTUAL TABLE doc_fts USING fts5(title, body, content='doc', content_rowid='id');" +
           kDocTriggers;
    c.v2 = "CREATE TABLE doc(id INTEGER PRIMARY KEY, title TEXT, body TEXT, tags TEXT NOT NULL DEFAULT 'none');"
           "CREATE VIRTUAL TABLE doc_fts USING fts5(title, body, tags, content='doc', content_rowid='id');"
           "CREATE TRIGGER doc_ai AFTER INSERT ON doc BEGIN"
           "  INSERT INTO doc_fts(rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags); END;"
           "CREATE TRIGGER doc_ad AFTER DELETE ON doc BEGIN"
           "  INSERT INTO doc_fts(doc_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, old.tags); END;";
    c.rows = kDocRows;
    c.keep = {{"SELECT id, title, body FROM doc ORDER BY id"},
              {"SELECT rowid, title FROM doc_fts WHERE doc_fts MATCH 'hello' ORDER BY rowid"}};
    c.after_up = [](Db& db) {
        exec(db, "INSERT INTO doc_fts(doc_fts) VALUES ('integrity-check')");
        CHECK(rows(db, "SELECT rowid FROM doc_fts WHERE doc_fts MATCH 'tags:none' ORDER BY rowid") ==
              std::vector<std::string>{"1", "4", "6"});
    };
    round_trip(c);
}

TEST_CASE("autogen: an FTS5 table with its own content keeps its rows when it gains a column") {
    Case c;
    c.v1 = "CREATE VIRTUAL TABLE note USING fts5(title, body);";
    c.v2 = "CREATE VIRTUAL TABLE note USING fts5(title, body, tags);";
    c.rows = "INSERT INTO note(rowid, title, body) VALUES (3, 'hello', 'first'), (7, 'other', 'hello again'), (9, 'x', 'y');";
    c.keep = {{"SELECT rowid, title, body FROM note ORDER BY rowid"},
              {"SELECT rowid FROM note WHERE note MATCH 'hello' ORDER BY rowid"}};
    auto check = [](Db& db) { exec(db, "INSERT INTO note(note) VALUES ('integrity-check')"); };
    c.after_up = check;
    c.after_down = check;
    round_trip(c);
}

TEST_CASE("autogen: an R*Tree table keeps its rows when it changes") {
    Case c;
    c.v1 = "CREATE VIRTUAL TABLE box USING rtree(id, minx, maxx);";
    c.v2 = "CREATE VIRTUAL TABLE box USING rtree(id, minx, maxx, miny, maxy);";
    c.rows = "INSERT INTO box VALUES (1, 0, 10), (5, 2, 3);";
    c.keep = {{"SELECT id, minx, maxx FROM box ORDER BY id"}};
    round_trip(c);
}

TEST_CASE("autogen: a contentless FTS5 table is recreated without 'rebuild'") {
    Case c;
    c.v1 = kItem + "CREATE VIRTUAL TABLE words USING fts5(w, content='');";
    c.v2 = kItem + "CREATE VIRTUAL TABLE words USING fts5(w, extra, content='');";
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, !Contains("'rebuild'"));
}

TEST_CASE("autogen: rebuilding the parent of an ON DELETE CASCADE child keeps the children") {
    Case c;
    const std::string child =
        "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, v TEXT);";
    c.v1 = "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);" + child;
    c.v2 = "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '' CHECK (name <> 'x'));" + child;
    c.rows = "INSERT INTO parent VALUES (1, 'a'), (2, 'b');"
             "INSERT INTO child VALUES (1, 1, 'a1'), (2, 1, 'a2'), (3, 2, 'b1');";
    c.keep = {{"SELECT id, parent_id, v FROM child ORDER BY id"}, {"SELECT id, name FROM parent ORDER BY id"}};
    auto cascade = [](Db& db) {  // the foreign key still works
        exec(db, "DELETE FROM parent WHERE id = 1");
        CHECK(rows(db, "SELECT id FROM child") == std::vector<std::string>{"3"});
    };
    c.after_up = cascade;
    c.after_down = cascade;
    Trip t = round_trip(c);
    CHECK(t.up.fk_off);
    CHECK(rebuilds(t.up));
}

// ---------------------------------------------------------------------------------------------
// Renames and identity

TEST_CASE("autogen: rename a table: refused without a hint naming both, data kept with it") {
    const std::string v1 =
        "CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE INDEX person_name_len ON person(length(name));"
        "CREATE TABLE pet(id INTEGER PRIMARY KEY, owner INTEGER REFERENCES person(id));"
        "CREATE VIEW names AS SELECT name FROM person;";
    const std::string v2 =
        "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE INDEX person_name_len ON people(length(name));"
        "CREATE TABLE pet(id INTEGER PRIMARY KEY, owner INTEGER REFERENCES people(id));"
        "CREATE VIEW names AS SELECT name FROM people;";
    Gen refused = generate(v1, v2);
    CHECK(refused.st.code() == Code::usage);
    CHECK_THAT(refused.st.message(), Contains("person") && Contains("people") && Contains("--rename"));

    Case c;
    c.v1 = v1;
    c.v2 = v2;
    c.trn = {{"person", "people"}};
    c.rows = "INSERT INTO person VALUES (3, 'ann'), (8, 'bob'); INSERT INTO pet VALUES (1, 8), (2, NULL);";
    c.keep = {{"SELECT id, name FROM person ORDER BY id", "SELECT id, name FROM people ORDER BY id"},
              {"SELECT id, owner FROM pet ORDER BY id"},
              {"SELECT name FROM names ORDER BY name"}};
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, Contains("ALTER TABLE \"person\" RENAME TO \"people\""));
    CHECK(!rebuilds(t.up));  // ALTER TABLE RENAME updates pet's REFERENCES itself
    CHECK(!t.up.fk_off);
}

TEST_CASE("autogen: rename a column: refused without a hint naming both, data kept with it") {
    const std::string v1 =
        "CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER);"
        "CREATE INDEX person_age ON person(age, name);"
        "CREATE VIEW names AS SELECT name FROM person;";
    const std::string v2 =
        "CREATE TABLE person(id INTEGER PRIMARY KEY, full_name TEXT NOT NULL UNIQUE, age INTEGER);"
        "CREATE INDEX person_age ON person(age, full_name);"
        "CREATE VIEW names AS SELECT full_name AS name FROM person;";
    Gen refused = generate(v1, v2);
    CHECK(refused.st.code() == Code::usage);
    CHECK_THAT(refused.st.message(), Contains("name") && Contains("full_name") && Contains("person"));

    Case c;
    c.v1 = v1;
    c.v2 = v2;
    c.crn = {{"person.name", "full_name"}};
    c.rows = "INSERT INTO person VALUES (3, 'ann', 30), (8, 'bob', NULL);";
    c.keep = {{"SELECT id, name, age FROM person ORDER BY id", "SELECT id, full_name, age FROM person ORDER BY id"},
              {"SELECT name FROM names ORDER BY name"}};
    Trip t = round_trip(c);
    CHECK_THAT(t.up.sql, Contains("ALTER TABLE \"person\" RENAME COLUMN \"name\" TO \"full_name\""));
    CHECK(!rebuilds(t.up));
}

TEST_CASE("autogen: rename a table and one of its columns together") {
    Case c;
    c.v1 = "CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
    c.v2 = "CREATE TABLE people(id INTEGER PRIMARY KEY, full_name TEXT NOT NULL);";
    c.trn = {{"person", "people"}};
    c.crn = {{"people.name", "full_name"}};  // the table by its new name: renames apply in order
    c.rows = "INSERT INTO person VALUES (3, 'ann'), (8, 'bob');";
    c.keep = {{"SELECT id, name FROM person ORDER BY id", "SELECT id, full_name FROM people ORDER BY id"}};
    Trip t = round_trip(c);
    CHECK(!rebuilds(t.up));
}

TEST_CASE("autogen: rename a table that is rebuilt too") {
    Case c;
    c.v1 = "CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT);"
           "CREATE INDEX person_name ON person(name);"
           "CREATE TABLE pet(id INTEGER PRIMARY KEY, owner INTEGER REFERENCES person(id) ON DELETE CASCADE);";
    c.v2 = "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '' CHECK (name <> 'x'));"
           "CREATE INDEX person_name ON people(name);"
           "CREATE TABLE pet(id INTEGER PRIMARY KEY, owner INTEGER REFERENCES people(id) ON DELETE CASCADE);";
    c.trn = {{"person", "people"}};
    c.rows = "INSERT INTO person VALUES (3, 'ann'), (8, 'bob'); INSERT INTO pet VALUES (1, 8), (2, 3);";
    c.keep = {{"SELECT id, name FROM person ORDER BY id", "SELECT id, name FROM people ORDER BY id"},
              {"SELECT id, owner FROM pet ORDER BY id"}};
    Trip t = round_trip(c);
    CHECK(rebuilds(t.up));
    CHECK_THAT(t.up.sql, !Contains("pet__migrator_new"));  // pet's REFERENCES follow the rename
}

TEST_CASE("autogen: rename a parent key column that a child references") {
    Case c;
    c.v1 = "CREATE TABLE p(id INTEGER PRIMARY KEY, k TEXT UNIQUE);"
           "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k));";
    c.v2 = "CREATE TABLE p(id INTEGER PRIMARY KEY, code TEXT UNIQUE);"
           "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(code));";
    c.crn = {{"p.k", "code"}};
    c.rows = "INSERT INTO p VALUES (1, 'a'), (2, 'b'); INSERT INTO ch VALUES (1, 'b'), (2, NULL);";
    c.keep = {{"SELECT id, k FROM p ORDER BY id", "SELECT id, code FROM p ORDER BY id"},
              {"SELECT id, pk FROM ch ORDER BY id"}};
    c.after_up = [](Db& db) { CHECK(!db.exec("INSERT INTO ch VALUES (3, 'zzz')").is_ok()); };
    Trip t = round_trip(c);
    CHECK(!rebuilds(t.up));
    CHECK(!t.up.fk_off);
}

TEST_CASE("autogen: a table dropped next to a new one needs --allow-drop") {
    const std::string v1 = "CREATE TABLE old_stuff(id INTEGER PRIMARY KEY);" + kItem;
    const std::string v2 = "CREATE TABLE new_stuff(id INTEGER PRIMARY KEY, x TEXT);" + kItem;
    CHECK(generate(v1, v2).st.code() == Code::usage);
    Case c;
    c.v1 = v1;
    c.v2 = v2;
    c.allow_drop = true;
    c.rows = kItemRows;
    c.keep = {{"SELECT id, name FROM item ORDER BY id"}};
    round_trip(c);
}

TEST_CASE("autogen: a reformatted but identical schema generates no SQL") {
    const std::string v1 =
        "CREATE TABLE agent(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
        "CREATE TABLE task(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " agent_id INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,"
        " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),"
        " prio INTEGER NOT NULL DEFAULT 0 CHECK (prio BETWEEN 0 AND 9),"
        " code VARCHAR(10), amount DECIMAL(10,2) DEFAULT (1 + 2), due TEXT DEFAULT (date('now')));"
        "CREATE INDEX task_open ON task(agent_id, prio DESC) WHERE status = 'open';"
        "CREATE INDEX task_lower ON task(lower(status));"
        "CREATE VIEW open_task AS SELECT id, agent_id FROM task WHERE status = 'open';"
        "CREATE TRIGGER task_done AFTER UPDATE OF status ON task WHEN NEW.status = 'done'"
        " BEGIN UPDATE task SET prio = 0 WHERE id = NEW.id; END;";
    const std::string v2 =
        "create table \"agent\" (\n"
        "    \"id\"   integer   primary key,\n"
        "    [name] text not null unique,\n"
        "    `created_at` text not null default current_timestamp\n"
        ");\n"
        "create table task (id integer primary key autoincrement, agent_id integer not null\n"
        "    references \"agent\" ( id ) on delete cascade,\n"
        "  status text not null default 'open' check(status in('open','done')),\n"
        "  prio integer not null default 0 check (prio between 0 and 9),\n"
        "  code varchar( 10 ), amount decimal(10, 2) default (1+2), due text default (DATE('now'))) ;\n"
        "create index \"task_open\" on task (agent_id, prio desc) where status='open';\n"
        "create index task_lower on task(lower( status ));\n"
        "create view open_task as select id,agent_id from task where status = 'open';\n"
        "create trigger task_done after update of status on task when new.status='done'\n"
        "begin update task set prio=0 where id=new.id; end;\n";
    for (auto [from, to] : {std::pair{v1, v2}, std::pair{v2, v1}}) {
        Gen g = generate(from, to);
        INFO(g.st.message() << "\n" << g.sql);
        REQUIRE(g.st.is_ok());
        CHECK(g.sql.empty());
        CHECK(!g.fk_off);
    }
}

// ---------------------------------------------------------------------------------------------
// The CLI, end to end against the reference chain.

namespace {

// The SQL between `const char* const kUp = R"migrator_sql(` and `)migrator_sql"` in a
// generated plugin source.
std::string embedded_sql(const std::string& src, const std::string& var) {
    const std::string open = "const char* const " + var + " = R\"migrator_sql(\n";
    const size_t a = src.find(open);
    REQUIRE(a != std::string::npos);
    const size_t b = src.find(")migrator_sql\"", a);
    REQUIRE(b != std::string::npos);
    return src.substr(a + open.size(), b - a - open.size());
}

}  // namespace

TEST_CASE("autogen: migrator new prints the next plugin for an added table and column") {
    testing::TempDir tmp;
    testing::install_plugins(tmp / "plugins", testing::reference_plugins());
    const std::string head_ddl = testing::read_file(fs::path(REPO_DIR) / "schemas" / "schema.sql");
    std::string ddl = head_ddl;
    const std::string agent_tail = "name TEXT NOT NULL UNIQUE,\n    created_at TEXT NOT NULL);";
    const size_t at = ddl.find(agent_tail);
    REQUIRE(at != std::string::npos);
    ddl.replace(at, agent_tail.size(), "name TEXT NOT NULL UNIQUE,\n    created_at TEXT NOT NULL,\n    email TEXT);");
    ddl += "\nCREATE TABLE thing(id INTEGER PRIMARY KEY, agent_id INTEGER REFERENCES agent(id), label TEXT NOT NULL);\n";
    testing::write_file(tmp / "schema.sql", ddl);
    fs::create_directories(tmp / "out");

    auto r = testing::run_migrator("--plugins '" + (tmp / "plugins").string() + "' new add_things --schema '" +
                                   (tmp / "schema.sql").string() + "' --out '" + (tmp / "out").string() + "' --print");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("MIGRATOR_PLUGIN(\"0007_add_things\", \"0006_frozen_schema_fingerprints\", \"add_things\""));
    CHECK_THAT(r.out, Contains("CREATE TABLE thing"));
    CHECK_THAT(r.out, Contains("ALTER TABLE \"agent\" ADD COLUMN email TEXT"));
    CHECK(fs::is_empty(tmp / "out"));  // --print writes nothing

    // Its SQL does what it says, both ways, on rows of the head schema.
    const std::string up = embedded_sql(r.out, "kUp"), down = embedded_sql(r.out, "kDown");
    const bool fk_off = r.out.find("MIG_FLAG_FOREIGN_KEYS_OFF") != std::string::npos;
    Db db = open_db(head_ddl);
    exec(db, "INSERT INTO agent VALUES (1, 'a', 't0'), (2, 'b', 't1');"
             "INSERT INTO task(id, agent_id, title, created_at) VALUES (1, 1, 'x', 't'), (2, 2, 'y', 't');");
    const std::string keep = "SELECT a.id, a.name, t.id, t.title FROM agent a JOIN task t ON t.agent_id = a.id ORDER BY 1, 3";
    const auto before = rows(db, keep);
    Status st = apply(db, up, fk_off);
    INFO(up << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, ddl, "after up");
    CHECK(rows(db, keep) == before);
    st = apply(db, down, fk_off);
    INFO(down << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, head_ddl, "after down");
    CHECK(rows(db, keep) == before);
}

TEST_CASE("autogen: migrator new with the head schema says there is nothing to generate") {
    testing::TempDir tmp;
    testing::install_plugins(tmp / "plugins", testing::reference_plugins());
    fs::copy_file(fs::path(REPO_DIR) / "schemas" / "schema.sql", tmp / "schema.sql");
    fs::create_directories(tmp / "out");
    auto r = testing::run_migrator("--plugins '" + (tmp / "plugins").string() + "' new same --schema '" +
                                   (tmp / "schema.sql").string() + "' --out '" + (tmp / "out").string() + "'");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("nothing to generate"));
    CHECK(fs::is_empty(tmp / "out"));
}

TEST_CASE("autogen: migrator new with --rename hints for a table and its column") {
    testing::TempDir tmp;
    testing::install_plugins(tmp / "plugins", testing::reference_plugins());
    const std::string head_ddl = testing::read_file(fs::path(REPO_DIR) / "schemas" / "schema.sql");
    std::string ddl = head_ddl;
    for (auto [from, to] : {std::pair<std::string, std::string>{"CREATE TABLE agent_tool(", "CREATE TABLE agent_tools("},
                            {"config TEXT NOT NULL DEFAULT '{}'", "settings TEXT NOT NULL DEFAULT '{}'"}}) {
        const size_t at = ddl.find(from);
        REQUIRE(at != std::string::npos);
        ddl.replace(at, from.size(), to);
    }
    testing::write_file(tmp / "schema.sql", ddl);
    const std::string base = "--plugins '" + (tmp / "plugins").string() + "' new rename_tools --schema '" +
                             (tmp / "schema.sql").string() + "' --print";

    auto refused = testing::run_migrator(base);
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Contains("agent_tool") && Contains("agent_tools"));

    // The column hint names the table as it was: it is renamed in the same migration.
    auto r = testing::run_migrator(base + " --rename agent_tool:agent_tools --rename agent_tool.config:settings");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const std::string up = embedded_sql(r.out, "kUp"), down = embedded_sql(r.out, "kDown");
    CHECK(up.find("__migrator_new") == std::string::npos);
    const bool fk_off = r.out.find("MIG_FLAG_FOREIGN_KEYS_OFF") != std::string::npos;
    Db db = open_db(head_ddl);
    exec(db, "INSERT INTO agent VALUES (1, 'a', 't0');"
             "INSERT INTO agent_tool(id, agent_id, name, config) VALUES (4, 1, 'grep', '{\"x\":1}');");
    Status st = apply(db, up, fk_off);
    INFO(up << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, ddl, "after up");
    CHECK(one(db, "SELECT id || name || settings FROM agent_tools") == "'4grep{\"x\":1}'");
    st = apply(db, down, fk_off);
    INFO(down << "\n-> " << st.message());
    REQUIRE(st.is_ok());
    check_db(db, head_ddl, "after down");
    CHECK(one(db, "SELECT id || name || config FROM agent_tool") == "'4grep{\"x\":1}'");
}
