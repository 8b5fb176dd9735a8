// `migrator start`: the one command a local server runs at every start.
//
// Contract: take the migration lock; refuse, changing nothing, when the plugin set is bad or
// the database is newer than the app; migrate to head in an isolated child process; and, in
// local mode with reset enabled, when the migration itself fails (or crashes, or the database
// is corrupt): back up the old file (verified), build a fresh database at head, swap it in,
// and record an incident. Never resets for environment problems (busy, read-only, disk full,
// killed), which the next start retries. Central mode never resets.
#pragma once

#include <string>

#include "commands.h"
#include "status.h"

namespace migrator {

struct StartOptions {
    bool central = false;       // central server: migrate at deploy, never reset
    bool reset = true;          // local mode: allow the fallback reset
    std::string backup_dir;     // default: "<db>.backups"
    int keep_backups = 5;
};

Status cmd_start(const GlobalOptions& g, const StartOptions& so);

}  // namespace migrator
