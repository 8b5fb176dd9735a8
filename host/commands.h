// The operator commands, one function each; cli.cpp maps the command line onto them.
#pragma once

#include <functional>
#include <string>

#include "bookkeeping.h"
#include "chain.h"
#include "db.h"
#include "head_verdict.h"
#include "lock.h"
#include "plan.h"
#include "status.h"

namespace migrator {

class Events;

struct GlobalOptions {
    std::string db;
    std::string plugins;
    int busy_timeout_ms = 5000;  // SQLite's wait for a lock held by a non-migrator writer
    int lock_timeout_ms = 60000; // wait for another migrator process (the sidecar lock)
    bool json = false;
    const Events* events = nullptr;  // --events sink, when given
    unsigned workers = 0;            // blob transform threads; 0 = one per core
    bool quarantine = false;         // --on-row-error=quarantine (see BlobOptions)
    bool print_results = true;       // false: a run's report is not printed (start's fresh build)
    bool require_manifest = false;   // --require-manifest: refuse a plugin dir without MANIFEST.json
    // Called as each revision of a run starts (start's child tells its parent which one).
    std::function<void(const PluginMeta&)> step_started;
};

// Everything a command needs before it can act: the chain (validated), the DB (opened), its
// state (validated against the chain).
struct Context {
    Chain chain;
    Db db;
    DbState state;
    bool db_exists = true;
};

// "base" on the command line means no revision ("").
std::string resolve_rev(const std::string& r);
// Opens g.db in `mode` and reads its state, validated against ctx.chain (DB newer than app,
// checksum drift). read_only on a missing file: ctx.db_exists = false, state base.
Status open_db(const GlobalOptions& g, Db::Mode mode, Context& ctx);
// load_chain + open_db.
Status open_context(const GlobalOptions& g, Db::Mode mode, Context& ctx);

// run_plan with the chain's info lines silenced: for commands that run a plan as a means
// (check, new) and print their own summary.
Status run_plan_quietly(Db& db, const Plan& plan, const RunOptions& opts);
// The whole content of a text file ("" when it cannot be read: check with a stream first
// where that matters).
std::string read_text_file(const std::string& path);

// Discovers --plugins and orders them into a validated chain.
Status load_chain(const GlobalOptions& g, Chain& chain);

// Opens (creating) g.db, plans `up` to `to` ("" = head) along `chain` and runs it, printing
// the report. Takes no lock: callers do. Used by `up` and by the isolated child of `start`.
// `chain` by value: callers that are done with theirs move it (a copy is a copy of every
// plugin's metadata, on the start-up path). With `key` (captured before `chain` was read) and
// the run ending at head, stores the head verdict (head_verdict.h).
Status migrate_up(const GlobalOptions& g, Chain chain, const std::string& to, bool commit_each,
                  const PluginSetKey* key = nullptr);

// The plugin set first (a wrong --plugins is refused without creating the lock file next to
// the database), then the migration lock unless `lock` already holds it. When the lock had to
// be waited for, `key` is captured again and the set read again.
Status load_chain_then_lock(const GlobalOptions& g, PluginSetKey& key, MigrationLock& lock, Chain& chain);

// What `up` prints for a database already at `head` (text, or --json), unless !g.print_results.
void print_nothing_to_do(const GlobalOptions& g, const std::string& head);

// The O(1) start-up at head (head_verdict.h): when the verdict next to g.db was made for
// `key`, takes `lock` and checks the database (opened in `mode`). Sets `head` when the
// database is at the head of the unchanged plugin set: nothing to do. Otherwise `head` stays
// empty and `lock` may be held already (when the lock had to be waited for, `key` is captured
// again: the other process may have been an upgrade). Fails only as the full path would
// (the lock, a busy database).
Status head_fast_path(const GlobalOptions& g, Db::Mode mode, PluginSetKey& key, MigrationLock& lock,
                      std::string& head);

Status cmd_up(const GlobalOptions& g, const std::string& to, bool commit_each);
Status cmd_down(const GlobalOptions& g, const std::string& to, bool commit_each);
Status cmd_stamp(const GlobalOptions& g, const std::string& to);
Status cmd_status(const GlobalOptions& g);
Status cmd_verify(const GlobalOptions& g);
Status cmd_history(const GlobalOptions& g);
Status cmd_plugins(const GlobalOptions& g);
// Writes <plugins>/MANIFEST.json (manifest.h) for the plugins of --plugins; with `verify`,
// checks the directory against its manifest instead (listing and every hash) and writes nothing.
Status cmd_manifest(const GlobalOptions& g, const std::string& release, bool verify);
// Runs one revision's blob transform on one value read from stdin; the result goes to stdout,
// a row error to stderr (migration_failed). table/column pick the blob migration when the
// revision has more than one.
Status cmd_blob(const GlobalOptions& g, const std::string& revision, bool down,
                const std::string& table, const std::string& column);

}  // namespace migrator
