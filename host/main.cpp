// migrator: command line entry. Parses arguments (CLI11), sets up logging (spdlog, stderr),
// dispatches to commands.cpp and turns the resulting Status into the exit code.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "version.h"

namespace {

const char* kExitCodes = R"(Exit codes:
  0    success (also: nothing to do)
  1    migration failed: a revision returned an error or violated a constraint; the
       transaction was rolled back (with --commit-each: back to the last good revision)
  2    usage: bad command line, unknown target revision
  3    plugin set invalid: unsafe/corrupt/duplicate/missing plugin, broken chain, or an
       applied revision whose checksum changed; nothing was written
  4    database is newer than this app: it is at a revision the plugin set does not know
  5    database busy: another process held it past --busy-timeout; nothing was written
  6    database error: cannot open, read or write it (missing, read-only, corrupt, disk full)
  7    verify: the database is not at head
  130  cancelled (SIGINT/SIGTERM); rolled back

Environment: MIGRATOR_DB and MIGRATOR_PLUGINS stand in for --db and --plugins.)";

}  // namespace

int main(int argc, char** argv) {
    using namespace migrator;
    CLI::App app{"migrator: applies compiled, versioned migration plugins to a SQLite database"};
    app.set_version_flag("--version", kVersion);
    app.require_subcommand(1);
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
        ->capture_default_str();
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
    auto* stamp = app.add_subcommand("stamp", "record REV as the current revision without running anything");
    stamp->add_option("revision", to, "revision id, or 'base'")->required();
    auto* status = app.add_subcommand("status", "current revision, head, pending revisions");
    auto* verify = app.add_subcommand("verify", "exit 0 when the DB is at head, 7 when it is behind; changes nothing");
    auto* history = app.add_subcommand("history", "every applied, reverted and stamped revision");
    auto* plugins = app.add_subcommand("plugins", "the plugin chain as discovered (no plugin is loaded)");
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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : exit_code(Code::usage);
    }

    auto logger = spdlog::stderr_color_mt("migrator");
    logger->set_pattern("%^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(quiet ? spdlog::level::warn
                      : verbosity >= 2 ? spdlog::level::trace
                      : verbosity == 1 ? spdlog::level::debug
                                       : spdlog::level::info);

    Status st;
    if (*up) st = cmd_up(g, to, commit_each);
    else if (*down) st = cmd_down(g, to, commit_each);
    else if (*stamp) st = cmd_stamp(g, to);
    else if (*status) st = cmd_status(g);
    else if (*verify) st = cmd_verify(g);
    else if (*history) st = cmd_history(g);
    else if (*plugins) st = cmd_plugins(g);
    else if (*blob) st = cmd_blob(g, to, blob_down, blob_table, blob_column);
    if (!st) spdlog::error("{}", st.message());
    return exit_code(st.code());
}
