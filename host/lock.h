// Stage: the migration lock. An OS file lock (flock) on a sidecar file next to the database
// ("<db>.migrator-lock"), held from discovery to the end of the run by every command that
// writes. The kernel drops it when the process dies, so a killed run never leaves a stale
// lock; the write itself additionally takes SQLite's own lock (BEGIN IMMEDIATE).
#pragma once

#include <string>

#include "status.h"

namespace migrator {

class MigrationLock {
public:
    MigrationLock() = default;
    ~MigrationLock();
    MigrationLock(const MigrationLock&) = delete;
    MigrationLock& operator=(const MigrationLock&) = delete;

    // Waits up to timeout_ms for the lock. db_busy when another process holds it past that;
    // db_error when the sidecar cannot be created (e.g. read-only directory).
    Status acquire(const std::string& db_path, int timeout_ms);
    bool held() const { return fd_ >= 0; }
    // True when acquire() had to wait for another process: whatever was read before (the
    // plugin directory, during a package upgrade) may be stale; read it again.
    bool waited() const { return waited_; }
    static std::string path_for(const std::string& db_path) { return db_path + ".migrator-lock"; }

private:
    int fd_ = -1;
    bool waited_ = false;
};

}  // namespace migrator
