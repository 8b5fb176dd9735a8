// Stage 5: tell the operator what happened. Results go to stdout (human text, or JSON with
// --json); logs go to stderr through spdlog.
#pragma once

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

}  // namespace migrator
