// Stage: the blob engine. Applies one blob migration (a plugin's pure transform) to every
// value of table.column: streamed in rowid order in bounded batches, transformed by a pool of
// worker threads while the main thread reads the next batch and writes the previous one
// (SQLite is used from the main thread only), changed rows written with one prepared UPDATE.
// Runs inside the caller's transaction; a failure leaves the rollback to the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "db.h"
#include "migrator/plugin_api.h"
#include "plan.h"
#include "status.h"

namespace migrator {

class JsonSchema;

struct BlobOptions {
    unsigned workers = 0;                     // 0: one per core but one (the main thread helps)
    std::size_t batch_rows = 4096;            // rows per batch, at most
    std::size_t batch_bytes = 16u << 20;      // input bytes per batch, at most (one row may exceed)
    std::size_t max_reported_errors = 10;     // row errors kept for the report
    // Row errors: by default the first batch holding one ends the scan and fails the
    // migration. scan_all keeps going (good rows are still written, failing rows never are)
    // so that every error is counted, then fails: what a dry run needs. quarantine implies
    // scan_all, records every failing row in migrator_quarantine (revision, table, column,
    // rowid, error; the row itself stays as it was) and lets the migration succeed.
    bool scan_all = false;
    bool quarantine = false;
    std::string revision;                     // for quarantine rows
    // Dry runs: every value the column holds afterwards (a changed row's output, an
    // unchanged row's input) is validated against this schema by the workers.
    const JsonSchema* schema = nullptr;
    // Called on the main thread after each batch: rows scanned so far and the fraction of
    // the table's rowid range covered (0..1), a cheap estimate that needs no count(*).
    std::function<void(const std::string& table, const std::string& column, std::uint64_t rows,
                       double fraction)>
        progress;
};

struct RowError {
    std::int64_t rowid = 0;
    std::string message;
};

struct BlobStats {
    std::string table;
    std::string column;
    std::uint64_t scanned = 0;  // non-NULL values read
    std::uint64_t changed = 0;
    std::uint64_t unchanged = 0;
    std::uint64_t failed = 0;
    std::uint64_t quarantined = 0;  // failed rows recorded in migrator_quarantine
    // With BlobOptions::schema: values checked, violations, values the validator could not
    // parse (counted apart), and the first violations / unparsable values.
    std::uint64_t validated = 0, schema_invalid = 0, schema_unparsable = 0;
    std::vector<RowError> schema_errors;
    double duration_ms = 0;
    std::vector<RowError> errors;  // the first max_reported_errors
};

// Runs `blob`'s up (or down) transform over its column. Row errors fail it (migration_failed,
// naming the first failing rowid and its message) after the batch that holds them; nothing
// of a failing row is ever written.
Status run_blob_migration(Db& db, const mig_blob_migration_v1& blob, Direction dir,
                          const BlobOptions& opts, const std::atomic<bool>& cancel,
                          BlobStats& stats);


}  // namespace migrator
