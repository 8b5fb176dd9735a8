// Stage 4: run a plan as a transaction chain.
//
// Default: the whole plan is one transaction (BEGIN IMMEDIATE, one SAVEPOINT per revision),
// so any failure leaves the database exactly as it was. commit_each commits after every
// revision instead, so a failure keeps the revisions before it. A MIG_FLAG_NO_TRANSACTION
// revision always runs alone, between commits. When a revision has MIG_FLAG_FOREIGN_KEYS_OFF
// the transaction containing it runs with `PRAGMA foreign_keys=OFF` (set before BEGIN, as it
// is a no-op inside a transaction) and `PRAGMA foreign_key_check` must come back empty
// before COMMIT; otherwise foreign keys are enforced.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "blob_engine.h"
#include "bookkeeping.h"
#include "db.h"
#include "plan.h"
#include "status.h"

namespace migrator {

class Events;

struct RunOptions {
    bool commit_each = false;
    // Set from a signal handler: makes the current revision fail with Code::cancelled.
    const std::atomic<bool>* cancel = nullptr;
    BlobOptions blob;
    const Events* events = nullptr;  // revision started/finished events, when set
    // For dry runs. capture_sql: StepResult::sql gets the statements each revision's SQL
    // step ran (sqlite3_trace_v2, the plugin's own statements only, consecutive repeats
    // folded). before_step / after_step run on the same connection inside the revision's
    // transaction, after_step only when the step succeeded; an error from either fails the
    // revision like its own error would.
    bool capture_sql = false;
    std::function<Status(const PluginMeta&, Db&)> before_step;
    std::function<Status(const PluginMeta&, Db&)> after_step;
    // The JSON Schema a blob migration's result is validated against (nullptr: none).
    std::function<const JsonSchema*(const PluginMeta&, const mig_blob_migration_v1&)> blob_schema;
    // The caller already checked every file of plan.steps against the release manifest
    // (verify_plugin_files); run_plan then does not hash them a second time.
    bool files_verified = false;
};

// One statement a revision's SQL step ran, for dry runs; `times` > 1 when it ran repeatedly
// (a prepared statement stepped again after a reset, or the same text executed in a row).
struct CapturedSql {
    std::string sql;
    std::int64_t times = 1;
};

struct StepResult {
    std::string revision;
    Direction direction = Direction::up;
    double duration_ms = 0;
    std::int64_t rows_affected = 0;
    bool committed = false;  // false when it was rolled back (or never ran)
    std::vector<BlobStats> blobs;
    std::vector<CapturedSql> sql;  // with RunOptions::capture_sql
};

struct RunReport {
    std::string from;
    std::string reached;  // the revision the DB is at afterwards
    std::vector<StepResult> steps;
    std::string failed_revision;  // "" when nothing failed
    std::vector<BlobStats> failed_blobs;  // blob statistics of the failed revision, if any
    std::vector<CapturedSql> failed_sql;  // with capture_sql: what the failed revision ran
};

// Loads the plan's plugins (all of them before the first write), then runs it.
Status run_plan(Db& db, const Plan& plan, const RunOptions& opts, RunReport& report);

// A run that failed its foreign_key_check in a transaction where a FOREIGN_KEYS_OFF revision
// had switched foreign keys off for revisions that did not ask for it (so their ON DELETE /
// ON UPDATE actions did not run). Rolled back; with commit_each it may pass.
extern const char* const kForeignKeysOffForAll;
bool failed_for_foreign_keys_off_for_all(const Status& st);

// Sets the DB's revision without running migrations (in its own transaction).
Status stamp(Db& db, const Chain& chain, const std::string& target);

}  // namespace migrator
