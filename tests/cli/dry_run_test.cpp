// `migrator plan` and `up/down --dry-run`: what an operator learns before the real run, and
// the guarantee that the database itself is never touched.
#include <catch2/catch.hpp>

#include <sys/file.h>

#include <set>

#include "chain_support.h"

using chaintest::contains;
using chaintest::fixture_set;
using chaintest::Json;
using chaintest::q;
using chaintest::recorded_revision;
using chaintest::Sqlite;
using chaintest::str;
using chaintest::Workspace;

namespace {

namespace fs = std::filesystem;

const std::string kFrozen = std::string(REPO_DIR) + "/schemas/frozen";

// The reference DB at 0002_task_priority with a few app rows.
void populate_at_0002(Workspace& w) {
    REQUIRE(w.run("up --to 0002_task_priority").exit_code == 0);
    Sqlite s(w.db);
    s.exec(R"sql(
INSERT INTO agent(id, name, created_at) VALUES (1, 'planner', 'now'), (2, 'coder', 'now');
INSERT INTO task(id, agent_id, title, status, created_at, priority) VALUES
    (1, 1, 'a', 'open', 'now', 1), (2, 2, 'b', 'done', 'now', 2), (3, 2, 'c', 'running', 'now', 3);
INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES
    (1, 1, 'now', '{"role":"user","content":"hello"}'),
    (2, 1, 'now', '{"role":"assistant","content":"hi","tool_calls":[{"id":"c1","name":"search","arguments":"{\"q\":1}"}],"legacy_flag":true}');
)sql");
}

// The reference DB at 0004 with 50 good messages, 3 that are not valid JSON (ids 7, 20,
// 33) and 2 that migrate but do not follow the frozen v2 schema (ids 40: content a number;
// 45: an unknown role).
void populate_bad_blobs(Workspace& w) {
    REQUIRE(w.run("up --to 0004_task_status_check").exit_code == 0);
    Sqlite s(w.db);
    s.exec("INSERT INTO agent(id, name, created_at) VALUES (1, 'a', 'now');"
           "INSERT INTO task(id, agent_id, title, created_at) VALUES (1, 1, 't', 'now');");
    std::string sql = "BEGIN;";
    for (int id = 1; id <= 55; ++id) {
        std::string data = "{\"role\":\"user\",\"content\":\"message " + std::to_string(id) + "\"}";
        if (id == 7) data = "{\"role\":\"user\",";
        if (id == 20) data = "[1,2]";
        if (id == 33) data = "{\"role\":\"user\",\"content\":01}";
        if (id == 40) data = "{\"role\":\"user\",\"content\":5}";
        if (id == 45) data = "{\"role\":\"robot\",\"content\":\"x\"}";
        std::string quoted;
        for (char c : data) quoted += c == '\'' ? std::string("''") : std::string(1, c);
        sql += "INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES (" + std::to_string(id) +
               ", 1, 'now', '" + quoted + "');";
    }
    s.exec(sql + "COMMIT;");
}

// Names in the workspace directory, the plugin cache and the lock file aside (read-only
// commands may refresh the former; no dry run may leave anything else).
std::set<std::string> dir_entries(const Workspace& w) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(w.tmp.path())) {
        const std::string n = e.path().filename().string();
        if (n != "app.db.plugin-cache" && n != "app.db.migrator-lock") out.insert(n);
    }
    return out;
}

simdjson::dom::element step_named(const Json& j, const std::string& rev) {
    for (auto s : j.root()["steps"].get_array())
        if (str(s["revision"]) == rev) return s;
    FAIL("no step " << rev);
    return {};
}

std::vector<std::int64_t> rowids(simdjson::dom::array a) {
    std::vector<std::int64_t> out;
    for (auto e : a) out.push_back(int64_t(e["rowid"]));
    return out;
}

}  // namespace

TEST_CASE("plan: a DB at an old revision lists what up would run, with flags and blob tables") {
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    const std::string before = w.bytes();

    auto r = w.run("plan");
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "plan: up 0002_task_priority -> 0006_frozen_schema_fingerprints, 4 revision(s)"));
    const size_t a = r.out.find("0003_agent_tools"), b = r.out.find("0004_task_status_check"),
                 c = r.out.find("0005_message_v2  ");
    CHECK(a < b);
    CHECK(b < c);
    CHECK(contains(r.out, "[foreign_keys_off]"));
    CHECK(contains(r.out, "blob saved_agent_message.data (model SavedAgentMessage): 2 rows now"));
    CHECK(contains(r.out, "rows now: agent 2, saved_agent_message 2, task 3"));

    auto js = w.run("--json plan");
    REQUIRE(js.exit_code == 0);
    Json j(js.out);
    CHECK(str(j.root()["from"]) == "0002_task_priority");
    CHECK(str(j.root()["to"]) == "0006_frozen_schema_fingerprints");
    auto steps = j.root()["steps"].get_array();
    REQUIRE(steps.size() == 4);
    CHECK(str(steps.at(1)["flags"].at(0)) == "foreign_keys_off");
    CHECK(str(steps.at(2)["blobs"].at(0)["table"]) == "saved_agent_message");
    CHECK(int64_t(steps.at(2)["blobs"].at(0)["rows"]) == 2);
    CHECK(int64_t(j.root()["tables"]["task"]) == 3);
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db) == "0002_task_priority");
}

TEST_CASE("plan: down --to lists the revisions in reverse order") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    auto js = w.run("--json plan --down --to 0002_task_priority");
    REQUIRE(js.exit_code == 0);
    Json j(js.out);
    std::vector<std::string> revs;
    for (auto s : j.root()["steps"].get_array()) revs.push_back(str(s["revision"]));
    CHECK(revs == std::vector<std::string>{"0006_frozen_schema_fingerprints", "0005_message_v2", "0004_task_status_check", "0003_agent_tools"});
    CHECK(str(j.root()["direction"]) == "down");
    CHECK(w.run("plan --down").exit_code == 2);  // --to is required going down
}

TEST_CASE("plan: runs no plugin code (a failing revision is listed, not run)") {
    Workspace w(fixture_set("fail_throw"));
    auto r = w.run("plan");
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "f0002_fails"));
    CHECK_FALSE(fs::exists(w.db));  // nor does it create the database
}

TEST_CASE("dry run: the database file stays byte-identical and nothing is left behind") {
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    const std::string before = w.bytes();
    const fs::path scratch = w.tmp / "scratch";
    fs::create_directory(scratch);
    const auto entries = dir_entries(w);

    auto r = w.run("up --dry-run --scratch " + q(scratch) + " --json-schemas " + q(kFrozen));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "result: the real run would succeed and leave the database at 0006_frozen_schema_fingerprints"));
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db) == "0002_task_priority");
    CHECK(dir_entries(w) == entries);
    CHECK(fs::is_empty(scratch));  // the snapshot is deleted
    // The real run afterwards does what the rehearsal said.
    CHECK(w.run("up").exit_code == 0);
    CHECK(recorded_revision(w.db) == "0006_frozen_schema_fingerprints");
}

TEST_CASE("dry run: works while another process holds a write transaction on the DB") {
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    Sqlite writer(w.db);
    writer.exec("BEGIN IMMEDIATE; INSERT INTO agent(id, name, created_at) VALUES (99, 'uncommitted', 'now');");
    auto r = w.run("--busy-timeout 200 up --dry-run");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "the real run would succeed"));
    writer.exec("ROLLBACK");
}

TEST_CASE("dry run: reports SQL and the schema diff of each revision") {
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    auto r = w.run("up --dry-run");
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "== up 0003_agent_tools: ok"));
    CHECK(contains(r.out, "ALTER TABLE task ADD COLUMN updated_at TEXT;"));
    CHECK(contains(r.out, "+ table agent_tool"));
    CHECK(contains(r.out, "+ view open_task"));
    CHECK(contains(r.out, "+ trigger task_touch"));
    CHECK(contains(r.out, "~ table task: CHECK constraints:"));
    CHECK(contains(r.out, "ALTER TABLE task_new RENAME TO task;"));
    CHECK(contains(r.out, "== up 0004_task_status_check: ok"));
    CHECK(contains(r.out, "3 row(s) affected"));  // the rebuild copies the 3 tasks

    auto js = w.run("--json up --dry-run");
    REQUIRE(js.exit_code == 0);
    Json j(js.out);
    CHECK(bool(j.root()["dry_run"]) == true);
    auto s3 = step_named(j, "0003_agent_tools");
    bool added = false;
    for (auto d : s3["schema_changes"].get_array())
        added |= str(d["object"]) == "table agent_tool" && str(d["attribute"]) == "existence" &&
                 str(d["after"]) == "present";
    CHECK(added);
    bool drop = false;
    for (auto s : step_named(j, "0004_task_status_check")["sql"].get_array())
        drop |= contains(str(s["sql"]), "DROP TABLE task");
    CHECK(drop);
    CHECK(int64_t(step_named(j, "0004_task_status_check")["rows_affected"]) == 3);
    CHECK(step_named(j, "0005_message_v2")["schema_changes"].get_array().size() == 0);
}

TEST_CASE("dry run: bad blobs are all counted, sampled exactly, and fail it like the real run") {
    Workspace w(testing::reference_plugins());
    populate_bad_blobs(w);
    const std::string before = w.bytes();

    auto js = w.run("--json up --dry-run --json-schemas " + q(kFrozen));
    CHECK(js.exit_code == 1);
    Json j(js.out);
    CHECK(bool(j.root()["ok"]) == false);
    CHECK(str(j.root()["error"]["revision"]) == "0005_message_v2");
    auto s = step_named(j, "0005_message_v2");
    CHECK(bool(s["ok"]) == false);
    auto b = s["blobs"].at(0);
    CHECK(int64_t(b["scanned"]) == 55);
    CHECK(int64_t(b["failed"]) == 3);
    CHECK(int64_t(b["changed"]) == 52);
    CHECK(rowids(b["failures"].get_array()) == std::vector<std::int64_t>{7, 20, 33});
    auto v = b["json_schema"];
    CHECK(bool(v["validated"]) == true);
    CHECK(int64_t(v["checked"]) == 52);
    CHECK(int64_t(v["invalid"]) == 2);
    CHECK(rowids(v["violations"].get_array()) == std::vector<std::int64_t>{40, 45});

    // The human report carries the same numbers.
    auto h = w.run("up --dry-run --json-schemas " + q(kFrozen));
    CHECK(h.exit_code == 1);
    CHECK(contains(h.out, "55 scanned, 52 changed, 0 unchanged, 3 failed"));
    CHECK(contains(h.out, "row error: rowid 7:"));
    CHECK(contains(h.out, "row error: rowid 33:"));
    CHECK(contains(h.out, "52 checked, 2 invalid"));
    CHECK(contains(h.out, "invalid: rowid 40: <root>[content]"));
    CHECK(contains(h.out, "result: the real run would FAIL at 0005_message_v2"));

    // --samples bounds the lists, not the counts.
    Json one(w.run("--json up --dry-run --samples 1 --json-schemas " + q(kFrozen)).out);
    auto b1 = step_named(one, "0005_message_v2")["blobs"].at(0);
    CHECK(int64_t(b1["failed"]) == 3);
    CHECK(rowids(b1["failures"].get_array()) == std::vector<std::int64_t>{7});

    // With quarantine the real run would succeed: exit 0, same counts.
    auto qr = w.run("--on-row-error quarantine up --dry-run --json-schemas " + q(kFrozen));
    CHECK(qr.exit_code == 0);
    CHECK(contains(qr.out, "3 failed (3 would be quarantined)"));
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db) == "0004_task_status_check");
}

// The snapshot is a file copy under a read lock for rollback-journal databases, and the
// backup API for WAL ones, whose committed rows may still be in the -wal file only.
TEST_CASE("dry run: snapshot_of_a_wal_database_holds_the_rows_still_in_its_wal_file") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up --to 0004_task_status_check").exit_code == 0);
    Sqlite app(w.db);  // stays open: its WAL is never checkpointed into the file
    app.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
             "INSERT INTO agent(id, name, created_at) VALUES (1, 'a', 'now');"
             "INSERT INTO task(id, agent_id, title, created_at) VALUES (1, 1, 't', 'now');");
    std::string sql = "BEGIN;";
    for (int id = 1; id <= 30; ++id)
        sql += "INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES (" + std::to_string(id) +
               ", 1, 'now', '" + (id == 12 ? std::string("[1]") : "{\"role\":\"user\",\"content\":\"m\"}") + "');";
    app.exec(sql + "COMMIT;");
    REQUIRE(fs::file_size(w.db.string() + "-wal") > 0);
    const std::string before = w.bytes();

    auto js = w.run("--json up --dry-run --json-schemas " + q(kFrozen));
    INFO(js.err);
    CHECK(js.exit_code == 1);
    Json j(js.out);
    auto b = step_named(j, "0005_message_v2")["blobs"].at(0);
    CHECK(int64_t(b["scanned"]) == 30);
    CHECK(int64_t(b["failed"]) == 1);
    CHECK(rowids(b["failures"].get_array()) == std::vector<std::int64_t>{12});
    CHECK(w.bytes() == before);
}

// The scratch directory on another filesystem (tmpfs): copy_file_range answers EXDEV and the
// copy falls back to read/write; the rehearsal sees the same rows.
TEST_CASE("dry run: snapshot_across_filesystems_falls_back_to_read_write") {
    if (!fs::is_directory("/dev/shm")) {
        WARN("no /dev/shm here: nothing to test");
        return;
    }
    Workspace w(testing::reference_plugins());
    populate_bad_blobs(w);
    testing::TempDir shm_parent;  // named, removed at exit
    const fs::path scratch = fs::path("/dev/shm") / shm_parent.path().filename();
    fs::create_directory(scratch);
    auto js = w.run("--json up --dry-run --scratch " + q(scratch) + " --json-schemas " + q(kFrozen));
    fs::remove_all(scratch);
    INFO(js.err);
    Json j(js.out);
    auto b = step_named(j, "0005_message_v2")["blobs"].at(0);
    CHECK(int64_t(b["scanned"]) == 55);
    CHECK(int64_t(b["failed"]) == 3);
}

TEST_CASE("dry run: snapshot_copy_is_consistent_while_the_app_writes") {
    Workspace w(testing::reference_plugins());
    populate_bad_blobs(w);
    // A writer holding RESERVED with uncommitted rows: the snapshot (a byte copy under a
    // SHARED lock) must hold the committed rows only, and must not block the writer's work.
    Sqlite writer(w.db);
    writer.exec("BEGIN IMMEDIATE; INSERT INTO saved_agent_message(id, task_id, created_at, data) "
                "VALUES (100, 1, 'now', 'not json');");
    auto js = w.run("--busy-timeout 200 --json up --dry-run --json-schemas " + q(kFrozen));
    Json j(js.out);
    auto b = step_named(j, "0005_message_v2")["blobs"].at(0);
    CHECK(int64_t(b["scanned"]) == 55);
    CHECK(int64_t(b["failed"]) == 3);
    writer.exec("COMMIT");
    // Once committed, the next rehearsal sees it.
    Json j2(w.run("--json up --dry-run --json-schemas " + q(kFrozen)).out);
    CHECK(int64_t(step_named(j2, "0005_message_v2")["blobs"].at(0)["failed"]) == 4);
}

TEST_CASE("dry run: a failing chain names the revision and its error and exits 1") {
    Workspace w(fixture_set("fail_sql"));
    auto r = w.run("up --dry-run");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "== up f0002_fails: FAILED"));
    CHECK(contains(r.out, "no such table: fx_table_that_does_not_exist"));
    CHECK(contains(r.out, "result: the real run would FAIL at f0002_fails"));
    CHECK_FALSE(fs::exists(w.db));  // a dry run on a missing DB does not create it
}

TEST_CASE("dry run: down rehearses the reverse steps and leaves the DB as it is") {
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    REQUIRE(w.run("up").exit_code == 0);
    const std::string before = w.bytes();
    auto r = w.run("down --dry-run --to 0003_agent_tools");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "== down 0005_message_v2: ok"));
    CHECK(contains(r.out, "== down 0004_task_status_check: ok"));
    CHECK(contains(r.out, "not validated (a down migration"));
    CHECK(w.bytes() == before);
}

// Regression: down ran the down transform over rows that up had quarantined (never migrated),
// which rejected them, so the revision could not be reverted without quarantining again; and
// nothing but raw SQL told that rows had been left behind.
TEST_CASE("quarantine: up leaves bad rows as they were, status counts them, down skips them") {
    Workspace w(testing::reference_plugins());
    populate_bad_blobs(w);
    const auto original = Sqlite(w.db, SQLITE_OPEN_READONLY).rows("SELECT id, data FROM saved_agent_message WHERE id IN (7, 20, 33)");

    auto up = w.run("--on-row-error quarantine up");
    INFO(up.err);
    REQUIRE(up.exit_code == 0);
    CHECK(contains(up.out, "3 failed (3 quarantined, left as they were)"));
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK(s.rows("SELECT id, data FROM saved_agent_message WHERE id IN (7, 20, 33)") == original);
        CHECK(s.rows("SELECT row_key, direction FROM migrator_quarantine ORDER BY row_key") ==
              std::vector<std::vector<std::string>>{{"i:7", "t:up"}, {"i:20", "t:up"}, {"i:33", "t:up"}});
    }
    Json st(w.run("--json status").out);
    CHECK(int64_t(st.root()["quarantined_rows"]) == 3);
    CHECK(contains(w.run("status").out, "quarantine: 3 row(s)"));

    auto down = w.run("down --to 0004_task_status_check");
    INFO(down.err);
    CHECK(down.exit_code == 0);
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.rows("SELECT id, data FROM saved_agent_message WHERE id IN (7, 20, 33)") == original);
    CHECK(s.integer("SELECT count(*) FROM migrator_quarantine") == 0);
    CHECK(s.text("SELECT data FROM saved_agent_message WHERE id = 1") == "{\"role\":\"user\",\"content\":\"message 1\"}");
}

// Regression: the rehearsal ran on a writable copy and promised success; the real run on a
// read-only file then exited 6 after doing the work.
TEST_CASE("dry run: a DB file this user cannot write is reported as the real run's failure (6)") {
    if (::geteuid() == 0) {
        // root writes any file: drop to nobody, with everything it needs reachable.
        if (std::system("setpriv --reuid=65534 --regid=65534 --clear-groups true >/dev/null 2>&1") != 0) {
            WARN("cannot drop privileges with setpriv: case not covered");
            return;
        }
    }
    Workspace w(testing::reference_plugins());
    populate_at_0002(w);
    const fs::path dir = w.tmp / "ro";
    fs::create_directories(dir);
    const fs::path db = dir / "app.db";
    fs::copy_file(w.db, db);
    const fs::path bin = w.tmp / "migrator";
    fs::copy_file(MIGRATOR_BIN, bin);  // reachable by nobody whatever the build tree's modes
    ::chmod(w.tmp.path().c_str(), 0755);
    ::chmod(bin.c_str(), 0755);
    ::chmod(dir.c_str(), 0777);
    ::chmod(db.c_str(), 0444);
    const fs::path scratch = w.tmp / "scratch";
    fs::create_directories(scratch);
    ::chmod(scratch.c_str(), 0777);
    for (const auto& e : fs::recursive_directory_iterator(w.plugins)) ::chmod(e.path().c_str(), 0755);
    const std::string before = chaintest::digest(testing::read_file(db));
    const std::string as_user = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    const std::string cmd = as_user + q(bin) + " --db " + q(db) + " --plugins " + q(w.plugins) +
                            " up --dry-run --scratch " + q(scratch) + " >" + q(w.tmp / "out") + " 2>" + q(w.tmp / "err");
    const int rc = std::system(cmd.c_str());
    const std::string out = testing::read_file(w.tmp / "out"), err = testing::read_file(w.tmp / "err");
    INFO(out << err);
    CHECK(WEXITSTATUS(rc) == 6);
    CHECK(contains(out, "result: the real run would FAIL (db_error)"));
    CHECK(contains(err, "is not writable"));
    CHECK(chaintest::digest(testing::read_file(db)) == before);
}
