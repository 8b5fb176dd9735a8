// `migrator start`, through the real binary: one test per failure class of the start-up
// contract. Each asserts the exit code, what the user sees (stdout, stderr, --events), and
// what the files hold afterwards: the database, the backups, the incident.
//
//   plugin set (bad, duplicate, missing, drift, DB newer)  -> refuse before writing: 3 or 4
//   environment (busy, locked, read-only, disk full, SIGKILL) -> roll back, never reset: 5, 6, ...
//   migration (SQL error, constraint, throw, SIGSEGV, SIGABRT), corrupt file
//       -> local mode with reset: verified backup, fresh DB at head, incident, exit 8
//   reset whose fresh build fails too (set abort) -> original left in place, non-zero, not 8
//
// Fixture sets: see CMakeLists.txt and fixtures/. Note "segv_early" crashes only on a populated
// item table (the fresh build succeeds); "abort" crashes on any data.
#include <catch2/catch.hpp>

#include <sys/file.h>

#include <sstream>

#include "startup_support.h"

using namespace startup;

namespace {

namespace fs = std::filesystem;
using testing::RunResult;

constexpr int kExitFailed = 1;
constexpr int kExitPluginSet = 3;
constexpr int kExitNewer = 4;
constexpr int kExitBusy = 5;
constexpr int kExitDbError = 6;
constexpr int kExitReset = 8;
constexpr uid_t kNobody = 65534;

// Everything the user saw, for failure messages.
std::string shown(const RunResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// How often each revision was applied ('up' rows of migrator_history).
std::map<std::string, int> ups(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    std::map<std::string, int> out;
    if (!s.has_table("migrator_history")) return out;
    for (const auto& row :
         s.rows("SELECT revision, count(*) FROM migrator_history WHERE direction = 'up' GROUP BY revision"))
        out[row[0].substr(2)] = std::stoi(row[1].substr(2));
    return out;
}
std::map<std::string, int> each_once() { return {{kBase, 1}, {kChange, 1}, {kHead, 1}}; }

// True when `want` occurs in `names` in this order (other events may come in between).
bool in_order(const std::vector<std::string>& names, const std::vector<std::string>& want) {
    size_t i = 0;
    for (const auto& n : names)
        if (i < want.size() && n == want[i]) ++i;
    return i == want.size();
}
size_t count_of(const std::vector<std::string>& names, const std::string& name) {
    return static_cast<size_t>(std::count(names.begin(), names.end(), name));
}
std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}
// True for a rollback journal SQLite ignores: empty, or a header that was never synced (a
// writer that died before touching the database file). A hot journal (the file needs its
// rollback) starts with the journal magic instead.
bool cold_journal(const fs::path& p) {
    const std::string b = testing::read_file(p);
    return b.empty() || b[0] == '\0';
}
// Files next to the DB that should not be there, listed (for readable failures). The backup
// directory is expected only where a backup was made; a cold journal left by a killed child is
// harmless (the next write transaction removes it), a hot one is not.
std::string strays(const Workspace& w, bool backups_expected = false) {
    std::vector<std::string> out;
    for (const auto& f : w.stray_files()) {
        if (backups_expected && f == "app.db.backups") continue;
        if (f == "app.db-journal" && cold_journal(w.tmp / f)) continue;
        out.push_back(f);
    }
    return join(out);
}

// The one `finished` event of the last run in the events file.
std::int64_t finished_exit_code(const std::vector<Json>& ev) {
    auto f = events_named(ev, "finished");
    REQUIRE(!f.empty());
    return std::int64_t((*f.back())["exit_code"]);
}

// Each "error:" line of stderr once: the user is told about a failure once.
std::string repeated_errors(const std::string& err) {
    std::map<std::string, int> seen;
    std::string out;
    size_t pos = 0;
    while (pos < err.size()) {
        size_t nl = err.find('\n', pos);
        std::string line = err.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? err.size() : nl + 1;
        if (line.rfind("error:", 0) == 0 && ++seen[line] == 2) out += line + "\n";
    }
    return out;
}

// What a refusal or an environment failure must leave behind: the file as it was (bytes and
// rows), no backup directory, no reset announced anywhere.
void require_untouched(const Workspace& w, const RunResult& r, const std::string& bytes_before,
                       const Rows& rows_before, const std::string& revision_before) {
    INFO(shown(r));
    CHECK(w.bytes() == bytes_before);
    CHECK(item_rows(w.db) == rows_before);
    CHECK(recorded_revision(w.db) == revision_before);
    CHECK(w.backups().empty());
    CHECK_FALSE(fs::exists(w.backup_dir()));
    CHECK(strays(w) == "");
    CHECK_FALSE(contains(r.out, "RESET"));
    CHECK(contains(r.err, "error: "));
    CHECK(repeated_errors(r.err) == "");
    if (fs::exists(w.events)) {
        auto ev = read_events(w.events);
        auto names = event_names(ev);
        INFO("events: " << join(names));
        CHECK(count_of(names, "backup_written") == 0);
        CHECK(count_of(names, "reset") == 0);
        CHECK(finished_exit_code(ev) == r.exit_code);
    }
}

struct ResetExpectation {
    std::string failure_class;     // migration | corrupt
    std::string failing_revision;  // "" for a corrupt file
    std::string error_fragment;    // in the incident's error
    std::string from_revision;     // where the old DB stood ("" for a corrupt file)
};

// A completed reset: exit 8 and a RESET notice; one backup (0600, in <db>.backups/, 0700) that
// holds the user's rows; a fresh DB at head with the incident recorded; the incident as JSON
// next to the backup; the events; `status --json`. Returns the backup's path.
fs::path require_reset(const Workspace& w, const RunResult& r, const ResetExpectation& x) {
    INFO(shown(r));
    REQUIRE(r.exit_code == kExitReset);
    CHECK(contains(r.out, "RESET: the database could not be migrated"));
    CHECK(contains(r.out, "A fresh database at " + std::string(kHead) + " is in place"));
    CHECK(contains(r.out, "(" + x.failure_class + ": "));  // the notice says why
    CHECK(contains(r.out, x.error_fragment));
    CHECK(repeated_errors(r.err) == "");

    // The backup directory: the backup and its incident file, both private.
    const auto files = w.backups();
    INFO("backups: " << files.size());
    fs::path backup, incident_file;
    for (const auto& f : files) {
        if (ends_with(f.string(), ".incident.json")) incident_file = f;
        else if (ends_with(f.string(), ".db") || ends_with(f.string(), ".raw")) backup = f;
    }
    REQUIRE(!backup.empty());
    REQUIRE(files.size() == 2);
    CHECK(incident_file == fs::path(backup.string() + ".incident.json"));
    CHECK(mode_of(w.backup_dir()) == 0700);
    CHECK(mode_of(backup) == 0600);
    CHECK(mode_of(incident_file) == 0600);
    CHECK(contains(r.out, backup.string()));
    if (x.failure_class != "corrupt") {
        CHECK(ends_with(backup.string(), "." + x.from_revision + ".db"));
        // A complete SQLite copy of the old file: the user's rows, at the old revision.
        CHECK(recorded_revision(backup) == x.from_revision);
        CHECK(item_rows(backup) == old_rows());
        Sqlite b(backup, SQLITE_OPEN_READONLY);
        CHECK(b.text("PRAGMA integrity_check") == "ok");
    }

    // The new database: at head, built from scratch, with the incident.
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db).empty());
    CHECK(ups(w.db) == each_once());
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        REQUIRE(s.has_table("migrator_incident"));
        CHECK(s.integer("SELECT count(*) FROM migrator_incident") == 1);
        auto inc = s.rows("SELECT failure_class, coalesce(failing_revision, ''), backup_path, "
                          "coalesce(from_revision, ''), to_revision, error, time FROM migrator_incident");
        // "" (none: a corrupt file has no known revision) reads as NULL or '' alike.
        REQUIRE(inc.size() == 1);
        CHECK(inc[0][0] == "t:" + x.failure_class);
        CHECK(inc[0][1] == "t:" + x.failing_revision);
        CHECK(inc[0][2] == "t:" + backup.string());
        CHECK(inc[0][3] == "t:" + x.from_revision);
        CHECK(inc[0][4] == "t:" + std::string(kHead));
        CHECK(contains(inc[0][5], x.error_fragment));
        CHECK(inc[0][6].size() > 2);
    }
    CHECK(strays(w, true) == "");  // no half-built "<db>.migrator-new" left behind

    // The incident as a file next to the backup.
    Json inc(testing::read_file(incident_file));
    CHECK(str(inc["failure_class"]) == x.failure_class);
    CHECK(str(inc["failing_revision"]) == x.failing_revision);
    CHECK(str(inc["backup_path"]) == backup.string());
    CHECK(str(inc["from_revision"]) == x.from_revision);
    CHECK(str(inc["to_revision"]) == kHead);
    CHECK(str(inc["db"]) == w.db.string());
    CHECK(contains(str(inc["error"]), x.error_fragment));

    // The events the app sees.
    auto ev = read_events(w.events);
    auto names = event_names(ev);
    INFO("events: " << join(names));
    CHECK(in_order(names, {"started", "backup_written", "reset", "finished"}));
    CHECK(count_of(names, "reset") == 1);
    auto bw = events_named(ev, "backup_written");
    REQUIRE(bw.size() == 1);
    CHECK(str((*bw[0])["path"]) == backup.string());
    CHECK(bool((*bw[0])["raw"]) == (x.failure_class == "corrupt"));
    auto rs = events_named(ev, "reset");
    CHECK(str((*rs[0])["backup_path"]) == backup.string());
    CHECK(str((*rs[0])["incident_file"]) == incident_file.string());
    CHECK(str((*rs[0])["failure_class"]) == x.failure_class);
    CHECK(finished_exit_code(ev) == kExitReset);
    CHECK(bool((*events_named(ev, "finished").back())["ok"]));

    // `status --json` shows the incident.
    auto st = w.run("--json status");
    INFO("status: " << shown(st));
    REQUIRE(st.exit_code == 0);
    Json sj(st.out);
    CHECK(bool(sj["at_head"]));
    CHECK(str(sj["last_incident"]["backup_path"]) == backup.string());
    CHECK(str(sj["last_incident"]["failure_class"]) == x.failure_class);
    CHECK(str(sj["last_incident"]["failing_revision"]) == x.failing_revision);
    return backup;
}

// A reset with the workspace's failing set on a populated DB at base.
fs::path reset_scenario(const Workspace& w, const std::string& fragment) {
    make_populated_db_at_base(w);
    auto r = w.start();
    auto backup = require_reset(w, r, {"migration", kChange, fragment, kBase});
    // The next start finds the fresh DB at head: nothing to do, nothing new in the backups.
    auto again = w.start();
    INFO(shown(again));
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "nothing to do"));
    CHECK(w.backups().size() == 2);
    return backup;
}

// A plugin-set problem against a DB made with the "good" set: refused before any write.
// `set` replaces the plugins; `extra` then adds a file to them (name, bytes).
void plugin_set_refused(const std::string& set, const std::string& fragment, bool at_head = false,
                        const std::pair<std::string, std::string>& extra = {}) {
    Workspace w("good");
    make_populated_db_at_base(w);
    if (at_head) REQUIRE(w.start().exit_code == 0);
    const std::string revision = recorded_revision(w.db);
    w.set_plugins(set);
    if (!extra.first.empty()) {
        testing::write_file(w.plugins / extra.first, extra.second);
        REQUIRE(::chmod((w.plugins / extra.first).c_str(), 0755) == 0);
    }
    fs::remove(w.events);
    const std::string before = w.bytes();
    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code == kExitPluginSet);
    CHECK(contains(r.err, fragment));
    require_untouched(w, r, before, old_rows(), revision);
    // No migration was even attempted.
    CHECK(event_names(read_events(w.events)) == std::vector<std::string>{"started", "finished"});
}

// chown -R, not following symlinks.
void chown_tree(const fs::path& root, uid_t uid) {
    REQUIRE(::lchown(root.c_str(), uid, static_cast<gid_t>(uid)) == 0);
    for (const auto& e : fs::recursive_directory_iterator(root))
        REQUIRE(::lchown(e.path().c_str(), uid, static_cast<gid_t>(uid)) == 0);
}

// Runs `start` as a user whom file modes bind: as root (who ignores them), drops to nobody,
// to whom the caller handed the workspace; otherwise as the current user.
RunResult start_as_unprivileged(const Workspace& w) {
    if (::geteuid() == 0) {
        SpawnOptions o;
        o.uid = kNobody;
        return spawn_migrator(w.start_argv({"--busy-timeout", "500"}), o);
    }
    return w.start("--busy-timeout 500");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Success

TEST_CASE("start: good set on a populated DB at base -> migrated to head, rows intact, no backup, then a second start is a no-op, exit 0") {
    Workspace w("good");
    make_populated_db_at_base(w);
    auto r = w.start();
    {
        INFO(shown(r));
        REQUIRE(r.exit_code == 0);
        CHECK(contains(r.out, "database is at " + std::string(kHead)));
        CHECK_FALSE(contains(r.out, "RESET"));
    }
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db) == old_rows());
    CHECK(ups(w.db) == each_once());
    CHECK(w.backups().empty());
    CHECK_FALSE(fs::exists(w.backup_dir()));
    CHECK(strays(w) == "");
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK_FALSE(s.has_table("migrator_incident"));
        CHECK(s.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'item_name'") == 1);
    }
    auto ev = read_events(w.events);
    auto names = event_names(ev);
    INFO("events: " << join(names));
    CHECK(in_order(names, {"started", "revision_started", "revision_finished", "revision_started",
                           "revision_finished", "finished"}));
    CHECK(count_of(names, "backup_written") == 0);
    CHECK(count_of(names, "reset") == 0);
    CHECK(str((*events_named(ev, "started")[0])["mode"]) == "local");
    CHECK(finished_exit_code(ev) == 0);

    // Second start: nothing to do, the file is not even written.
    const std::string bytes = w.bytes();
    auto again = w.start();
    INFO(shown(again));
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "nothing to do"));
    CHECK(w.bytes() == bytes);
    CHECK(ups(w.db) == each_once());
    CHECK(finished_exit_code(read_events(w.events)) == 0);

    // status agrees: at head, no incident.
    auto st = w.run("--json status");
    REQUIRE(st.exit_code == 0);
    Json sj(st.out);
    CHECK(bool(sj["at_head"]));
    CHECK(sj["last_incident"].is_null());
}

TEST_CASE("start: missing DB -> created at head, exit 0") {
    Workspace w("good");
    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db).empty());
    CHECK(w.backups().empty());
}

// ---------------------------------------------------------------------------------------------
// Migration failures -> reset

TEST_CASE("start: plugin throws -> verified backup, fresh DB at head, incident, exit 8") {
    Workspace w("throw");
    reset_scenario(w, "startup fixture cannot convert 4 legacy item rows");
}

TEST_CASE("start: plugin crashes with SIGSEGV -> verified backup, fresh DB at head, incident, exit 8") {
    Workspace w("segv");
    reset_scenario(w, "signal 11");
}

TEST_CASE("start: plugin crashes with SIGSEGV before writing -> verified backup, fresh DB at head, incident, exit 8") {
    Workspace w("segv_early");
    reset_scenario(w, "signal 11");
}

// Regression: the fresh database used to get the process's default mode, not the old file's.
TEST_CASE("start: the reset database keeps the old file's permission bits") {
    Workspace w("throw");
    make_populated_db_at_base(w);
    REQUIRE(::chmod(w.db.c_str(), 0640) == 0);
    auto r = w.start();
    INFO(r.err);
    REQUIRE(r.exit_code == 8);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(mode_of(w.db) == 0640u);
    for (const auto& b : w.backups())
        if (b.extension() == ".json") CHECK(mode_of(b) == 0600u);
}

// Regression (user trial): a start run as root for an app that runs as its own user reset
// the database into a root-owned file the app could no longer write.
TEST_CASE("start: the reset database keeps the old file's owner") {
    if (::geteuid() != 0) {
        WARN("needs root to give the database another owner; skipped");
        return;
    }
    Workspace w("throw");
    make_populated_db_at_base(w);
    REQUIRE(::chown(w.db.c_str(), 65534, 65534) == 0);  // nobody:nogroup
    REQUIRE(::chmod(w.db.c_str(), 0660) == 0);
    auto r = w.start();
    INFO(r.err);
    REQUIRE(r.exit_code == 8);
    struct stat st {};
    REQUIRE(::stat(w.db.c_str(), &st) == 0);
    CHECK(st.st_uid == 65534u);
    CHECK(st.st_gid == 65534u);
    CHECK(mode_of(w.db) == 0660u);
}

// Regression (user trial): the fresh database of a reset came back in rollback-journal mode
// although the app had put its database in WAL mode.
TEST_CASE("start: the reset database keeps WAL mode") {
    Workspace w("throw");
    make_populated_db_at_base(w);
    REQUIRE(Sqlite(w.db).text("PRAGMA journal_mode = WAL") == "wal");
    auto r = w.start();
    INFO(r.err);
    REQUIRE(r.exit_code == 8);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(Sqlite(w.db, SQLITE_OPEN_READONLY).text("PRAGMA journal_mode") == "wal");
    CHECK_FALSE(fs::exists(w.db.string() + ".migrator-new-wal"));
}

// Regression (user trial): `start --json` printed the run's JSON and then two plain-text
// RESET lines on stdout, and nothing at all at head.
TEST_CASE("start: json_output_is_json_lines_on_reset_and_at_head") {
    Workspace w("throw");
    make_populated_db_at_base(w);
    auto r = w.run("--json start");
    INFO(shown(r));
    REQUIRE(r.exit_code == kExitReset);
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    REQUIRE(lines.size() == 2);
    Json run(lines[0]);  // throws on anything but JSON
    CHECK(bool(run.root()["ok"]) == false);
    Json reset(lines[1]);
    CHECK(bool(reset.root()["reset"]) == true);
    CHECK(str(reset.root()["to_revision"]) == kHead);
    CHECK(fs::exists(str(reset.root()["backup_path"])));

    auto again = w.run("--json start");
    INFO(shown(again));
    CHECK(again.exit_code == 0);
    Json head(again.out);
    CHECK(str(head.root()["reached"]) == kHead);
    CHECK(head.root()["steps"].get_array().size() == 0);
}

TEST_CASE("start: constraint violation (UNIQUE) -> verified backup, fresh DB at head, incident, exit 8") {
    Workspace w("unique");
    auto backup = reset_scenario(w, "UNIQUE constraint failed");
    // The backup holds the rows as they were, not the rolled-back "(checked)" notes.
    for (const auto& row : item_rows(backup)) CHECK_FALSE(contains(row[2], "(checked)"));
}

TEST_CASE("start: corrupt DB file -> raw byte copy in the backup dir, fresh DB at head, incident, exit 8") {
    Workspace w("good");
    const std::string garbage = random_bytes(3 * 4096 + 17, 20240601);
    testing::write_file(w.db, garbage);
    auto r = w.start();
    auto backup = require_reset(w, r, {"corrupt", "", "file is not a database", ""});
    CHECK(ends_with(backup.string(), ".raw"));
    CHECK(digest(testing::read_file(backup)) == digest(garbage));
    CHECK(testing::read_file(backup) == garbage);
}

// ---------------------------------------------------------------------------------------------
// Reset not allowed

TEST_CASE("start: --no-reset with a failing plugin -> rolled back, no backup, DB byte-identical, exit 1") {
    Workspace w("throw");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto r = w.start("--no-reset");
    INFO(shown(r));
    CHECK(r.exit_code == kExitFailed);
    CHECK(contains(r.err, "startup fixture cannot convert 4 legacy item rows"));
    require_untouched(w, r, before, old_rows(), kBase);
    auto ev = read_events(w.events);
    CHECK_FALSE(bool((*events_named(ev, "started")[0])["reset"]));
}

TEST_CASE("start: --mode central with a crashing plugin -> rolled back, no backup, DB byte-identical, exit 1") {
    Workspace w("segv");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto r = w.start("--mode central");
    INFO(shown(r));
    CHECK(r.exit_code == kExitFailed);
    CHECK(contains(r.err, "signal 11"));
    require_untouched(w, r, before, old_rows(), kBase);
    auto ev = read_events(w.events);
    auto started = events_named(ev, "started");
    CHECK(str((*started[0])["mode"]) == "central");
    CHECK_FALSE(bool((*started[0])["reset"]));
}

// Regression (user trial): a child that exited from inside a plugin with code 0 was taken
// for a successful migration: `start` said nothing and exited 0 with the database still at
// base and a hot journal beside it. Any other code passed through as if it were a class
// (exit 5: "busy", with an empty message).
TEST_CASE("start: plugin_calling_exit_is_a_failed_migration_never_a_success") {
    Workspace w("exit0");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto central = w.start("--mode central");
    INFO(shown(central));
    CHECK(central.exit_code == kExitFailed);
    CHECK(contains(central.err, "called exit()"));
    require_untouched(w, central, before, old_rows(), kBase);

    auto local = w.start();
    INFO(shown(local));
    CHECK(local.exit_code == kExitReset);  // a migration failure, answered as such
    const auto ev = read_events(w.events);  // events_named points into it
    auto rs = events_named(ev, "reset");
    REQUIRE(rs.size() == 1);
    CHECK(item_rows(str((*rs.back())["backup_path"])) == old_rows());
}

// Regression (user trial): a crash was attributed to the first pending revision, not to the
// one the child was running (revision 3 aborted; the incident blamed revision 2).
TEST_CASE("start: crash_is_attributed_to_the_revision_that_was_running") {
    Workspace w("late_abort");
    make_populated_db_at_base(w);
    auto r = w.start();
    INFO(shown(r));
    REQUIRE(r.exit_code == kExitReset);
    const auto ev = read_events(w.events);  // events_named points into it
    auto rs = events_named(ev, "reset");
    REQUIRE(rs.size() == 1);
    CHECK(str((*rs.back())["failing_revision"]) == "s0003_tail");
    CHECK(item_rows(str((*rs.back())["backup_path"])) == old_rows());
}

// Regression (user trial): a database the app had made before it used migrator (tables, no
// bookkeeping) failed its migration from base on the first CREATE TABLE, and `start` reset
// it: the user's rows went to a backup and the app came up empty. It is still migrated (an
// idempotent first revision adopts it), but a failure is never answered with a reset.
TEST_CASE("start: database_made_without_migrator_is_never_reset") {
    Workspace w("good");
    {
        Sqlite s(w.db);
        s.exec("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, note TEXT); "
               "INSERT INTO item(name, note) VALUES ('kept', 'as it was');");
    }
    const std::string before = w.bytes();
    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code == kExitFailed);
    CHECK(contains(r.err, "Not reset"));
    CHECK(contains(r.err, "no migrator bookkeeping"));
    CHECK(contains(r.err, "stamp REV"));
    CHECK(w.bytes() == before);
    CHECK(w.backups().empty());
    // An empty database file is not "made without migrator": it is migrated.
    std::error_code ec;
    fs::remove(w.db, ec);
    testing::write_file(w.db, "");
    auto fresh = w.start();
    INFO(shown(fresh));
    CHECK(fresh.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
}

TEST_CASE("start: --mode central with a failing plugin -> rolled back, no backup, DB byte-identical, exit 1") {
    Workspace w("unique");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto r = w.start("--mode central");
    INFO(shown(r));
    CHECK(r.exit_code == kExitFailed);
    CHECK(contains(r.err, "UNIQUE constraint failed"));
    require_untouched(w, r, before, old_rows(), kBase);
}

TEST_CASE("start: corrupt DB file with --no-reset -> exit 6, no backup, file byte-identical") {
    Workspace w("good");
    const std::string garbage = random_bytes(2 * 4096, 99);
    testing::write_file(w.db, garbage);
    auto r = w.start("--no-reset");
    INFO(shown(r));
    CHECK(r.exit_code == kExitDbError);
    CHECK(contains(r.err, "corrupt"));
    CHECK(testing::read_file(w.db) == garbage);
    CHECK(w.backups().empty());
    CHECK_FALSE(fs::exists(w.backup_dir()));
    CHECK(strays(w) == "");
    CHECK(repeated_errors(r.err) == "");
    auto ev = read_events(w.events);
    CHECK(count_of(event_names(ev), "reset") == 0);
    CHECK(finished_exit_code(ev) == kExitDbError);
}

// ---------------------------------------------------------------------------------------------
// Reset that cannot complete

TEST_CASE("start: plugin aborts (SIGABRT) and the fresh DB cannot be built either -> original left in place, reset failed, exit 1") {
    Workspace w("abort");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != kExitReset);
    CHECK(r.exit_code == kExitFailed);
    CHECK(contains(r.err, "reset failed"));
    CHECK(contains(r.err, "signal 6"));
    CHECK(contains(r.err, "untouched"));
    CHECK_FALSE(contains(r.out, "RESET"));
    // The original is where it was, as it was.
    CHECK(w.bytes() == before);
    CHECK(item_rows(w.db) == old_rows());
    CHECK(recorded_revision(w.db) == kBase);
    CHECK(strays(w, true) == "");  // the half-built new file is gone
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK_FALSE(s.has_table("migrator_incident"));
    }
    // The verified backup taken before the attempt may stay: it holds the user's rows.
    for (const auto& b : w.backups()) {
        CHECK(ends_with(b.string(), ".db"));
        CHECK(item_rows(b) == old_rows());
    }
    auto ev = read_events(w.events);
    auto names = event_names(ev);
    INFO("events: " << join(names));
    CHECK(count_of(names, "reset") == 0);
    CHECK(finished_exit_code(ev) == r.exit_code);
    CHECK_FALSE(bool((*events_named(ev, "finished").back())["ok"]));
    // Nothing to report as an incident: the DB was not reset.
    auto st = w.run("--json status");
    REQUIRE(st.exit_code == 0);
    CHECK(Json(st.out)["last_incident"].is_null());
}

TEST_CASE("start: a reset that fails at every start does not pile up backups beyond --keep-backups") {
    Workspace w("abort");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    for (int i = 0; i < 3; ++i) {
        auto r = w.start("--keep-backups 2");
        INFO("run " << i << ": " << shown(r));
        CHECK(r.exit_code == kExitFailed);
        CHECK(contains(r.err, "reset failed"));
    }
    CHECK(w.bytes() == before);
    size_t copies = 0;
    for (const auto& b : w.backups()) copies += ends_with(b.string(), ".db");
    CHECK(copies <= 2);
}

// ---------------------------------------------------------------------------------------------
// Environment failures -> no reset; the next start retries

TEST_CASE("start: migration child SIGKILLed (OOM) -> environment: rolled back, no reset, then the next start with a good set migrates once") {
    Workspace w("kill");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    auto r = w.start();
    {
        INFO(shown(r));
        CHECK(r.exit_code == 9);  // killed: its own code, an environment problem
        CHECK(contains(r.err, "signal 9"));
        CHECK_FALSE(contains(r.out, "RESET"));
    }
    CHECK(w.bytes() == before);
    CHECK(w.backups().empty());
    CHECK_FALSE(fs::exists(w.backup_dir()));
    // The killed transaction is rolled back: a reader sees the old rows, untouched.
    CHECK(item_rows(w.db) == old_rows());
    CHECK(recorded_revision(w.db) == kBase);
    CHECK(strays(w) == "");
    {
        auto names = event_names(read_events(w.events));
        INFO("events: " << join(names));
        CHECK(count_of(names, "reset") == 0);
        CHECK(count_of(names, "backup_written") == 0);
    }

    // The next start (the fixed app) retries and applies every revision exactly once.
    w.set_plugins("good");
    auto again = w.start();
    INFO(shown(again));
    CHECK(again.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db) == old_rows());  // nothing of the killed run's UPDATE survived
    CHECK(ups(w.db) == each_once());
    CHECK(w.backups().empty());
}

TEST_CASE("start: eight concurrent starts -> all exit 0, exactly one migrates, each revision applied once") {
    Workspace w("good");
    make_populated_db_at_base(w);
    testing::TempDir out;
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    std::vector<std::unique_ptr<Spawned>> procs;
    constexpr int kProcs = 8;
    for (int i = 0; i < kProcs; ++i)
        procs.push_back(std::make_unique<Spawned>(w.start_argv(), out / ("out" + std::to_string(i)),
                                                  out / ("err" + std::to_string(i)), SpawnOptions{},
                                                  gate[0], gate[1]));
    ::close(gate[1]);  // all start at once
    ::close(gate[0]);
    int migrated = 0, noop = 0;
    for (int i = 0; i < kProcs; ++i) {
        RunResult r;
        r.exit_code = procs[static_cast<size_t>(i)]->wait();
        r.out = testing::read_file(out / ("out" + std::to_string(i)));
        r.err = testing::read_file(out / ("err" + std::to_string(i)));
        INFO("process " << i << ": " << shown(r));
        CHECK(r.exit_code == 0);
        if (contains(r.out, "nothing to do")) ++noop;
        else if (contains(r.out, "database is at " + std::string(kHead))) ++migrated;
    }
    CHECK(migrated == 1);
    CHECK(noop == kProcs - 1);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(ups(w.db) == each_once());
    CHECK(item_rows(w.db) == old_rows());
    CHECK(w.backups().empty());
    auto ev = read_events(w.events);  // eight writers, every line whole
    auto names = event_names(ev);
    CHECK(count_of(names, "started") == kProcs);
    CHECK(count_of(names, "finished") == kProcs);
    CHECK(count_of(names, "revision_finished") == 2);
    CHECK(count_of(names, "reset") == 0);
}

TEST_CASE("start: DB locked by another writer (BEGIN EXCLUSIVE) past --busy-timeout -> exit 5, no reset, DB unchanged") {
    Workspace w("good");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    RunResult r;
    {
        Sqlite holder(w.db);
        holder.exec("BEGIN EXCLUSIVE");
        r = w.start("--busy-timeout 200 --lock-timeout 200");
        holder.exec("ROLLBACK");
    }
    INFO(shown(r));
    CHECK(r.exit_code == kExitBusy);
    CHECK(contains(r.err, "locked"));
    require_untouched(w, r, before, old_rows(), kBase);
    // Once the other writer is done, the next start migrates.
    auto again = w.start();
    CHECK(again.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
}

TEST_CASE("start: DB write-locked by another writer (BEGIN IMMEDIATE) past --busy-timeout -> exit 5, no reset, DB unchanged") {
    Workspace w("throw");  // a reset here would be visible: the set fails on these rows
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    RunResult r;
    {
        Sqlite holder(w.db);
        holder.exec("BEGIN IMMEDIATE");
        r = w.start("--busy-timeout 200 --lock-timeout 200");
        holder.exec("ROLLBACK");
    }
    INFO(shown(r));
    CHECK(r.exit_code == kExitBusy);
    require_untouched(w, r, before, old_rows(), kBase);
}

TEST_CASE("start: migration lock held by another migrator (flock) past --lock-timeout -> exit 5, no reset, DB unchanged") {
    Workspace w("good");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    const fs::path lock = w.db.string() + ".migrator-lock";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    auto r = w.start("--lock-timeout 200");
    ::close(fd);
    INFO(shown(r));
    CHECK(r.exit_code == kExitBusy);
    CHECK(contains(r.err, "another migrator process"));
    CHECK(contains(r.err, "--lock-timeout"));  // the option that raises this wait
    require_untouched(w, r, before, old_rows(), kBase);
    auto again = w.start("--lock-timeout 200");
    CHECK(again.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
}

TEST_CASE("start: read-only DB file -> exit 6, no reset, DB unchanged") {
    Workspace w("good");
    make_populated_db_at_base(w);
    testing::write_file(w.events, "");
    if (::geteuid() == 0) {
        // The server's user owns everything, but the file is write-protected.
        chown_tree(w.tmp.path(), kNobody);
    }
    REQUIRE(::chmod(w.db.c_str(), 0444) == 0);
    const std::string before = w.bytes();
    auto r = start_as_unprivileged(w);
    ::chmod(w.db.c_str(), 0644);
    INFO(shown(r));
    CHECK(r.exit_code == kExitDbError);
    CHECK(contains(r.err, "readonly"));
    require_untouched(w, r, before, old_rows(), kBase);
}

TEST_CASE("start: read-only DB directory -> exit 6, no reset, DB unchanged") {
    Workspace w("good");
    make_populated_db_at_base(w);
    testing::write_file(w.events, "");
    if (::geteuid() == 0) {
        // The server's user owns the files it had (DB, lock, events), not the directory.
        chown_tree(w.tmp.path(), kNobody);
        REQUIRE(::lchown(w.tmp.path().c_str(), 0, 0) == 0);
    }
    REQUIRE(::chmod(w.tmp.path().c_str(), 0555) == 0);
    const std::string before = w.bytes();
    auto r = start_as_unprivileged(w);
    ::chmod(w.tmp.path().c_str(), 0755);
    INFO(shown(r));
    CHECK(r.exit_code == kExitDbError);
    require_untouched(w, r, before, old_rows(), kBase);
}

TEST_CASE("start: disk full (file-size limit) -> exit 6, no reset, DB unchanged") {
    Workspace w("bulk");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    SpawnOptions o;
    o.fsize_limit = 256 * 1024;  // the set writes ~4 MiB
    auto r = spawn_migrator(w.start_argv(), o);
    INFO(shown(r));
    CHECK(r.exit_code == kExitDbError);
    CHECK(contains(r.err, "s0002_change"));
    require_untouched(w, r, before, old_rows(), kBase);
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        CHECK_FALSE(s.has_table("bulk"));
        CHECK(s.text("PRAGMA integrity_check") == "ok");
    }
    // With space again, the next start retries and gets there.
    auto again = w.start();
    INFO("again: " << shown(again));
    CHECK(again.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db) == old_rows());
    CHECK(ups(w.db) == each_once());
}

// Another process writes more than its page cache holds (so SQLite spills into the database
// file) and dies without committing, as a server killed mid-migration would: a hot journal.
void leave_hot_journal(const Workspace& w) {
    const std::string before = w.bytes();
    std::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            Sqlite s(w.db);
            s.exec("PRAGMA cache_size = 10");
            s.exec("BEGIN");
            s.exec("UPDATE item SET note = 'half-written'");
            s.exec("CREATE TABLE junk(b BLOB)");
            s.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
                   "INSERT INTO junk SELECT zeroblob(2000) FROM n");
            ::_exit(0);  // no COMMIT, no ROLLBACK, not even a close
        } catch (...) {
            ::_exit(1);
        }
    }
    int ws = 0;
    REQUIRE(::waitpid(pid, &ws, 0) == pid);
    REQUIRE(WIFEXITED(ws));
    REQUIRE(WEXITSTATUS(ws) == 0);
    INFO("journal: " << digest(testing::read_file(w.tmp / "app.db-journal")) << ", db: " << w.bytes());
    REQUIRE_FALSE(cold_journal(w.tmp / "app.db-journal"));  // hot: the file needs a rollback
    REQUIRE(w.bytes() != before);
}

// Regression: status and verify opened the file read-only, which cannot roll a hot journal
// back (SQLITE_READONLY_ROLLBACK): exit 6 until some writer came along.
TEST_CASE("status and verify roll back a hot journal instead of failing") {
    Workspace w("good");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    leave_hot_journal(w);
    auto st = w.run("status");
    INFO(shown(st));
    CHECK(st.exit_code == 0);
    CHECK(contains(st.out, "current:  s0001_base"));
    CHECK(w.bytes() == before);  // the last committed state, nothing else
    CHECK(item_rows(w.db) == old_rows());
    CHECK(w.run("verify").exit_code == 7);
}

TEST_CASE("start: hot journal left by a writer that died mid-transaction -> rolled back, migrated, exit 0") {
    Workspace w("good");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    leave_hot_journal(w);

    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code == 0);
    CHECK(recorded_revision(w.db) == kHead);
    CHECK(item_rows(w.db) == old_rows());
    CHECK(ups(w.db) == each_once());
    CHECK(w.backups().empty());
    CHECK(strays(w) == "");
    Sqlite s(w.db, SQLITE_OPEN_READONLY);
    CHECK_FALSE(s.has_table("junk"));
}

// ---------------------------------------------------------------------------------------------
// Plugin-set problems -> refuse before the first write

TEST_CASE("start: DB newer than the app -> exit 4, no reset, DB unchanged") {
    Workspace w("good");
    make_populated_db_at_base(w);
    REQUIRE(w.start().exit_code == 0);
    w.set_plugins("old_app");
    const std::string before = w.bytes();
    auto r = w.start();
    INFO(shown(r));
    CHECK(r.exit_code == kExitNewer);
    CHECK(contains(r.err, "newer"));
    require_untouched(w, r, before, old_rows(), kHead);
}

TEST_CASE("start: checksum drift (applied revision edited) -> exit 3, no reset, DB unchanged") {
    plugin_set_refused("drift", "checksum drift");
}

TEST_CASE("start: checksum drift on a DB at head -> exit 3, no reset, DB unchanged") {
    plugin_set_refused("drift", "checksum drift", true);
}

TEST_CASE("start: missing plugin (broken chain) -> exit 3, no reset, DB unchanged") {
    plugin_set_refused("missing", "missing from the plugin set");
}

TEST_CASE("start: duplicate plugin (same revision twice) -> exit 3, no reset, DB unchanged") {
    plugin_set_refused("duplicate", "duplicate revision id");
}

TEST_CASE("start: bad plugin file (not a plugin) -> exit 3, no reset, DB unchanged") {
    plugin_set_refused("good", "not an ELF file", false, {"s0004_broken.so", random_bytes(5000, 7)});
}

// ---------------------------------------------------------------------------------------------
// Backups

// Regression (user trial): `--keep-backups 0` pruned the backup the reset had just made, so
// the old data was gone while the RESET message and `status` still pointed at it.
TEST_CASE("start: keep_backups_below_one_is_refused_and_never_removes_the_new_backup") {
    Workspace w("throw");
    make_populated_db_at_base(w);
    const std::string before = w.bytes();
    for (const char* bad : {"0", "-1"}) {
        auto r = w.start(std::string("--keep-backups ") + bad);
        INFO(bad << ": " << shown(r));
        CHECK(r.exit_code == 2);
        CHECK(w.bytes() == before);  // refused before anything ran
    }
    auto r = w.start("--keep-backups 1");
    INFO(shown(r));
    REQUIRE(r.exit_code == kExitReset);
    const auto ev = read_events(w.events);  // events_named points into it
    auto rs = events_named(ev, "reset");
    REQUIRE(rs.size() == 1);
    const fs::path made = str((*rs.back())["backup_path"]);
    CHECK(fs::exists(made));
    CHECK(item_rows(made) == old_rows());
}

// Regression (user trial): pruning matched backup file names only, and two databases both
// called app.db that share a --backup-dir have the same names: one database's resets deleted
// the other's only backup.
TEST_CASE("start: shared_backup_dir_never_prunes_another_databases_backups") {
    Workspace a("throw");
    Workspace b("throw");
    const fs::path shared = a.tmp / "shared-backups";
    // An older host's incident file holds the path as given (relative): not attributable.
    fs::create_directories(shared);
    const fs::path legacy = shared / "app.db.20200101T000000000Z.s0001_base.db";
    testing::write_file(legacy, "an older host's backup");
    testing::write_file(legacy.string() + ".incident.json", R"({"db":"app.db","backup_path":"x"})");
    make_populated_db_at_base(b);
    auto rb = b.start("--backup-dir " + q(shared) + " --keep-backups 1");
    INFO(shown(rb));
    REQUIRE(rb.exit_code == kExitReset);
    const auto b_events = read_events(b.events);
    const fs::path b_backup = str((*events_named(b_events, "reset").back())["backup_path"]);
    std::vector<fs::path> a_backups;
    for (int i = 0; i < 2; ++i) {
        std::error_code ec;
        fs::remove(a.db, ec);
        make_populated_db_at_base(a);
        auto ra = a.start("--backup-dir " + q(shared) + " --keep-backups 1");
        INFO(shown(ra));
        REQUIRE(ra.exit_code == kExitReset);
        const auto a_events = read_events(a.events);
        a_backups.emplace_back(str((*events_named(a_events, "reset").back())["backup_path"]));
    }
    CHECK(fs::exists(b_backup));             // the other database's backup survives
    CHECK(fs::exists(legacy));               // and so does one nobody can attribute
    CHECK(item_rows(b_backup) == old_rows());
    CHECK_FALSE(fs::exists(a_backups[0]));   // this database keeps its newest one only
    CHECK(fs::exists(a_backups[1]));
}

TEST_CASE("start: --keep-backups N prunes older backups with their incident files") {
    Workspace w("throw");
    std::vector<fs::path> made;
    for (int i = 0; i < 3; ++i) {
        std::error_code ec;
        fs::remove(w.db, ec);
        make_populated_db_at_base(w);
        auto r = w.start("--keep-backups 2");
        INFO("run " << i << ": " << shown(r));
        REQUIRE(r.exit_code == kExitReset);
        auto ev = read_events(w.events);
        auto rs = events_named(ev, "reset");
        REQUIRE(rs.size() == static_cast<size_t>(i + 1));
        made.emplace_back(str((*rs.back())["backup_path"]));
        CHECK(fs::exists(made.back()));
    }
    // The newest two backups stay (each with its incident file); the oldest is gone.
    const auto files = w.backups();
    CHECK(files == std::vector<fs::path>{made[1], fs::path(made[1].string() + ".incident.json"), made[2],
                                         fs::path(made[2].string() + ".incident.json")});
    CHECK_FALSE(fs::exists(made[0]));
    CHECK_FALSE(fs::exists(made[0].string() + ".incident.json"));
    for (size_t i = 1; i < made.size(); ++i) CHECK(item_rows(made[i]) == old_rows());
}
