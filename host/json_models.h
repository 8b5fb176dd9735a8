// The app's JSON models against their frozen copies: `schemas/models/<Model>.json` is the JSON
// Schema the app's code uses now (for a Python app: exported from pydantic), and
// `schemas/frozen/<Model>.json` the one the migration history has been written up to. They
// must be equal: a model that changed needs a blob migration first (`migrator new`).
#pragma once

#include <map>
#include <string>
#include <string_view>
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

// The canonical text of a JSON document: the value compare_models compares, written back with
// no whitespace, object members sorted by key (bytewise; a key given twice keeps its last
// value, as compare_models reads it), strings with minimal escapes, numbers as simdjson writes
// them. Two files that compare_models finds equal have the same canonical text.
// Fails (usage) when `json` is not JSON, with `what` naming it.
Status canonical_json(std::string_view json, const std::string& what, std::string& out);

// Model -> "sha256:<64 hex>": the fingerprint of each frozen schema, the SHA-256 of its
// canonical JSON (reformatting the file does not change it). See plugin_api.h,
// mig_plugin_v1.frozen_schemas, for the declaration a head plugin carries.
using Fingerprints = std::map<std::string, std::string>;

// "sha256:<hex>" of the canonical JSON of the file at `path`. Fails (usage) when it cannot be
// read or is not JSON.
Status schema_fingerprint(const std::string& path, std::string& out);

// The fingerprint of every <Model>.json in `dir` (a missing directory has none). Fails (usage)
// on a file that is not JSON or whose stem is not a model name ([A-Za-z0-9_.-], 1..128).
Status frozen_fingerprints(const std::string& dir, Fingerprints& out);

// The declaration text of `f`: "<Model> sha256:<hex>" lines, sorted, joined by '\n'.
std::string format_fingerprints(const Fingerprints& f);

// `f` as the C++ SDK declares it: MIGRATOR_FROZEN_SCHEMAS("<Model> sha256:<hex>\n" ...), one
// string literal per line, ready to paste above MIGRATOR_PLUGIN; "" when `f` is empty.
std::string sdk_declaration(const Fingerprints& f);

// Reads a plugin's declaration (NULL / "" = none). Fails (migration_failed) on a line that
// breaks plugin_api.h's format, naming it and what is wrong.
Status parse_fingerprints(const char* declaration, Fingerprints& out);

}  // namespace migrator
