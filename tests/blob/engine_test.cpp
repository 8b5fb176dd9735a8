// End-to-end tests of the blob engine (host/blob_engine.cpp) through the real binary, on the
// reference app's database: the revision 0005_message_v2 (saved_agent_message.data,
// SavedAgentMessage v1 -> v2) run by `migrator up` / `down` / `blob`, every row checked
// against the transform (plugins/message_v2_transform.hpp) called in this process.
//
// Data: bench/message_gen.hpp, the benchmark's deterministic generator of the realistic mix
// of shared/REFERENCE-WORKLOAD.md.
//
// "Written exactly once" is observed with an AFTER UPDATE trigger that logs every write of
// saved_agent_message.data (the host runs the trigger inside its own transaction): each
// changed row must be logged once, unchanged and NULL rows never.
//
// What the engine does with a value stored as a BLOB (not TEXT) in the TEXT column: it hands
// the blob's bytes to the transform like text, and writes the result back as a BLOB; the
// storage class is kept (asserted below). NULL values are skipped (not scanned).
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../chain/chain_support.h"
#include "message_gen.hpp"
#include "message_v2_transform.hpp"

namespace {

namespace fs = std::filesystem;
using chaintest::q;
using chaintest::Sqlite;
using chaintest::Workspace;
using migrator::message_v2::message_v1_to_v2;
using migrator::message_v2::message_v2_to_v1;
using migrator::message_v2::Outcome;

constexpr const char* kRev4 = "0004_task_status_check";
constexpr const char* kRev5 = "0005_message_v2";
constexpr const char* kHead = "0006_frozen_schema_fingerprints";  // no SQL, after the blob revision

struct Cell {
    int type = SQLITE_NULL;  // SQLITE_NULL, SQLITE_TEXT, SQLITE_BLOB (others do not occur here)
    std::string bytes;
    bool operator==(const Cell& o) const { return type == o.type && bytes == o.bytes; }
};
using Snapshot = std::map<std::int64_t, Cell>;

// Every row of saved_agent_message: rowid -> (storage class, bytes).
Snapshot snapshot(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(s.get(), "SELECT rowid, data FROM saved_agent_message ORDER BY rowid", -1, &st,
                               nullptr) == SQLITE_OK);
    Snapshot out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        Cell c;
        c.type = sqlite3_column_type(st, 1);
        const void* p = c.type == SQLITE_BLOB ? sqlite3_column_blob(st, 1)
                                              : static_cast<const void*>(sqlite3_column_text(st, 1));
        if (c.type != SQLITE_NULL && p != nullptr)
            c.bytes.assign(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, 1)));
        out.emplace(sqlite3_column_int64(st, 0), std::move(c));
    }
    sqlite3_finalize(st);
    REQUIRE(rc == SQLITE_DONE);
    return out;
}

struct Expected {
    Snapshot rows;
    std::set<std::int64_t> changed;  // rowids the transform changes
    std::size_t scanned = 0, unchanged = 0;
};

// What the revision must make of `in`: the transform applied once to every non-NULL value, in
// this process. Every row must be valid for it (the data sets here have no bad rows).
Expected expect(const Snapshot& in, bool up) {
    Expected e;
    std::string out, err;
    for (const auto& [rowid, cell] : in) {
        e.rows[rowid] = cell;
        if (cell.type == SQLITE_NULL) continue;
        ++e.scanned;
        out.clear();
        err.clear();
        Outcome o = up ? message_v1_to_v2(cell.bytes, out, err) : message_v2_to_v1(cell.bytes, out, err);
        if (o == Outcome::error) FAIL("rowid " << rowid << ": " << err << ": " << cell.bytes.substr(0, 300));
        if (o == Outcome::changed) {
            e.rows[rowid].bytes = out;
            e.changed.insert(rowid);
        } else {
            ++e.unchanged;
        }
    }
    return e;
}

std::string shorten(const std::string& s) { return s.size() > 400 ? s.substr(0, 400) + "..." : s; }

// The DB's rows must be exactly `want`: same rowids, storage classes and bytes.
void check_rows(const fs::path& db, const Snapshot& want) {
    const Snapshot got = snapshot(db);
    CHECK(got.size() == want.size());
    std::size_t bad = 0;
    for (const auto& [rowid, cell] : want) {
        auto it = got.find(rowid);
        if (it != got.end() && it->second == cell) continue;
        if (++bad > 3) continue;  // show the first few
        INFO("rowid " << rowid);
        INFO("want (type " << cell.type << "): " << shorten(cell.bytes));
        INFO("got  (type " << (it == got.end() ? -1 : it->second.type)
                           << "): " << (it == got.end() ? "<missing>" : shorten(it->second.bytes)));
        CHECK(false);
    }
    CHECK(bad == 0);
}

// A workspace with every reference plugin and the DB at 0004_task_status_check.
struct RefDb {
    Workspace ws{testing::reference_plugins()};
    RefDb() {
        auto r = ws.run("-q up --to " + std::string(kRev4));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
    }
};

// Adds an agent and a task, and the audit trigger: every write of data is logged in `touched`.
void prepare(Sqlite& s) {
    s.exec("INSERT INTO agent(id, name, created_at) VALUES (1, 'a', '2026-01-01T00:00:00Z');"
           "INSERT INTO task(id, agent_id, title, created_at) VALUES (1, 1, 't', '2026-01-01T00:00:00Z');"
           "CREATE TABLE touched(row INTEGER NOT NULL);"
           "CREATE TRIGGER touched_log AFTER UPDATE OF data ON saved_agent_message "
           "BEGIN INSERT INTO touched(row) VALUES (old.rowid); END;");
}

// Inserts rows (rowid, value) in one transaction; as_blob stores the value as a BLOB.
void insert_rows(Sqlite& s, const std::vector<std::pair<std::int64_t, std::string>>& rows, bool as_blob = false) {
    s.exec("BEGIN");
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(s.get(),
                               "INSERT INTO saved_agent_message(id, task_id, created_at, data) "
                               "VALUES (?1, 1, '2026-01-01T00:00:00Z', ?2)",
                               -1, &st, nullptr) == SQLITE_OK);
    for (const auto& [id, v] : rows) {
        sqlite3_bind_int64(st, 1, id);
        if (as_blob) sqlite3_bind_blob64(st, 2, v.data(), v.size(), SQLITE_TRANSIENT);
        else sqlite3_bind_text64(st, 2, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        if (sqlite3_step(st) != SQLITE_DONE) FAIL("inserting rowid " << id << ": " << sqlite3_errmsg(s.get()));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    s.exec("COMMIT");
}

// n generated v1 rows with ids first, first+step, ...
std::vector<std::pair<std::int64_t, std::string>> generated(std::size_t n, const msggen::Options& o,
                                                            std::int64_t first = 1, std::int64_t step = 1) {
    std::vector<std::pair<std::int64_t, std::string>> rows;
    rows.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        msggen::Row r = msggen::make_row(o, i);
        if (r.bad) FAIL("generated row " << i << " is bad");
        rows.emplace_back(first + static_cast<std::int64_t>(i) * step, std::move(r.json));
    }
    return rows;
}

// Small rows: many of them cross many batches (the engine reads 4096 rows per batch).
msggen::Options small_rows() {
    msggen::Options o;
    o.seed = 7;
    o.content_median = 24;
    o.content_sigma = 0.5;
    o.max_content = 200;
    return o;
}

// Rows whose second application differs from the first (the transform is not idempotent):
// an `arguments` string holding a JSON string becomes that string, which a second run would
// wrap in {"_raw":...}.
std::vector<std::pair<std::int64_t, std::string>> not_idempotent_rows(std::int64_t first) {
    return {
        {first, R"({"role":"assistant","content":"x","tool_calls":[{"id":"c","name":"f","arguments":"\"s\""}]})"},
        {first + 1, R"({"role":"assistant","tool_calls":[{"name":"g","arguments":"\"{\\\"a\\\":1}\""}],"legacy_flag":true})"},
    };
}

// rowid -> number of logged writes.
std::map<std::int64_t, int> touched(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    std::map<std::int64_t, int> out;
    for (const auto& row : s.rows("SELECT row, count(*) FROM touched GROUP BY row"))
        out[std::stoll(row[0].substr(2))] = static_cast<int>(std::stoll(row[1].substr(2)));
    return out;
}

// Every changed row written exactly once, no other row written.
void check_written_once(const fs::path& db, const std::set<std::int64_t>& changed) {
    const auto t = touched(db);
    std::size_t twice = 0, extra = 0;
    for (const auto& [rowid, n] : t) {
        if (n != 1) ++twice;
        if (!changed.count(rowid)) ++extra;
    }
    CHECK(twice == 0);
    CHECK(extra == 0);
    CHECK(t.size() == changed.size());
}

// The blob statistics of `up --json` / `down --json` (first step, first blob migration).
struct Counts {
    std::int64_t scanned = -1, changed = -1, unchanged = -1, failed = -1;
};
Counts blob_counts(const std::string& json_out) {
    chaintest::Json j(json_out);
    // The step of the blob revision (0005), wherever the plan puts it (down: after 0006).
    simdjson::dom::element b;
    for (auto step : j.root()["steps"].get_array())
        if (step["blobs"].get_array().size() > 0) {
            b = step["blobs"].at(0);
            break;
        }
    return {int64_t(b["scanned"]), int64_t(b["changed"]), int64_t(b["unchanged"]), int64_t(b["failed"])};
}

void clear_touched(const fs::path& db) {
    Sqlite s(db);
    s.exec("DELETE FROM touched");
}

// Runs the migrator with `input` on stdin.
testing::RunResult run_with_stdin(const std::string& args, const std::string& input) {
    testing::TempDir tmp;
    const fs::path in = tmp / "in", out = tmp / "out", err = tmp / "err";
    testing::write_file(in, input);
    const std::string cmd = "'" MIGRATOR_BIN "' " + args + " <" + q(in) + " >" + q(out) + " 2>" + q(err);
    const int rc = std::system(cmd.c_str());
    testing::RunResult r;
    r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
    r.out = testing::read_file(out);
    r.err = testing::read_file(err);
    return r;
}

bool has_file(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

}  // namespace

TEST_CASE("up migrates every generated row exactly once, as the transform says", "[blob_engine]") {
    RefDb ref;
    {
        Sqlite s(ref.ws.db);
        prepare(s);
        insert_rows(s, generated(3000, msggen::Options{}));
        insert_rows(s, not_idempotent_rows(5001));
    }
    const Expected want = expect(snapshot(ref.ws.db), true);
    REQUIRE(want.scanned == 3002);
    REQUIRE(want.changed.size() > 2900);

    auto r = ref.ws.run("-q --json up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(chaintest::recorded_revision(ref.ws.db) == kHead);
    check_rows(ref.ws.db, want.rows);
    check_written_once(ref.ws.db, want.changed);
    const Counts c = blob_counts(r.out);
    CHECK(c.scanned == static_cast<std::int64_t>(want.scanned));
    CHECK(c.changed == static_cast<std::int64_t>(want.changed.size()));
    CHECK(c.unchanged == static_cast<std::int64_t>(want.unchanged));
    CHECK(c.failed == 0);

    // A second up is a no-op: nothing is transformed twice.
    clear_touched(ref.ws.db);
    r = ref.ws.run("-q up");
    REQUIRE(r.exit_code == 0);
    check_rows(ref.ws.db, want.rows);
    CHECK(touched(ref.ws.db).empty());
}

TEST_CASE("up over more than 100k small rows crosses many batches, each row once, any worker count",
          "[blob_engine]") {
    RefDb ref;
    {
        Sqlite s(ref.ws.db);
        prepare(s);
        // rowids with gaps (step 3), plus the non-idempotent rows at the far end.
        insert_rows(s, generated(120000, small_rows(), 10, 3));
        insert_rows(s, not_idempotent_rows(1000000));
    }
    const Expected want = expect(snapshot(ref.ws.db), true);
    REQUIRE(want.scanned == 120002);

    const std::vector<std::string> variants = {"", "--workers 1", "--workers 3"};
    for (const auto& w : variants) {
        INFO("workers option: '" << w << "'");
        {
            Workspace ws(testing::reference_plugins());
            fs::copy_file(ref.ws.db, ws.db);
            auto r = ws.run("-q --json " + w + (w.empty() ? "" : " ") + "up");
            INFO(r.err);
            REQUIRE(r.exit_code == 0);
            CHECK(chaintest::recorded_revision(ws.db) == kHead);
            check_rows(ws.db, want.rows);
            check_written_once(ws.db, want.changed);
            const Counts c = blob_counts(r.out);
            CHECK(c.scanned == 120002);
            CHECK(c.changed == static_cast<std::int64_t>(want.changed.size()));
        }
    }
}

TEST_CASE("the result does not depend on the worker count (realistic rows)", "[blob_engine]") {
    RefDb ref;
    {
        Sqlite s(ref.ws.db);
        prepare(s);
        // Big enough rows that the 16 MB batch limit splits them into several batches too.
        msggen::Options o;
        o.seed = 99;
        o.content_median = 4000;
        insert_rows(s, generated(4000, o));
    }
    const Expected want = expect(snapshot(ref.ws.db), true);
    for (const char* w : {"--workers 1", "--workers 2", "--workers 5"}) {
        INFO("workers option: " << w);
        {
            Workspace ws(testing::reference_plugins());
            fs::copy_file(ref.ws.db, ws.db);
            auto r = ws.run(std::string("-q ") + w + " up");
            INFO(r.err);
            REQUIRE(r.exit_code == 0);
            check_rows(ws.db, want.rows);
            check_written_once(ws.db, want.changed);
        }
    }
}

TEST_CASE("one invalid row among thousands fails the revision and leaves the file byte-identical",
          "[blob_engine]") {
    // First batch, a later batch (earlier batches were already written inside the transaction
    // when the error is found), the very last row.
    const std::int64_t bad_id = GENERATE(as<std::int64_t>{}, 1, 9000, 10000);
    const std::string workers = GENERATE(std::string(), std::string("--workers 1 "));
    RefDb ref;
    const std::string bad_row = R"({"role":"user","content":"trailing comma",})";
    {
        Sqlite s(ref.ws.db);
        prepare(s);
        auto rows = generated(10000, small_rows());
        rows[static_cast<std::size_t>(bad_id - 1)].second = bad_row;
        insert_rows(s, rows);
    }
    std::string out, err;
    REQUIRE(message_v1_to_v2(bad_row, out, err) == Outcome::error);
    REQUIRE_FALSE(err.empty());

    const std::string before = ref.ws.bytes();
    auto r = ref.ws.run(workers + "up");
    INFO("bad rowid " << bad_id << ", stderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(chaintest::contains(r.err, "rowid " + std::to_string(bad_id)));
    CHECK(chaintest::contains(r.err, err));
    CHECK(ref.ws.bytes() == before);
    CHECK_FALSE(has_file(ref.ws.db.string() + "-journal"));
    CHECK(chaintest::recorded_revision(ref.ws.db) == kRev4);
    CHECK(touched(ref.ws.db).empty());
}

TEST_CASE("NULL values, unchanged rows, BLOB storage and extreme rowids", "[blob_engine]") {
    RefDb ref;
    const std::string v2_already = R"({"role":"user","content":[{"type":"text","text":"hi"}],"schema_version":2})";
    const std::string v1 = R"({"role":"user","content":"caf\u00e9 \ud83d\ude00","legacy_flag":true,"metadata":{"n":12345678901234567890123, "f":1.0E+2}})";
    {
        std::string o, e;
        REQUIRE(message_v1_to_v2(v2_already, o, e) == Outcome::unchanged);
        REQUIRE(message_v1_to_v2(v1, o, e) == Outcome::changed);
    }
    {
        Sqlite s(ref.ws.db);
        // The reference schema has data NOT NULL: rebuild the table without it so that NULLs
        // can be stored (same columns, same index).
        s.exec("BEGIN;"
               "CREATE TABLE sam_new(id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, created_at TEXT NOT NULL, data TEXT);"
               "INSERT INTO sam_new SELECT * FROM saved_agent_message;"
               "DROP TABLE saved_agent_message;"
               "ALTER TABLE sam_new RENAME TO saved_agent_message;"
               "CREATE INDEX saved_agent_message_task_idx ON saved_agent_message(task_id, created_at);"
               "COMMIT;");
        prepare(s);
        insert_rows(s, generated(500, msggen::Options{}, 100));
        insert_rows(s, {{2, v2_already}, {3, v1}, {-7, v1}, {INT64_MAX, v1}, {5, "{}"}});
        insert_rows(s, {{10, v1}, {11, v2_already}}, /*as_blob=*/true);
        s.exec("INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES "
               "(1, 1, 'x', NULL), (4000, 1, 'x', NULL), (-9000, 1, 'x', NULL)");
    }
    const Snapshot before = snapshot(ref.ws.db);
    REQUIRE(before.at(10).type == SQLITE_BLOB);
    REQUIRE(before.at(1).type == SQLITE_NULL);
    const Expected want = expect(before, true);
    // BLOB storage: transformed like text, written back as a BLOB (storage class kept).
    REQUIRE(want.rows.at(10).type == SQLITE_BLOB);
    REQUIRE(want.rows.at(10).bytes == want.rows.at(3).bytes);
    REQUIRE(want.changed.count(INT64_MAX) == 1);
    REQUIRE(want.changed.count(-7) == 1);
    REQUIRE(want.changed.count(2) == 0);
    REQUIRE(want.changed.count(11) == 0);

    auto r = ref.ws.run("-q --json up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    check_rows(ref.ws.db, want.rows);
    check_written_once(ref.ws.db, want.changed);  // NULL and unchanged rows never written
    const Counts c = blob_counts(r.out);
    CHECK(c.scanned == static_cast<std::int64_t>(want.scanned));  // NULLs are not scanned
    CHECK(c.unchanged == static_cast<std::int64_t>(want.unchanged));
    CHECK(c.unchanged >= 2);
    Sqlite s(ref.ws.db, SQLITE_OPEN_READONLY);
    CHECK(s.text("SELECT typeof(data) FROM saved_agent_message WHERE id = 10") == "blob");
    CHECK(s.text("SELECT typeof(data) FROM saved_agent_message WHERE id = 11") == "blob");
    CHECK(s.text("SELECT typeof(data) FROM saved_agent_message WHERE id = 3") == "text");
    CHECK(s.integer("SELECT count(*) FROM saved_agent_message WHERE data IS NULL") == 3);
}

// Host bug (reported): host/blob_engine.cpp, run_blob_migration() reads and writes rows by the
// bare name `rowid`, which a user column named "rowid" shadows: the engine then reads that
// column as the row key, skips rows where it is NULL and UPDATEs `WHERE rowid = ?2` against
// the user column, overwriting other rows' data. Correct: every row migrated by its real rowid
// (`_rowid_` / `oid`, or the INTEGER PRIMARY KEY column), or a refusal that changes nothing.
// Regression: a user column named rowid shadowed the row key; the engine overwrote other rows.
TEST_CASE("a user column named rowid does not confuse the engine", "[blob_engine]") {
    RefDb ref;
    {
        Sqlite s(ref.ws.db);
        s.exec("ALTER TABLE saved_agent_message ADD COLUMN rowid TEXT");
        s.exec(R"(INSERT INTO saved_agent_message(id, task_id, created_at, data, rowid) VALUES
                  (1, 1, 'x', '{"content":"a"}', '7'), (2, 1, 'x', '{"content":"b"}', '7'),
                  (3, 1, 'x', '{"content":"c"}', NULL))");
    }
    const std::string before = ref.ws.bytes();
    auto r = ref.ws.run("-q up");
    INFO(r.err);
    if (r.exit_code != 0) {  // a refusal is acceptable if it changes nothing
        CHECK(r.exit_code == 1);
        CHECK(ref.ws.bytes() == before);
        return;
    }
    Sqlite s(ref.ws.db, SQLITE_OPEN_READONLY);
    const auto rows = s.rows("SELECT id, data, rowid FROM saved_agent_message ORDER BY id");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0][1] == R"(t:{"content":[{"type":"text","text":"a"}],"schema_version":2})");
    CHECK(rows[1][1] == R"(t:{"content":[{"type":"text","text":"b"}],"schema_version":2})");
    CHECK(rows[2][1] == R"(t:{"content":[{"type":"text","text":"c"}],"schema_version":2})");
    CHECK(rows[0][2] == "t:7");
    CHECK(rows[2][2] == "null");
}

TEST_CASE("down then up again gives the same v2 bytes", "[blob_engine]") {
    RefDb ref;
    {
        Sqlite s(ref.ws.db);
        prepare(s);
        insert_rows(s, generated(3000, msggen::Options{}));
        insert_rows(s, not_idempotent_rows(5001));
    }
    const Expected v2 = expect(snapshot(ref.ws.db), true);
    auto r = ref.ws.run("-q up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    check_rows(ref.ws.db, v2.rows);
    clear_touched(ref.ws.db);

    const Expected v1 = expect(v2.rows, false);
    r = ref.ws.run("-q --json down --to " + std::string(kRev4));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(chaintest::recorded_revision(ref.ws.db) == kRev4);
    check_rows(ref.ws.db, v1.rows);
    check_written_once(ref.ws.db, v1.changed);
    CHECK(blob_counts(r.out).changed == static_cast<std::int64_t>(v1.changed.size()));
    clear_touched(ref.ws.db);

    r = ref.ws.run("-q up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(chaintest::recorded_revision(ref.ws.db) == kHead);
    check_rows(ref.ws.db, v2.rows);
    check_written_once(ref.ws.db, expect(v1.rows, true).changed);
}

TEST_CASE("migrator blob: one value from stdin to stdout", "[blob_engine]") {
    Workspace ws(testing::reference_plugins());
    const std::string args = "--plugins " + q(ws.plugins) + " blob " + kRev5;
    const std::string v1 = msggen::make_row(msggen::Options{}, 6).json;  // has tool calls
    std::string v2, err;
    REQUIRE(message_v1_to_v2(v1, v2, err) == Outcome::changed);

    SECTION("a valid row: the transform's bytes on stdout, exit 0") {
        auto r = run_with_stdin(args, v1);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == v2);
    }
    SECTION("an unchanged row: its own bytes on stdout") {
        const std::string same = R"({"role":"user","content":[],"schema_version":2})";
        auto r = run_with_stdin(args, same);
        CHECK(r.exit_code == 0);
        CHECK(r.out == same);
    }
    SECTION("an invalid row: exit 1, nothing on stdout, the error on stderr") {
        const std::string bad = R"({"role":"user","content":"x","role":"tool"})";
        std::string o, e;
        REQUIRE(message_v1_to_v2(bad, o, e) == Outcome::error);
        auto r = run_with_stdin(args, bad);
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(chaintest::contains(r.err, e));
        auto t = run_with_stdin(args, "{\"a\":1");
        CHECK(t.exit_code == 1);
        CHECK(t.out.empty());
        CHECK(chaintest::contains(t.err, "invalid JSON"));
    }
    SECTION("--down: v2 back to v1, and up again gives the same v2") {
        std::string back, e;
        REQUIRE(message_v2_to_v1(v2, back, e) == Outcome::changed);
        auto r = run_with_stdin(args + " --down", v2);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == back);
        auto again = run_with_stdin(args, r.out);
        CHECK(again.exit_code == 0);
        CHECK(again.out == v2);
    }
}
