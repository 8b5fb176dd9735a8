// Stage 5: tell the operator what happened. Results go to stdout (human text, or JSON with
// --json); logs go to stderr through spdlog.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bookkeeping.h"
#include "chain.h"
#include "commands.h"
#include "plan.h"

namespace migrator {

void print_run(const GlobalOptions& g, const Plan& plan, const RunReport& r, const Status& st);
void print_status(const GlobalOptions& g, const Chain& chain, const DbState& state, bool db_exists,
                  const Status& st);
void print_history(const GlobalOptions& g, const std::vector<HistoryRow>& rows);
void print_plugins(const GlobalOptions& g, const Chain& chain);

class JsonOut;
// Shared by every report that shows these: MIG_FLAG_* bit names, and the counting fields of
// one blob migration's statistics (inside an object the caller opened).
std::vector<std::string> flag_names(std::uint64_t flags);
void json_blob_counts(JsonOut& j, const BlobStats& b);

}  // namespace migrator
