// Operator dry runs: `migrator plan` (from metadata alone) and `up/down --dry-run` (the real
// chain rehearsed on a snapshot).
//
// plan: reads the plugins' metadata notes, never their code, and opens the database
// read-only: the revisions a move would run, in order, with their flags and blob migrations,
// and the row counts of the tables those touch.
//
// rehearse: copies the database with SQLite's online backup API into a scratch file (the
// original is opened read-only, no migration lock is taken, nothing is written to it), runs
// the real plan on the copy and reports per revision: the SQL its step ran, rows affected,
// the schema before/after as a diff, blob statistics with the first failing rows, and the
// validation of every migrated blob against the frozen JSON Schema of its model. Blob row
// errors are all counted (the scan does not stop at the first), and the exit status is the
// one the real run would have. The scratch copy is deleted afterwards.
#pragma once

#include <cstddef>
#include <string>

#include "commands.h"
#include "plan.h"
#include "status.h"

namespace migrator {

struct RehearseOptions {
    std::string scratch_dir;   // the snapshot's directory; "" = $TMPDIR or /tmp
    // Frozen JSON Schemas, one file <Model>.json per blob model; "" = <plugins>/../schemas/frozen
    // when that exists (the layout of the build tree and of a plugin release).
    std::string json_schemas;
    std::size_t samples = 10;  // failing rows / schema violations listed per blob migration
};

// `migrator plan [--down] [--to REV]`.
Status cmd_plan(const GlobalOptions& g, Direction dir, const std::string& to);

// `migrator up|down --dry-run [--to REV]`.
Status cmd_rehearse(const GlobalOptions& g, Direction dir, const std::string& to,
                    const RehearseOptions& ro);

}  // namespace migrator
