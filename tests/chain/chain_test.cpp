// Chain behaviour, through the real binary: what a run leaves in the database file.
#include <fstream>
#include <set>
#include <sstream>

// The SDK header, for its exception-to-status rules (not to build a plugin here).
#define MIGRATOR_SOURCE_CHECKSUM "not-a-plugin"
#include <migrator/plugin.hpp>
#include <catch2/catch.hpp>

#include "chain_support.h"

using chaintest::contains;
using chaintest::fixture_set;
using chaintest::Json;
using chaintest::recorded_revision;
using chaintest::reference_prefix;
using chaintest::Sqlite;
using chaintest::str;
using chaintest::Workspace;

namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;
using Snapshot = std::map<std::string, Rows>;

const char* const kRev1 = "0001_initial";
const char* const kRev2 = "0002_task_priority";
const char* const kRev3 = "0003_agent_tools";
const char* const kRev4 = "0004_task_status_check";
const char* const kRev5 = "0005_message_v2";  // blob-only (saved_agent_message.data v1 -> v2)
const char* const kRev6 = "0006_frozen_schema_fingerprints";  // head: no SQL, declares the frozen schemas

// The snapshot without `table`: for a comparison across a revision that rewrites its blobs.
Snapshot without(Snapshot s, const std::string& table) {
    s.erase(table);
    return s;
}

// Realistic rows for the reference app at 0002_task_priority: ids with gaps (so a rebuild
// that renumbers rowids is caught), UTF-8, quotes, newlines, a large JSON document.
void populate_at_0002(const fs::path& db) {
    Sqlite s(db);
    s.exec(R"sql(
BEGIN;
INSERT INTO agent(id, name, created_at) VALUES
    (1, 'planner', '2026-01-03T09:00:00.000Z'),
    (2, 'coder ✓', '2026-01-03T09:01:30.250Z'),
    (7, 'reviewer "strict"', '2026-02-11T17:45:00.000Z');
INSERT INTO task(id, agent_id, title, status, created_at, priority) VALUES
    (3, 1, 'plan the release', 'open', '2026-01-04T08:00:00.000Z', 5),
    (4, 2, 'fix flaky test in ''chain''', 'running', '2026-01-04T08:05:00.000Z', 9),
    (10, 2, 'write docs
over two lines', 'done', '2026-01-05T10:00:00.000Z', 0),
    (42, 7, 'review PR #1234 — naïve Unicode', 'failed', '2026-01-06T11:11:11.111Z', 3),
    (1000, 7, 'archive', 'cancelled', '2026-01-07T00:00:00.000Z', 0);
INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES
    (1, 3, '2026-01-04T08:00:01.000Z', '{"role":"user","content":"Plan the 1.2 release"}'),
    (2, 3, '2026-01-04T08:00:09.500Z', '{"role":"assistant","content":"Step 1: freeze\nStep 2: tag"}'),
    (5, 4, '2026-01-04T08:06:00.000Z', '{"role":"tool","name":"ctest","exit":1}'),
    (6, 42, '2026-01-06T11:12:00.000Z', '{"role":"assistant","content":"LGTM 👍"}'),
    (9, 1000, '2026-01-07T00:00:01.000Z', '{"role":"system","content":""}');
COMMIT;
)sql");
    // One large message (~64 KiB) so overflow pages are involved.
    std::string big = "{\"role\":\"tool\",\"output\":\"";
    for (int i = 0; i < 4096; ++i) big += "line " + std::to_string(i) + " of output\\n";
    big += "\"}";
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(s.get(), "INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES (12, 10, '2026-01-05T10:00:00.000Z', ?1)", -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_text(st, 1, big.c_str(), static_cast<int>(big.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
}

// The data that exists at 0002 (columns of that revision), full contents, in rowid order.
Snapshot data_0002(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    return {
        {"agent", s.rows("SELECT rowid, id, name, created_at FROM agent ORDER BY rowid")},
        {"task", s.rows("SELECT rowid, id, agent_id, title, status, created_at, priority FROM task ORDER BY rowid")},
        {"saved_agent_message", s.rows("SELECT rowid, id, task_id, created_at, data FROM saved_agent_message ORDER BY rowid")},
    };
}

// Every user table, every column, at whatever revision the DB is.
Snapshot all_user_tables(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    Snapshot out;
    for (const auto& r : s.rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                                "AND name NOT LIKE 'migrator_%' ORDER BY name")) {
        const std::string name = r[0].substr(2);
        out[name] = s.rows("SELECT rowid, * FROM \"" + name + "\" ORDER BY rowid");
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> history_moves(const Workspace& w) {
    auto r = w.run("--json history");
    REQUIRE(r.exit_code == 0);
    Json j(r.out);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto row : j.root().get_array()) out.emplace_back(str(row["revision"]), str(row["direction"]));
    return out;
}

// Schema objects attached to `task` other than the table itself, plus the open_task view.
Rows task_satellites(Sqlite& s) {
    return s.rows("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE (tbl_name = 'task' AND type != 'table') "
                  "OR name = 'open_task' ORDER BY type, name");
}

// Runs a failing 3-revision fixture set from base over a DB holding app data: the run must
// exit 1 and leave the file byte-identical.
void check_failing_chain_rolls_back(const std::string& set, const std::string& expected_msg) {
    Workspace w(fixture_set(set));
    {
        Sqlite s(w.db);
        s.exec("CREATE TABLE app_data(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO app_data(v) VALUES ('keep me'), ('and me');");
    }
    const std::string before = w.bytes();
    REQUIRE(fs::file_size(w.db) > 0);

    auto r = w.run("up");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "f0002_fails"));
    CHECK(contains(r.err, expected_msg));
    CHECK(w.bytes() == before);  // byte-identical: nothing of revision 1 or 2 survives
    CHECK(recorded_revision(w.db).empty());
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK_FALSE(s.has_table("fx_a"));
    CHECK_FALSE(s.has_table("fx_b"));
    CHECK_FALSE(s.has_table("migrator_history"));
    CHECK(s.integer("SELECT count(*) FROM app_data") == 2);

    // Same from revision 1: revision 2's failure leaves revision 1 and the bytes alone.
    auto r1 = w.run("up --to f0001_a");
    REQUIRE(r1.exit_code == 0);
    const std::string at1 = w.bytes();
    auto r2 = w.run("up");
    CHECK(r2.exit_code == 1);
    CHECK(w.bytes() == at1);
    CHECK(recorded_revision(w.db) == "f0001_a");
}

void check_commit_each_keeps_revision_1(const std::string& set) {
    Workspace w(fixture_set(set));
    auto r = w.run("up --commit-each");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAILED at f0002_fails; database is at f0001_a"));
    CHECK(recorded_revision(w.db) == "f0001_a");
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.has_table("fx_a"));
    CHECK(s.text("SELECT v FROM fx_a") == "one");  // revision 2's UPDATE is gone
    CHECK_FALSE(s.has_table("fx_b"));
    CHECK_FALSE(s.has_table("fx_c"));
    CHECK(s.rows("SELECT revision, direction FROM migrator_history ORDER BY id") ==
          Rows{{"t:f0001_a", "t:up"}});
    CHECK(s.rows("SELECT revision FROM migrator_applied") == Rows{{"t:f0001_a"}});

    // The --json report says the same: revision 1 committed, stopped at revision 2.
    Workspace w2(fixture_set(set));
    auto j = w2.run("--json up --commit-each");
    CHECK(j.exit_code == 1);
    Json doc(j.out);
    CHECK(str(doc.root()["reached"]) == "f0001_a");
    CHECK(str(doc.root()["error"]["revision"]) == "f0002_fails");
    auto steps = doc.root()["steps"].get_array();
    REQUIRE(steps.size() == 1);
    CHECK(str(steps.at(0)["revision"]) == "f0001_a");
    CHECK(bool(steps.at(0)["committed"]) == true);
}

}  // namespace

TEST_CASE("chain: populated reference DB keeps every row through up/down/up round trips") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up --to " + std::string(kRev2)).exit_code == 0);
    populate_at_0002(w.db);
    const Snapshot original = data_0002(w.db);
    REQUIRE(original.at("task").size() == 5);
    REQUIRE(original.at("saved_agent_message").size() == 6);

    // Round trip 1: 0002 -> head -> 0002.
    auto up1 = w.run("up");
    REQUIRE(up1.exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev6);
    CHECK(without(data_0002(w.db), "saved_agent_message") == without(original, "saved_agent_message"));
    // 0005 rewrote every message to v2 (content wrapped, schema_version appended).
    CHECK(Sqlite(w.db, SQLITE_OPEN_READONLY).text("SELECT data FROM saved_agent_message WHERE id = 1") ==
          R"({"role":"user","content":[{"type":"text","text":"Plan the 1.2 release"}],"schema_version":2})");
    const Snapshot at_head = all_user_tables(w.db);
    CHECK(at_head.at("agent_tool").empty());

    auto down1 = w.run("down --to " + std::string(kRev2));
    REQUIRE(down1.exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev2);
    CHECK(data_0002(w.db) == original);
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK_FALSE(s.has_table("agent_tool"));
        CHECK_FALSE(s.has_table("open_task"));
        CHECK(s.integer("SELECT count(*) FROM pragma_table_info('task') WHERE name = 'updated_at'") == 0);
        CHECK(s.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'task_priority_idx'") == 1);
    }

    // Round trip 2: up again, identical to the first time at head.
    auto up2 = w.run("up");
    REQUIRE(up2.exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev6);
    CHECK(without(data_0002(w.db), "saved_agent_message") == without(original, "saved_agent_message"));
    CHECK(all_user_tables(w.db) == at_head);

    // Down to base: 0001's down drops the app's tables (by design), bookkeeping remains.
    auto base = w.run("down --to base");
    REQUIRE(base.exit_code == 0);
    CHECK(recorded_revision(w.db).empty());
    CHECK(all_user_tables(w.db).empty());

    // And up again from base: the full schema, empty.
    auto up3 = w.run("up");
    REQUIRE(up3.exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev6);
    const Snapshot fresh = all_user_tables(w.db);
    CHECK(fresh.size() == at_head.size());
    for (const auto& [name, rows] : fresh) CHECK(rows.empty());
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK(s.rows("PRAGMA integrity_check") == Rows{{"t:ok"}});
        CHECK(s.rows("SELECT revision FROM migrator_applied ORDER BY revision") ==
              Rows{{"t:0001_initial"}, {"t:0002_task_priority"}, {"t:0003_agent_tools"}, {"t:0004_task_status_check"},
                   {"t:0005_message_v2"}, {"t:0006_frozen_schema_fingerprints"}});
    }

    using Move = std::pair<std::string, std::string>;
    const std::vector<Move> expected = {
        {kRev1, "up"},   {kRev2, "up"},                                     // initial --to 0002
        {kRev3, "up"},   {kRev4, "up"},   {kRev5, "up"},   {kRev6, "up"},   // up1
        {kRev6, "down"}, {kRev5, "down"}, {kRev4, "down"}, {kRev3, "down"}, // down1
        {kRev3, "up"},   {kRev4, "up"},   {kRev5, "up"},   {kRev6, "up"},   // up2
        {kRev6, "down"}, {kRev5, "down"}, {kRev4, "down"}, {kRev3, "down"}, // to base
        {kRev2, "down"}, {kRev1, "down"},
        {kRev1, "up"},   {kRev2, "up"},   {kRev3, "up"},   {kRev4, "up"},   // up3
        {kRev5, "up"},   {kRev6, "up"},
    };
    CHECK(history_moves(w) == expected);
}

TEST_CASE("chain: failing revision 2 (SQL error) leaves the DB file byte-identical") {
    check_failing_chain_rolls_back("fail_sql", "no such table: fx_table_that_does_not_exist");
}

TEST_CASE("chain: failing revision 2 (exception) leaves the DB file byte-identical") {
    check_failing_chain_rolls_back("fail_throw", "fixture f0002 throws on purpose");
}

TEST_CASE("chain: --commit-each with failing revision 2 (SQL error) keeps revision 1 only") {
    check_commit_each_keeps_revision_1("fail_sql");
}

TEST_CASE("chain: --commit-each with failing revision 2 (exception) keeps revision 1 only") {
    check_commit_each_keeps_revision_1("fail_throw");
}

TEST_CASE("chain: checksum drift of an applied revision exits 3, names it, changes nothing") {
    Workspace w(fixture_set("drift_a"));
    REQUIRE(w.run("up").exit_code == 0);
    const std::string applied_sum =
        Sqlite(w.db, SQLITE_OPEN_READONLY).text("SELECT checksum FROM migrator_applied WHERE revision = 'd0001_drift'");
    REQUIRE(applied_sum.size() == 64);

    w.set_plugins(fixture_set("drift_b"));  // same revision id, edited source
    auto p = w.run("--json plugins");
    REQUIRE(p.exit_code == 0);
    Json pj(p.out);
    const std::string new_sum = str(pj.root().at(0)["checksum"]);
    REQUIRE(new_sum != applied_sum);

    const std::string before = w.bytes();
    for (const char* cmd : {"up", "verify", "down --to base"}) {
        INFO(cmd);
        auto r = w.run(cmd);
        CHECK(r.exit_code == 3);
        CHECK(contains(r.err, "checksum drift"));
        CHECK(contains(r.err, "'d0001_drift'"));
        CHECK(contains(r.err, applied_sum));
        CHECK(contains(r.err, new_sum));
    }
    CHECK(w.bytes() == before);
}

TEST_CASE("chain: DB newer than the app exits 4 and status --json says db_newer_than_app") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    w.set_plugins(reference_prefix(2));
    const std::string before = w.bytes();

    for (const char* cmd : {"up", "verify", "start"}) {
        INFO(cmd);
        auto r = w.run(cmd);
        CHECK(r.exit_code == 4);
        CHECK(contains(r.err, "newer version of the app"));
        CHECK(contains(r.err, kRev6));
    }

    auto st = w.run("--json status");
    CHECK(st.exit_code == 0);
    Json j(st.out);
    CHECK(bool(j.root()["db_newer_than_app"]) == true);
    CHECK(bool(j.root()["at_head"]) == false);
    CHECK(str(j.root()["current"]) == kRev6);
    CHECK(str(j.root()["head"]) == kRev2);

    auto human = w.run("status");
    CHECK(human.exit_code == 0);
    CHECK(contains(human.out, "DATABASE IS NEWER THAN THIS APP"));
    CHECK(w.bytes() == before);
}

TEST_CASE("chain: after an app downgrade, down reverts the newer revisions from the plugin archive") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    const fs::path archive = w.db.string() + ".plugin-archive";
    REQUIRE(fs::exists(archive / "MANIFEST"));  // every applied plugin was archived
    w.set_plugins(reference_prefix(2));          // the older app ships 0001..0002 only

    auto r = w.run("down --to " + std::string(kRev2));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.err, "archived plugin(s)"));
    CHECK(recorded_revision(w.db) == kRev2);
    CHECK(w.run("verify").exit_code == 0);
    CHECK_FALSE(Sqlite(w.db, SQLITE_OPEN_READONLY).has_table("agent_tool"));  // 0003 reverted too
}

TEST_CASE("chain: a tampered archived plugin is refused by name, nothing reverted") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    w.set_plugins(reference_prefix(2));
    const fs::path archive = w.db.string() + ".plugin-archive";
    fs::path victim;
    for (const auto& e : fs::directory_iterator(archive))
        if (e.path().filename().string().rfind(kRev5, 0) == 0) victim = e.path();
    REQUIRE_FALSE(victim.empty());
    { std::ofstream(victim, std::ios::app) << "x"; }
    const std::string before = w.bytes();
    auto r = w.run("down --to " + std::string(kRev2));
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, victim.filename().string()));
    CHECK(w.bytes() == before);

    // Without any archive, the downgrade is refused as before.
    fs::remove_all(archive);
    auto n = w.run("down --to " + std::string(kRev2));
    CHECK(n.exit_code == 4);
    CHECK(w.bytes() == before);
}

TEST_CASE("chain: FOREIGN_KEYS_OFF revision leaving a dangling reference fails and rolls back") {
    Workspace w(fixture_set("fk"));
    REQUIRE(w.run("up --to k0001_fk_tables").exit_code == 0);
    const std::string before = w.bytes();

    auto r = w.run("up");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "foreign key violations"));
    CHECK(contains(r.err, "k0002_fk_dangling"));
    CHECK(contains(r.err, "fx_child"));
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db) == "k0001_fk_tables");
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.rows("SELECT id, name FROM fx_parent ORDER BY id") == Rows{{"i:1", "t:p1"}, {"i:2", "t:p2"}});

    // Also from base in one transaction: revision 1 is rolled back with it.
    Workspace w2(fixture_set("fk"));
    auto r2 = w2.run("up");
    CHECK(r2.exit_code == 1);
    CHECK(recorded_revision(w2.db).empty());
    CHECK_FALSE(Sqlite(w2.db, SQLITE_OPEN_READONLY).has_table("fx_parent"));
}

// User trial: a revision relying on ON DELETE CASCADE passed when applied alone and failed when
// batched after a FOREIGN_KEYS_OFF rebuild (the pragma holds for the whole transaction). The
// failure stays atomic, as specified; its message now says why and what to run instead.
TEST_CASE("chain: cascade_in_a_transaction_with_a_foreign_keys_off_revision_is_explained") {
    Workspace w(fixture_set("cascade"));
    REQUIRE(w.run("up --to c0001_tables").exit_code == 0);
    const std::string before = w.bytes();
    auto r = w.run("up");
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "foreign key violations"));
    CHECK(contains(r.err, "because c0002_rebuild needs them off"));
    CHECK(contains(r.err, "did not run in c0003_delete either"));
    CHECK(contains(r.err, "--commit-each"));
    CHECK(w.bytes() == before);

    // `start` retries such a run with a transaction per revision instead of resetting.
    Workspace started(fixture_set("cascade"));
    REQUIRE(started.run("up --to c0001_tables").exit_code == 0);
    auto st = started.run("start");
    INFO(st.err);
    CHECK(st.exit_code == 0);
    CHECK(contains(st.err, "retrying with one transaction per revision"));
    CHECK(Sqlite(started.db, SQLITE_OPEN_READONLY).rows("SELECT id FROM fx_child ORDER BY id") == Rows{{"i:10"}});
    CHECK_FALSE(fs::exists(started.db.string() + ".backups"));

    auto each = w.run("up --commit-each");
    INFO(each.err);
    CHECK(each.exit_code == 0);
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.rows("SELECT id FROM fx_child ORDER BY id") == Rows{{"i:10"}});  // the cascade ran
    CHECK(s.rows("PRAGMA foreign_key_check").empty());
}

// Regression (user trial): a plugin calling exit(0) mid-step ended `up` with exit 0 and no
// message, the database not migrated and a hot journal beside it.
TEST_CASE("chain: plugin_calling_exit_fails_the_run_never_succeeds") {
    Workspace w(fixture_set("exit"));
    REQUIRE(w.run("up --to f0001_a").exit_code == 0);
    auto r = w.run("up");
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "revision 'e0002_exits' called exit()"));
    // The next command that opens the database rolls the half-done transaction back.
    CHECK(w.run("status").exit_code == 0);
    CHECK(recorded_revision(w.db) == "f0001_a");
    CHECK_FALSE(Sqlite(w.db, SQLITE_OPEN_READONLY).has_table("fx_exit"));
}

TEST_CASE("chain: reference 0004 table rebuild keeps task indexes, trigger, view, FK, rows and rowids") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up --to " + std::string(kRev2)).exit_code == 0);
    populate_at_0002(w.db);
    REQUIRE(w.run("up --to " + std::string(kRev3)).exit_code == 0);
    Rows satellites_before, tasks_before, fk_before;
    {
        Sqlite s(w.db);
        // Give one task an updated_at through the trigger before the rebuild.
        s.exec("UPDATE task SET status = 'done' WHERE id = 4");
        satellites_before = task_satellites(s);
        tasks_before = s.rows("SELECT rowid, * FROM task ORDER BY rowid");
        fk_before = s.rows("SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list('task')");
    }
    REQUIRE(satellites_before.size() == 4);  // 2 indexes, 1 trigger, 1 view
    REQUIRE(tasks_before.at(1).back() != "null");
    const Snapshot others_before = data_0002(w.db);

    REQUIRE(w.run("up --to " + std::string(kRev4)).exit_code == 0);
    REQUIRE(recorded_revision(w.db) == kRev4);

    Sqlite s(w.db);
    CHECK(task_satellites(s) == satellites_before);
    CHECK(s.rows("SELECT rowid, * FROM task ORDER BY rowid") == tasks_before);
    CHECK(data_0002(w.db) == others_before);
    CHECK(s.rows("SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list('task')") == fk_before);
    CHECK(fk_before == Rows{{"t:agent", "t:agent_id", "t:id", "t:CASCADE"}});
    CHECK(s.rows("PRAGMA foreign_key_check").empty());
    CHECK(s.rows("PRAGMA integrity_check") == Rows{{"t:ok"}});
    CHECK(s.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'task_new'") == 0);
    // The new CHECK constraints exist.
    CHECK(s.try_exec("INSERT INTO task(agent_id, title, status, created_at) VALUES (1, 'x', 'bogus', 'now')") == SQLITE_CONSTRAINT_CHECK);

    // The view reads the rebuilt table.
    CHECK(s.rows("SELECT id FROM open_task ORDER BY id") == Rows{{"i:3"}});
    // The trigger fires on the rebuilt table.
    CHECK(s.text("SELECT updated_at FROM task WHERE id = 3").empty());
    s.exec("UPDATE task SET status = 'running' WHERE id = 3");
    CHECK_FALSE(s.text("SELECT updated_at FROM task WHERE id = 3").empty());
    // The foreign key to agent is enforced and cascades.
    s.exec("PRAGMA foreign_keys = ON");
    CHECK(s.try_exec("INSERT INTO task(agent_id, title, created_at) VALUES (999, 'orphan', 'now')") == SQLITE_CONSTRAINT_FOREIGNKEY);
    s.exec("DELETE FROM agent WHERE id = 7");
    CHECK(s.integer("SELECT count(*) FROM task WHERE agent_id = 7") == 0);
    // The indexes are used by name.
    CHECK(s.integer("SELECT count(*) FROM task INDEXED BY task_agent_idx WHERE agent_id = 2") == 2);
    CHECK(s.integer("SELECT count(*) FROM task INDEXED BY task_priority_idx WHERE priority >= 0") == 3);

    // 0004's down is the same rebuild the other way: everything survives it too.
    const Rows tasks_at_head = s.rows("SELECT rowid, * FROM task ORDER BY rowid");
    REQUIRE(w.run("down --to " + std::string(kRev3)).exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev3);
    Sqlite d(w.db);
    CHECK(task_satellites(d) == satellites_before);
    CHECK(d.rows("SELECT rowid, * FROM task ORDER BY rowid") == tasks_at_head);
    CHECK(d.rows("SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list('task')") == fk_before);
    CHECK(d.try_exec("INSERT INTO task(agent_id, title, status, created_at) VALUES (1, 'x', 'bogus', 'now')") == SQLITE_OK);
}

TEST_CASE("chain: NO_TRANSACTION revision runs outside a transaction and is recorded") {
    Workspace w(fixture_set("notx"));
    auto r = w.run("up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(recorded_revision(w.db) == "n0004_last");
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.has_table("fx_n1"));
    CHECK(s.has_table("fx_n2_vacuumed"));  // VACUUM succeeded: it ran outside a transaction
    CHECK(s.has_table("fx_n3_irreversible"));
    CHECK(s.has_table("fx_n4"));
    CHECK(s.rows("SELECT revision, direction FROM migrator_history ORDER BY id") ==
          Rows{{"t:n0001_first", "t:up"}, {"t:n0002_vacuum", "t:up"}, {"t:n0003_irreversible", "t:up"}, {"t:n0004_last", "t:up"}});
    CHECK(s.integer("SELECT count(*) FROM migrator_applied WHERE revision = 'n0002_vacuum' AND length(checksum) = 64") == 1);
}

TEST_CASE("chain: stamp sets the revision without running anything and writes a stamp history row") {
    Workspace w(fixture_set("notx"));
    auto r = w.run("stamp n0003_irreversible");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(recorded_revision(w.db) == "n0003_irreversible");
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK_FALSE(s.has_table("fx_n1"));
        CHECK_FALSE(s.has_table("fx_n2_vacuumed"));
        CHECK_FALSE(s.has_table("fx_n3_irreversible"));
        CHECK(s.rows("SELECT revision, direction, rows_affected FROM migrator_history ORDER BY id") ==
              Rows{{"t:n0003_irreversible", "t:stamp", "i:0"}});
        CHECK(s.rows("SELECT revision FROM migrator_applied ORDER BY revision") ==
              Rows{{"t:n0001_first"}, {"t:n0002_vacuum"}, {"t:n0003_irreversible"}});
    }
    // Only the revision after the stamp runs on the next `up`.
    auto up = w.run("up");
    REQUIRE(up.exit_code == 0);
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK(s.has_table("fx_n4"));
    CHECK_FALSE(s.has_table("fx_n1"));
    CHECK(s.rows("SELECT revision, direction FROM migrator_history ORDER BY id") ==
          Rows{{"t:n0003_irreversible", "t:stamp"}, {"t:n0004_last", "t:up"}});

    // Stamping back to base is recorded too and runs nothing.
    auto b = w.run("stamp base");
    REQUIRE(b.exit_code == 0);
    CHECK(recorded_revision(w.db).empty());
    Sqlite s2(w.db, SQLITE_OPEN_READONLY);
    CHECK(s2.has_table("fx_n4"));
    CHECK(s2.text("SELECT direction FROM migrator_history ORDER BY id DESC LIMIT 1") == "stamp");
    CHECK(s2.integer("SELECT count(*) FROM migrator_applied") == 0);
}

TEST_CASE("chain: down past an irreversible revision is refused before anything runs") {
    Workspace w(fixture_set("notx"));
    REQUIRE(w.run("up").exit_code == 0);
    const std::string before = w.bytes();

    auto r = w.run("down --to base");
    CHECK(r.exit_code == 2);  // refused at planning, like an unreachable target
    CHECK(contains(r.err, "'n0003_irreversible' is irreversible"));
    CHECK(w.bytes() == before);  // not even n0004's down ran
    CHECK(recorded_revision(w.db) == "n0004_last");
    CHECK(Sqlite(w.db, SQLITE_OPEN_READONLY).has_table("fx_n4"));

    // Going down to the irreversible revision itself is allowed.
    auto ok = w.run("down --to n0003_irreversible");
    CHECK(ok.exit_code == 0);
    CHECK(recorded_revision(w.db) == "n0003_irreversible");
    CHECK_FALSE(Sqlite(w.db, SQLITE_OPEN_READONLY).has_table("fx_n4"));
}

TEST_CASE("chain: reference 0004 on a row violating the new CHECK fails and leaves the DB byte-identical") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up --to " + std::string(kRev2)).exit_code == 0);
    populate_at_0002(w.db);
    REQUIRE(w.run("up --to " + std::string(kRev3)).exit_code == 0);
    {
        Sqlite s(w.db);  // valid at 0003, which has no CHECK on status
        s.exec("INSERT INTO task(id, agent_id, title, status, created_at, priority) "
               "VALUES (77, 1, 'legacy row', 'archived', '2025-12-31T23:59:59.000Z', 2)");
    }
    const std::string before = w.bytes();
    auto r = w.run("up");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "0004_task_status_check"));
    CHECK(contains(r.err, "CHECK constraint failed"));
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db) == kRev3);
}

// Host bug (see report): a plugin's own COMMIT ends the host's transaction; the bookkeeping
// then runs in autocommit mode, the run reports "rolled back" (exit 6), but revisions 1 and 2
// are committed and recorded.
TEST_CASE("chain: a revision's own COMMIT cannot end the host transaction", "[!mayfail]") {
    Workspace w(fixture_set("txctl"));
    {
        Sqlite s(w.db);
        s.exec("CREATE TABLE app_data(v TEXT); INSERT INTO app_data VALUES ('x');");
    }
    const std::string before = w.bytes();
    auto r = w.run("up");
    CHECK(r.exit_code == 1);
    // The plugin is told why (user trial: it got SQLite's bare "not authorized").
    CHECK(contains(r.err, "transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE) is not allowed"));
    CHECK_FALSE(contains(r.err, "not authorized"));
    CHECK(w.bytes() == before);
    CHECK(recorded_revision(w.db).empty());
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK_FALSE(s.has_table("fx_t1"));
    CHECK_FALSE(s.has_table("fx_t2"));
    // Whatever the host does, its report must match the file: it says "database is at base".
    if (contains(r.out, "database is at base")) CHECK(recorded_revision(w.db).empty());
}

// Host bug (see report): for a revision flagged NO_TRANSACTION | FOREIGN_KEYS_OFF the host
// turns foreign keys off and never runs foreign_key_check (it only runs for transactional
// segments), so the dangling reference is accepted and the revision recorded (exit 0).
TEST_CASE("chain: FOREIGN_KEYS_OFF with NO_TRANSACTION cannot leave a dangling reference unreported", "[!mayfail]") {
    Workspace w(fixture_set("fknotx"));
    REQUIRE(w.run("up --to k0001_fk_tables").exit_code == 0);
    auto r = w.run("up");
    CHECK((r.exit_code == 1 || r.exit_code == 3));
    CHECK(recorded_revision(w.db) == "k0001_fk_tables");
    const bool refused_up_front = r.exit_code == 3;
    if (refused_up_front) CHECK(Sqlite(w.db, SQLITE_OPEN_READONLY).rows("PRAGMA foreign_key_check").empty());
    else CHECK(contains(r.err, "foreign key"));
}

// Regression: the C++ SDK turned a host call answered with MIG_CANCELLED (a cancel requested
// before the plugin's next exec) into migrator::Error, i.e. MIG_ERROR; the host took the
// cancel for a failing migration, which `start` answers with a reset.
TEST_CASE("chain: sdk_cancelled_host_call_stays_a_cancel") {
    CHECK_THROWS_AS(migrator::detail::throw_status(MIG_CANCELLED, "cancelled by the operator"), migrator::Cancelled);
    CHECK_THROWS_AS(migrator::detail::throw_status(MIG_ERROR, "no such table: x"), migrator::Error);
    mig_error_buf buf{};
    char text[64] = {};
    buf.data = text;
    buf.cap = sizeof text;
    const mig_status st = migrator::guard(&buf, [] { migrator::detail::throw_status(MIG_CANCELLED, nullptr); });
    CHECK(st == MIG_CANCELLED);
}

// Regression: the declaration of frozen schema fingerprints was first added to the released
// 0005, which changed its source checksum: every database already at 0005 was refused as
// checksum drift (exit 3) and could never start again. A released revision's source is
// frozen; this pins the checksums (in the file names) of every released reference revision.
// A new revision adds its line here when it is released.
TEST_CASE("chain: released_reference_revisions_keep_their_checksums") {
    std::set<std::string> names;
    for (const auto& p : testing::reference_plugins()) names.insert(p.filename().string());
    for (const char* released : {"0001_initial-ccf1ce10b8b7.so", "0002_task_priority-6468431644a6.so",
                                 "0003_agent_tools-e6ef91e2212e.so", "0004_task_status_check-43ca1f03c6da.so",
                                 "0005_message_v2-ec92e7b995a9.so"}) {
        INFO(released << " (an edited released revision: revert the edit, put the change in a new revision)");
        CHECK(names.count(released) == 1);
    }
}

// Regression: switching the archive's MANIFEST from FNV-1a to SHA-256 in place made every
// archive written before refused ("not the file that was archived"), and made new archives
// unreadable to an older host that a downgraded app brings back. MANIFEST keeps the old
// format; the SHA-256 list is MANIFEST.sha256.
TEST_CASE("chain: archive_written_by_an_older_host_still_reverts_and_old_hosts_can_read_ours") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    const fs::path archive = w.db.string() + ".plugin-archive";
    // What an older host reads: "name size hex" with at most 16 hex digits.
    std::ifstream legacy(archive / "MANIFEST");
    std::string line;
    int lines = 0;
    while (std::getline(legacy, line)) {
        ++lines;
        std::istringstream ls(line);
        std::string name, hex, rest;
        std::uint64_t size = 0;
        CHECK(bool(ls >> name >> size >> hex));
        CHECK(hex.size() <= 16);
        CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
        CHECK_FALSE(bool(ls >> rest));
    }
    CHECK(lines == 6);
    REQUIRE(fs::exists(archive / "MANIFEST.sha256"));

    // An older host's archive: MANIFEST only.
    fs::remove(archive / "MANIFEST.sha256");
    w.set_plugins(reference_prefix(2));
    auto r = w.run("down --to " + std::string(kRev3));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(recorded_revision(w.db) == kRev3);

    // A damaged copy in such an archive is still refused by name.
    fs::path victim;
    for (const auto& e : fs::directory_iterator(archive))
        if (e.path().filename().string().rfind(kRev3, 0) == 0 && e.path().extension() == ".so") victim = e.path();
    REQUIRE_FALSE(victim.empty());
    { std::ofstream(victim, std::ios::app) << "x"; }
    fs::remove(archive / "MANIFEST.sha256");
    auto bad = w.run("down --to " + std::string(kRev2));
    CHECK(bad.exit_code == 3);
    CHECK(contains(bad.err, victim.filename().string()));
    CHECK(recorded_revision(w.db) == kRev3);
}
