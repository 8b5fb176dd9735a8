// Stage: verified backups, taken before anything destroys a database (the fallback reset).
// No verified backup, no reset.
#pragma once

#include <string>
#include <vector>

#include "status.h"

namespace migrator {

struct BackupResult {
    std::string path;                // the backup of the database file itself
    std::vector<std::string> files;  // every file written (raw copies include -wal/-shm/-journal)
    bool raw = false;                // byte copy (corrupt DB) rather than an SQLite backup
};

// Default directory for backups of `db_path`: "<db_path>.backups" beside it.
std::string default_backup_dir(const std::string& db_path);

// Complete copy through SQLite's online backup API into `dir` (created 0700), fsync'ed,
// mode 0600, then verified: it opens, passes `PRAGMA integrity_check`, and every table has
// the same row count as in the original. busy_ms: how long to wait for a writer holding the
// original (--busy-timeout).
Status backup_verified(const std::string& db_path, const std::string& dir, const std::string& label,
                       BackupResult& out, int busy_ms);

// Byte copy of the file and its -wal/-shm/-journal companions (for a database SQLite cannot
// read), fsync'ed, mode 0600, verified by reading the copies back and comparing bytes.
Status backup_raw(const std::string& db_path, const std::string& dir, const std::string& label,
                  BackupResult& out);

// Keeps the newest `keep` (at least 1) backups of `db_path` in `dir` (by name, which holds a
// UTC timestamp), counting `current_backup`, which is never removed; removes older ones with
// their companions and incident files. Only backups whose incident file names this database
// are candidates: another database's backups in a shared directory are never touched.
void prune_backups(const std::string& db_path, const std::string& dir, int keep,
                   const std::string& current_backup);

// fsync()s a file or directory; false on failure.
bool fsync_path(const std::string& path);

}  // namespace migrator
