// The app's JSON models against their frozen copies: `schemas/models/<Model>.json` is the JSON
// Schema the app's code uses now (for a Python app: exported from pydantic), and
// `schemas/frozen/<Model>.json` the one the migration history has been written up to. They
// must be equal: a model that changed needs a blob migration first (`migrator new`).
#pragma once

#include <string>
#include <vector>

#include "status.h"

namespace migrator {

struct ModelDifference {
    std::string model;                 // file stem
    std::vector<std::string> changes;  // "changed /properties/x/type: "a" -> "b"", "new model", ...
};

// Compares every <Model>.json in models_dir with frozen_dir/<Model>.json, as JSON values
// (object member order and whitespace do not count). A model missing from frozen_dir is a
// difference; a frozen model no longer in models_dir is not (old data may still need it).
Status compare_models(const std::string& models_dir, const std::string& frozen_dir,
                      std::vector<ModelDifference>& out);

}  // namespace migrator
