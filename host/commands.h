// The operator commands, one function each; cli.cpp maps the command line onto them.
#pragma once

#include <string>

#include "status.h"

namespace migrator {

struct GlobalOptions {
    std::string db;
    std::string plugins;
    int busy_timeout_ms = 5000;
    bool json = false;
};

Status cmd_up(const GlobalOptions& g, const std::string& to, bool commit_each);
Status cmd_down(const GlobalOptions& g, const std::string& to, bool commit_each);
Status cmd_stamp(const GlobalOptions& g, const std::string& to);
Status cmd_status(const GlobalOptions& g);
Status cmd_verify(const GlobalOptions& g);
Status cmd_history(const GlobalOptions& g);
Status cmd_plugins(const GlobalOptions& g);
// Runs one revision's blob transform on one value read from stdin; the result goes to stdout,
// a row error to stderr (migration_failed). table/column pick the blob migration when the
// revision has more than one.
Status cmd_blob(const GlobalOptions& g, const std::string& revision, bool down,
                const std::string& table, const std::string& column);

}  // namespace migrator
