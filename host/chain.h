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
};

struct StepResult {
    std::string revision;
    Direction direction = Direction::up;
    double duration_ms = 0;
    std::int64_t rows_affected = 0;
    bool committed = false;  // false when it was rolled back (or never ran)
    std::vector<BlobStats> blobs;
};

struct RunReport {
    std::string from;
    std::string reached;  // the revision the DB is at afterwards
    std::vector<StepResult> steps;
    std::string failed_revision;  // "" when nothing failed
    std::vector<BlobStats> failed_blobs;  // blob statistics of the failed revision, if any
};

// Loads the plan's plugins (all of them before the first write), then runs it.
Status run_plan(Db& db, const Plan& plan, const RunOptions& opts, RunReport& report);

// Sets the DB's revision without running migrations (in its own transaction).
Status stamp(Db& db, const Chain& chain, const std::string& target);

}  // namespace migrator
