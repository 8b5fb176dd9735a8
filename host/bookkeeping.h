// The host's own tables in the target database: where it is, what it applied, what happened.
//
//   migrator_version  one row: the current revision ('' = base)
//   migrator_applied  one row per applied revision, with the checksum it was applied with
//   migrator_history  one row per applied, reverted or stamped revision (append-only)
//
// All names start with "migrator_"; schema comparisons exclude them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db.h"
#include "plan.h"
#include "plugin_meta.h"
#include "status.h"

namespace migrator {

struct AppliedRow {
    std::string revision;
    std::string checksum;
    std::string applied_at;
};

struct HistoryRow {
    std::int64_t id = 0;
    std::string revision;
    std::string checksum;
    std::string direction;  // up | down | stamp
    std::string started_at;
    double duration_ms = 0;
    std::string host_version;
    std::int64_t rows_affected = 0;
};

// The last reset recorded by `migrator start` (table migrator_incident).
struct Incident {
    std::string time, failure_class, failing_revision, error, backup_path, from_revision, to_revision;
};

struct DbState {
    bool initialized = false;  // bookkeeping tables exist
    std::string current;       // "" = base
    std::vector<AppliedRow> applied;
    std::optional<Incident> last_incident;  // read_status_extras only
    std::int64_t quarantined = 0;  // read_status_extras only: rows left unmigrated
};

// What every command needs: the current revision and the applied revisions.
Status read_state(Db& db, DbState& out);
// What only `status` shows (last_incident, quarantined): kept off the start-up path.
Status read_status_extras(Db& db, DbState& out);
Status read_history(Db& db, std::vector<HistoryRow>& out);
// Creates the tables if missing. Must run inside the write transaction.
Status ensure_bookkeeping(Db& db);

// Records one step (inside the step's transaction): moves the current revision, updates
// migrator_applied and appends a history row.
Status record_step(Db& db, const PluginMeta& m, Direction d, const std::string& new_current,
                   const std::string& started_at, double duration_ms, std::int64_t rows_affected);
// Sets the current revision without running anything; migrator_applied becomes exactly the
// chain prefix up to `target`.
Status record_stamp(Db& db, const Chain& chain, const std::string& target, const std::string& now);

// Refuses a plugin set in which an applied revision's checksum differs from the one recorded.
Status check_applied_checksums(const Chain& chain, const DbState& state);

// UTC time as 2026-01-01T00:00:00.123Z.
std::string utc_now();

}  // namespace migrator
