// Stage: the schema guard `migrator check`, run in CI on the app's migration history.
//
// 1. Every plugin from scratch must give exactly the schema of the latest DDL file.
// 2. Empty tables hide data-dependent failures (ADD COLUMN NOT NULL without a default, a new
//    CHECK or FOREIGN KEY that existing rows violate, a blob transform that cannot read
//    stored values): a database is built at every older revision, filled with generated rows
//    (or the app's own fixture SQL, <fixtures>/<revision>.sql), migrated to head and compared
//    again.
// 3. Every current JSON model must equal its frozen copy (json_models.h).
// 4. The head plugin's declared frozen schema fingerprints (mig_plugin_v1.frozen_schemas) must
//    be those of the frozen schemas: a frozen schema edited without a migration fails.
// 5. Lint: destructive and data-dependent changes are reported as coded warnings.
#pragma once

#include <string>

#include "commands.h"
#include "json_models.h"
#include "plugin_meta.h"
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

// `migrator fingerprints`: prints the fingerprints of every <Model>.json in frozen_dir, as the
// lines of mig_plugin_v1.frozen_schemas, or (cpp) as the SDK's MIGRATOR_FROZEN_SCHEMAS(...).
Status cmd_fingerprints(const std::string& frozen_dir, bool cpp);

// Loads `meta` and reads its frozen_schemas declaration (none for a 1.0 plugin). Fails
// (plugin_set_invalid) when it does not load, (migration_failed) when the declaration is malformed.
Status declared_fingerprints(const PluginMeta& meta, Fingerprints& out);

}  // namespace migrator
