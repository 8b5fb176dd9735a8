// JSON Schema validation of blob values (valijson), for dry runs: does every migrated blob
// follow the frozen JSON Schema of its model?
//
// The only file that sees valijson and its JSON adapter (RapidJSON). Values are parsed again
// here: the transform's own parser is the plugin's business, and a validator must not trust
// the code whose output it checks.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "status.h"

namespace migrator {

class JsonSchema {
public:
    enum class Result { valid, invalid, unparsable };

    // Reads a JSON Schema (draft 4/6/7 as valijson supports them) from `path`. Fails with
    // usage and the parser's message when the file is missing or not a usable schema.
    static Status load(const std::string& path, std::unique_ptr<JsonSchema>& out);
    ~JsonSchema();

    // Thread-safe. invalid: `why` names the first violation and where (a JSON pointer).
    // unparsable: the validator's JSON parser refused the value (e.g. a number beyond double
    // range, an escaped lone surrogate: valid JSON that RapidJSON cannot represent); `why`
    // says so. Such values are counted apart, never reported as schema violations.
    Result validate(std::string_view json, std::string& why) const;
    // Thread-safe. The same result as validate() without the words, which only the few
    // reported rows need: an invalid value costs one validation instead of two.
    Result check(std::string_view json) const;

    const std::string& path() const { return path_; }

private:
    JsonSchema();
    Result run(std::string_view json, std::string* why) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string path_;
};

}  // namespace migrator
