#include <catch2/catch.hpp>

#include <filesystem>

#include "db.h"
#include "schema_model.h"
#include "test_support.h"

using namespace migrator;

namespace {

SchemaModel model_of(const std::string& ddl) {
    Db db;
    REQUIRE(Db::open(":memory:", Db::Mode::create, 1000, db).is_ok());
    Status st = db.exec(ddl);
    INFO(st.message());
    REQUIRE(st.is_ok());
    SchemaModel m;
    REQUIRE(read_schema(db, m).is_ok());
    return m;
}

std::vector<SchemaDifference> diff_of(const std::string& a, const std::string& b) {
    return diff_schema(model_of(a), model_of(b));
}

bool mentions(const std::vector<SchemaDifference>& d, const std::string& object, const std::string& attr) {
    for (const auto& x : d)
        if (x.object == object && x.attribute == attr) return true;
    return false;
}

}  // namespace

TEST_CASE("schema: normalize_sql folds whitespace, comments and needless quotes") {
    CHECK(normalize_sql("CREATE  VIEW \"v\" AS\n  SELECT a ,b FROM [t] -- x\n;") ==
          normalize_sql("CREATE VIEW v AS SELECT a, b FROM t"));
    CHECK(normalize_sql("SELECT 'a  b'") == "SELECT 'a  b'");  // string literals untouched
    CHECK(normalize_sql("SELECT \"two words\"") == "SELECT \"two words\"");
    CHECK(normalize_sql("SELECT 'it''s'") == "SELECT 'it''s'");
}

TEST_CASE("schema: ALTER TABLE ADD COLUMN equals the same column declared in CREATE TABLE") {
    auto d = diff_of("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL DEFAULT 'x')",
                     "CREATE TABLE t(a INTEGER PRIMARY KEY); ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x'");
    INFO(format_diff(d));
    CHECK(d.empty());
}

TEST_CASE("schema: a renamed rebuilt table equals the table created directly") {
    auto d = diff_of(
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT CHECK (b <> ''))",
        "CREATE TABLE t_new(a INTEGER PRIMARY KEY, b TEXT CHECK(b<>'')); ALTER TABLE t_new RENAME TO t");
    INFO(format_diff(d));
    CHECK(d.empty());
}

TEST_CASE("schema: column differences are named with expected and actual") {
    auto d = diff_of("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL COLLATE NOCASE DEFAULT 1)",
                     "CREATE TABLE t(a INTEGER PRIMARY KEY, b INTEGER)");
    CHECK(mentions(d, "table t column b", "type"));
    CHECK(mentions(d, "table t column b", "NOT NULL"));
    CHECK(mentions(d, "table t column b", "collation"));
    CHECK(mentions(d, "table t column b", "default"));
    for (const auto& x : d)
        if (x.attribute == "type") {
            CHECK(x.expected == "TEXT");
            CHECK(x.actual == "INTEGER");
        }
}

TEST_CASE("schema: missing and extra tables, indexes, views and triggers are reported") {
    auto d = diff_of(
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX t_b ON t(b);"
        "CREATE VIEW v AS SELECT a FROM t; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;",
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); CREATE TABLE extra(x)");
    CHECK(mentions(d, "index t_b", "existence"));
    CHECK(mentions(d, "view v", "existence"));
    CHECK(mentions(d, "trigger tr", "existence"));
    CHECK(mentions(d, "table extra", "existence"));
}

TEST_CASE("schema: CHECK, foreign key, partial index, DESC, WITHOUT ROWID, STRICT, AUTOINCREMENT differences") {
    CHECK(mentions(diff_of("CREATE TABLE t(a INT CHECK (a > 0))", "CREATE TABLE t(a INT CHECK (a >= 0))"),
                   "table t", "CHECK constraints"));
    CHECK(mentions(diff_of("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(p INT REFERENCES p(id) ON DELETE CASCADE)",
                           "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(p INT REFERENCES p(id))"),
                   "table c", "foreign keys"));
    CHECK(mentions(diff_of("CREATE TABLE t(a INT); CREATE INDEX i ON t(a) WHERE a > 0",
                           "CREATE TABLE t(a INT); CREATE INDEX i ON t(a)"),
                   "index i", "where/expression"));
    CHECK(mentions(diff_of("CREATE TABLE t(a INT); CREATE INDEX i ON t(a DESC)",
                           "CREATE TABLE t(a INT); CREATE INDEX i ON t(a)"),
                   "index i", "keys"));
    CHECK(mentions(diff_of("CREATE TABLE t(a INT PRIMARY KEY) WITHOUT ROWID", "CREATE TABLE t(a INT PRIMARY KEY)"),
                   "table t", "WITHOUT ROWID"));
    CHECK(mentions(diff_of("CREATE TABLE t(a INT) STRICT", "CREATE TABLE t(a INT)"), "table t", "STRICT"));
    CHECK(mentions(diff_of("CREATE TABLE t(a INTEGER PRIMARY KEY AUTOINCREMENT)", "CREATE TABLE t(a INTEGER PRIMARY KEY)"),
                   "table t column a", "AUTOINCREMENT"));
}

TEST_CASE("schema: bookkeeping tables are excluded") {
    auto d = diff_of("CREATE TABLE t(a)", "CREATE TABLE t(a); CREATE TABLE migrator_version(x)");
    INFO(format_diff(d));
    CHECK(d.empty());
}

// Regression: `check` compared keyword case and type spacing ("integer" vs "INTEGER",
// "VARCHAR( 10 )" vs "VARCHAR(10)", "check (x in (1))" vs "CHECK (x IN (1))") while `migrator
// new` folded them; the model is folded once now, in read_schema, for both.
TEST_CASE("schema: keyword case and type spacing do not count (check folds them as new does)") {
    auto d = diff_of(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, code VARCHAR(10) NOT NULL DEFAULT 'a',"
        " n DECIMAL(10,2) CHECK (n IN (1, 2)), d TEXT DEFAULT (date('now')));"
        "CREATE INDEX t_code ON t(code) WHERE n IS NOT NULL;"
        "CREATE VIEW v AS SELECT id, code FROM t WHERE n IS NULL;"
        "CREATE TRIGGER t_touch AFTER UPDATE OF code ON t BEGIN UPDATE t SET n = 1 WHERE id = NEW.id; END;",
        "create table t(id integer primary key, code varchar( 10 ) not null default 'a',"
        " n decimal( 10 , 2 ) check(n in(1,2)), d text default (DATE('now')));"
        "create index t_code on t(code) where n is not null;"
        "create view v as select id, code from t where n is null;"
        "create trigger t_touch after update of code on t begin update t set n = 1 where id = new.id; end;");
    INFO(format_diff(d));
    CHECK(d.empty());
    // String literals keep their case: they are values.
    auto lit = diff_of("CREATE TABLE t(a TEXT DEFAULT 'x' CHECK (a <> 'Y'))", "CREATE TABLE t(a TEXT DEFAULT 'X' CHECK (a <> 'y'))");
    CHECK(mentions(lit, "table t column a", "default"));
    CHECK(mentions(lit, "table t", "CHECK constraints"));
}

TEST_CASE("schema guard: check passes on a reformat-only change of schema.sql") {
    namespace fs = std::filesystem;
    testing::TempDir tmp;
    testing::install_plugins(tmp / "plugins", testing::reference_plugins());
    // Lower case and spaced out everywhere outside string literals: same schema.
    const std::string ddl = testing::read_file(fs::path(REPO_DIR) / "schemas" / "schema.sql");
    std::string reformatted;
    bool in_string = false, in_comment = false;
    for (char c : ddl) {
        if (in_comment) in_comment = c != '\n';
        else if (c == '\'') in_string = !in_string;
        else if (!in_string && c == '-') in_comment = true;  // the file's only '-' start comments
        if (in_string || in_comment || c == '\'') reformatted += c;
        else if (c == '(' || c == ',') reformatted += std::string(" ") + c + "  ";
        else reformatted += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    REQUIRE(reformatted != ddl);
    REQUIRE(reformatted.find("create table agent (") != std::string::npos);
    testing::write_file(tmp / "schema.sql", reformatted);
    auto r = testing::run_migrator("-q --plugins '" + (tmp / "plugins").string() + "' check --schema '" +
                                   (tmp / "schema.sql").string() + "' --no-populated");
    INFO(reformatted << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
}
