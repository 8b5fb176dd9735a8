// migrator: command line entry. Parses arguments (CLI11), sets up logging (spdlog, stderr),
// dispatches to commands.cpp and turns the resulting Status into the exit code.
#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <csignal>

#include "commands.h"
#include "autogen.h"
#include "check.h"
#include "events.h"
#include "log.h"
#include "rehearse.h"
#include "startup.h"
#include "version.h"

namespace {

const char* kExitCodes = R"(Exit codes:
  0    success (also: nothing to do)
  1    migration failed: a revision returned an error or violated a constraint; the
       transaction was rolled back (with --commit-each: back to the last good revision)
  2    usage: bad command line, unknown target revision
  3    plugin set invalid: unsafe/corrupt/duplicate/missing plugin, broken chain, an
       applied revision whose checksum changed, or a file unlisted in or different from
       the release manifest (MANIFEST.json); nothing was written
  4    database is newer than this app: it is at a revision the plugin set does not know
  5    database busy: another process held it past --busy-timeout; nothing was written
  6    database error: cannot open, read or write it (missing, read-only, corrupt, disk full)
  7    verify: the database is not at head
  8    start: the migration failed and the database was reset: it is usable and at head,
       the old file is kept in a verified backup (see the incident in `status --json`)
  9    start: the migration process was killed (SIGKILL: out of memory, or an operator);
       rolled back, not reset; the next start retries
  130  cancelled (SIGINT/SIGTERM); rolled back

Environment: MIGRATOR_DB and MIGRATOR_PLUGINS stand in for --db and --plugins.)";

}  // namespace

int main(int argc, char** argv) {
    using namespace migrator;
    CLI::App app{"migrator: applies compiled, versioned migration plugins to a SQLite database"};
    app.set_version_flag("--version", kVersion);
    // At most one command; "none" and "unknown" are told apart after parsing (CLI11 would say
    // "A subcommand is required" to a mistyped command name too).
    app.require_subcommand(0, 1);
    app.fallthrough();
    app.footer(kExitCodes);

    GlobalOptions g;
    int verbosity = 0;
    bool quiet = false;
    app.add_option("--db", g.db, "SQLite database file")->envname("MIGRATOR_DB");
    app.add_option("--plugins", g.plugins, "directory of migration plugins (*.so)")
        ->envname("MIGRATOR_PLUGINS");
    app.add_option("--busy-timeout", g.busy_timeout_ms,
                   "milliseconds to wait for another writer before giving up (exit 5)")
        ->check(CLI::Range(0, 86400000))
        ->capture_default_str();
    app.add_option("--lock-timeout", g.lock_timeout_ms,
                   "milliseconds to wait for another migrator process working on the same DB (exit 5)")
        ->check(CLI::Range(0, 86400000))
        ->capture_default_str();
    std::string events_spec;
    app.add_option("--events", events_spec,
                   "write JSON-lines progress events to this file (appended) or file descriptor number");
    app.add_option("--workers", g.workers, "worker threads for blob transforms, besides the main thread, which helps between its reads and writes (default: cores - 1)")
        ->check(CLI::Range(1u, 256u));
    std::string on_row_error = "fail";
    app.add_option("--on-row-error", on_row_error,
                   "a blob row the transform rejects: 'fail' the revision (rolled back), or "
                   "'quarantine' it (left as it was, recorded in table migrator_quarantine) and "
                   "migrate the other rows")
        ->check(CLI::IsMember({"fail", "quarantine"}))
        ->capture_default_str();
    app.add_flag("--require-manifest", g.require_manifest,
                 "refuse a plugin directory without a release manifest (MANIFEST.json); with one, it is "
                 "always checked: no unlisted or missing file, and each file's SHA-256 before it is loaded")
        ->envname("MIGRATOR_REQUIRE_MANIFEST");
    app.add_flag("--json", g.json, "machine-readable output on stdout");
    app.add_flag("-v,--verbose", verbosity, "more log output on stderr (-vv: trace)");
    app.add_flag("-q,--quiet", quiet, "only warnings and errors on stderr");

    std::string to;
    bool commit_each = false;
    auto* up = app.add_subcommand("up", "apply pending revisions (to head, or --to REV); creates the DB if missing");
    up->add_option("--to", to, "stop after this revision");
    up->add_flag("--commit-each", commit_each,
                 "commit after each revision instead of one transaction for the whole chain");
    auto* down = app.add_subcommand("down", "revert revisions back to --to REV ('base' reverts all)");
    down->add_option("--to", to, "revision to go back to (it stays applied); 'base' for none")->required();
    down->add_flag("--commit-each", commit_each, "commit after each reverted revision");
    bool dry_run = false;
    RehearseOptions ro;
    for (auto* sub : {up, down}) {
        sub->add_flag("--dry-run", dry_run,
                      "rehearse on a snapshot copy: run the real plugins, report SQL, schema "
                      "changes, blob results and JSON Schema validation; the database is not "
                      "touched; exit status as the real run would have");
        sub->add_option("--scratch", ro.scratch_dir, "dry run: directory for the snapshot copy (default $TMPDIR or /tmp)");
        sub->add_option("--json-schemas", ro.json_schemas,
                        "dry run: directory of frozen JSON Schemas, <Model>.json (default "
                        "<plugins>/../schemas/frozen when it exists; 'none': no validation)");
        sub->add_option("--samples", ro.samples, "dry run: failing rows and schema violations listed per blob migration")
            ->capture_default_str();
    }
    bool plan_down_flag = false;
    std::string plan_to;
    auto* plan = app.add_subcommand(
        "plan", "what `up` (or `down --to`) would run, from plugin metadata alone: no plugin code "
                "runs, nothing is written");
    plan->add_option("--to", plan_to, "target revision (default: head; with --down required)");
    plan->add_flag("--down", plan_down_flag, "plan a down move to --to");
    auto* stamp = app.add_subcommand("stamp", "record REV as the current revision without running anything");
    stamp->add_option("revision", to, "revision id, or 'base'")->required();
    auto* status = app.add_subcommand("status", "current revision, head, pending revisions");
    auto* verify = app.add_subcommand("verify", "exit 0 when the DB is at head, 7 when it is behind; changes nothing");
    auto* history = app.add_subcommand("history", "every applied, reverted and stamped revision");
    auto* plugins = app.add_subcommand("plugins", "the plugin chain as discovered (no plugin is loaded)");
    StartOptions so;
    std::string mode = "local";
    bool no_reset = false;
    auto* start = app.add_subcommand(
        "start",
        "for a server's start-up: migrate to head under a lock, in an isolated process. Local mode: "
        "when the migration fails (error, crash, corrupt DB), back up the DB (verified), replace "
        "it with a fresh one at head, record an incident and exit 8. Never resets for a bad plugin "
        "set (3), a DB newer than the app (4), or environment problems (5, 6), which the next "
        "start retries. Central mode never resets.");
    start->add_option("--mode", mode, "local (may reset) or central (never resets)")
        ->check(CLI::IsMember({"local", "central"}))
        ->capture_default_str();
    start->add_flag("--no-reset", no_reset, "local mode without the fallback reset");
    start->add_option("--backup-dir", so.backup_dir, "where backups go (default: <db>.backups)");
    start->add_option("--keep-backups", so.keep_backups,
                      "backups of this database to keep in the backup directory (at least 1: "
                      "the one a reset has just made is never removed)")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    CheckOptions co;
    bool no_populated = false;
    auto* check = app.add_subcommand(
        "check", "CI guard: every plugin run from scratch, and from populated DBs at every older "
                 "revision, must give exactly the schema in --schema; JSON models must equal their "
                 "frozen copies; destructive changes are reported as coded warnings (W001-W007)");
    check->add_option("--schema", co.schema_file, "the latest schema DDL, e.g. schemas/schema.sql")->required();
    check->add_option("--models", co.models_dir, "current JSON models, <Model>.json");
    check->add_option("--frozen", co.frozen_dir, "frozen JSON models (required with --models)");
    check->add_option("--fixtures", co.fixtures_dir,
                      "rows to load at a revision instead of generated ones: <fixtures>/<revision>.sql");
    check->add_option("--rows", co.rows_per_table, "generated rows per table")->capture_default_str();
    check->add_flag("--no-populated", no_populated, "skip the populated-DB runs");
    NewMigrationOptions nm;
    nm.out_dir = ".";
    auto* newmig = app.add_subcommand(
        "new",
        "write the next migration plugin: the SQL that turns the chain's head schema into --schema "
        "(ALTER TABLE where it can, SQLite's table rebuild where it cannot), up and down, and a "
        "failing blob migration stub per JSON model that differs from its frozen schema");
    newmig->add_option("name", nm.name, "what the migration does, e.g. task_due_date ([a-z0-9_]+)")->required();
    newmig->add_option("--schema", nm.schema_file, "the latest schema DDL, e.g. schemas/schema.sql")->required();
    newmig->add_option("--out", nm.out_dir, "directory for the plugin source")->capture_default_str();
    newmig->add_option("--register", nm.cmake_file,
                       "CMakeLists.txt whose set(_revisions ...) list gets the new revision");
    newmig->add_option("--models", nm.models_dir, "current JSON models, <Model>.json");
    newmig->add_option("--frozen", nm.frozen_dir, "frozen JSON models, updated from --models");
    newmig->add_option("--rename", nm.renames, "OLD:NEW (table) or TABLE.OLD:NEW (column); repeatable");
    newmig->add_flag("--allow-drop", nm.allow_drop,
                     "a table or column that disappears next to a new one is a real drop, not a rename");
    newmig->add_flag("--print", nm.dry_run, "print the plugin source instead of writing files");
    std::string fingerprints_dir = "schemas/frozen";
    bool fingerprints_cpp = false;
    auto* fingerprints = app.add_subcommand(
        "fingerprints", "print the fingerprints of a directory of frozen JSON Schemas, as the head plugin "
                        "declares them (`check` compares the two; `new` writes the declaration)");
    fingerprints->add_option("dir", fingerprints_dir, "frozen JSON Schemas, <Model>.json")->capture_default_str();
    fingerprints->add_flag("--cpp", fingerprints_cpp, "print the C++ SDK's MIGRATOR_FROZEN_SCHEMAS(...) to paste");
    bool blob_down = false;
    std::string blob_table, blob_column;
    auto* blob = app.add_subcommand(
        "blob",
        "run one revision's blob transform on a value read from stdin: the result goes to stdout; "
        "a row error goes to stderr with exit code 1 and nothing on stdout");
    blob->add_option("revision", to, "revision id")->required();
    blob->add_flag("--down", blob_down, "run the down transform");
    blob->add_option("--table", blob_table, "table of the blob migration (when the revision has several)");
    blob->add_option("--column", blob_column, "column of the blob migration");

    std::string manifest_release;
    bool manifest_verify = false;
    auto* manifest = app.add_subcommand(
        "manifest",
        "write the release manifest --plugins/MANIFEST.json (file, revision and SHA-256 of every plugin), "
        "or check the directory against it with --verify");
    manifest->add_option("--release", manifest_release, "release name recorded in the manifest, e.g. the app version");
    manifest->add_flag("--verify", manifest_verify,
                       "check instead of writing: every file listed, none missing, every SHA-256 equal (exit 3 if not)");

    // Only the top level keeps what it does not know, to name it below; subcommands were
    // created before this and stay strict.
    app.allow_extras();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : exit_code(Code::usage);
    }
    if (app.get_subcommands().empty()) {
        std::vector<std::string> names;
        for (const CLI::App* sub : app.get_subcommands(nullptr)) names.push_back(sub->get_name());
        const auto extra = app.remaining();
        if (extra.empty())
            fmt::print(stderr, "no command given. Commands: {}\nRun with --help for more information.\n",
                       fmt::join(names, ", "));
        else if (!extra.front().empty() && extra.front()[0] != '-')
            fmt::print(stderr, "unknown command '{}'. Commands: {}\nRun with --help for more information.\n",
                       extra.front(), fmt::join(names, ", "));
        else
            fmt::print(stderr, "unknown option '{}'\nRun with --help for more information.\n", extra.front());
        return exit_code(Code::usage);
    }
    if (!app.remaining().empty()) {
        fmt::print(stderr, "unexpected argument '{}'\nRun with --help for more information.\n", app.remaining().front());
        return exit_code(Code::usage);
    }

    log_init(quiet ? LogLevel::warn
             : verbosity >= 2 ? LogLevel::trace
             : verbosity == 1 ? LogLevel::debug
                              : LogLevel::info);

    // A directory at --db: SQLite would say "disk I/O error", and `up` would leave a lock
    // file beside it. Named here, before any command touches it.
    if (struct stat db_st {}; !g.db.empty() && ::stat(g.db.c_str(), &db_st) == 0 && S_ISDIR(db_st.st_mode)) {
        log_error("--db '{}' is a directory, not a database file: pass the path of the database "
                  "file (`up` creates it when it does not exist)",
                  g.db);
        return exit_code(Code::usage);
    }

    std::signal(SIGPIPE, SIG_IGN);  // a closed --events pipe must not kill a migration
    Events events;
    if (Status est = events.open(events_spec); !est) {
        log_error("{}", est.message());
        return exit_code(est.code());
    }
    if (events.enabled()) g.events = &events;
    g.quarantine = on_row_error == "quarantine";
    so.central = mode == "central";
    so.reset = !no_reset;

    Status st;
    if (*start) st = cmd_start(g, so);
    else if (*up && dry_run) st = cmd_rehearse(g, Direction::up, to, ro);
    else if (*down && dry_run) st = cmd_rehearse(g, Direction::down, to, ro);
    else if (*up) st = cmd_up(g, to, commit_each);
    else if (*down) st = cmd_down(g, to, commit_each);
    else if (*plan) st = cmd_plan(g, plan_down_flag ? Direction::down : Direction::up, plan_to);
    else if (*stamp) st = cmd_stamp(g, to);
    else if (*status) st = cmd_status(g);
    else if (*verify) st = cmd_verify(g);
    else if (*history) st = cmd_history(g);
    else if (*plugins) st = cmd_plugins(g);
    else if (*check) {
        co.populated = !no_populated;
        if (!co.models_dir.empty() && co.frozen_dir.empty())
            st = {Code::usage, "--models needs --frozen DIR (the frozen copies to compare with)"};
        else
            st = cmd_check(g, co);
    }
    else if (*newmig) st = cmd_new(g, nm);
    else if (*fingerprints) st = cmd_fingerprints(fingerprints_dir, fingerprints_cpp);
    else if (*blob) st = cmd_blob(g, to, blob_down, blob_table, blob_column);
    else if (*manifest) st = cmd_manifest(g, manifest_release, manifest_verify);
    if (!st && st.code() != Code::reset_performed) log_error("{}", st.message());
    return exit_code(st.code());
}
