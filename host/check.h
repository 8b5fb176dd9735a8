// Stage: the schema guard `migrator check`, run in CI on the app's migration history.
//
// 1. Every plugin from scratch must give exactly the schema of the latest DDL file.
// 2. Empty tables hide data-dependent failures (ADD COLUMN NOT NULL without a default, a new
//    CHECK or FOREIGN KEY that existing rows violate, a blob transform that cannot read
//    stored values): a database is built at every older revision, filled with generated rows
//    (or the app's own fixture SQL, <fixtures>/<revision>.sql), migrated to head and compared
//    again.
// 3. Every current JSON model must equal its frozen copy (json_models.h).
// 4. Lint: destructive and data-dependent changes are reported as coded warnings.
#pragma once

#include <string>

#include "commands.h"
#include "status.h"

namespace migrator {

struct CheckOptions {
    std::string schema_file;   // required: the latest DDL
    std::string models_dir;    // "" = no model check
    std::string frozen_dir;    // with models_dir
    std::string fixtures_dir;  // "" = generated rows only
    bool populated = true;     // step 2
    int rows_per_table = 3;
};

Status cmd_check(const GlobalOptions& g, const CheckOptions& o);

}  // namespace migrator
