// RAII over SQLite handles, and the mapping of SQLite result codes to host Status codes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "status.h"

namespace migrator {

struct DbCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Db;

// A prepared statement with typed helpers; finalized on destruction.
class Stmt {
public:
    Stmt() = default;
    explicit Stmt(StmtPtr s, sqlite3* db) : s_(std::move(s)), db_(db) {}

    Stmt& bind(int i, std::string_view v);
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, double v);
    Stmt& bind_null(int i);

    // true: row available; false: done. Errors are returned through `st`.
    bool step(Status& st);
    Status run();  // steps to completion
    void reset() { sqlite3_reset(s_.get()); }

    std::string text(int col) const;
    std::int64_t int64(int col) const { return sqlite3_column_int64(s_.get(), col); }
    double real(int col) const { return sqlite3_column_double(s_.get(), col); }
    bool is_null(int col) const { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
    sqlite3_stmt* get() const { return s_.get(); }

private:
    StmtPtr s_;
    sqlite3* db_ = nullptr;
};

class Db {
public:
    enum class Mode { read_only, read_write, create };

    // Opens `path`. Fails with db_error when missing (unless create), unreadable, or not a
    // database; sets a busy timeout of busy_ms. read_only opens read-write when a hot journal
    // must be rolled back first (see db.cpp).
    // extra_flags: more SQLITE_OPEN_* flags (e.g. SQLITE_OPEN_NOFOLLOW).
    static Status open(const std::string& path, Mode mode, int busy_ms, Db& out, int extra_flags = 0);

    Status exec(const std::string& sql);
    Status prepare(std::string_view sql, Stmt& out);
    // Runs a single-value query; nullopt when it returns no row.
    Status query_text(const std::string& sql, std::optional<std::string>& out);
    Status query_int(const std::string& sql, std::int64_t& out);

    // Converts the connection's last error into a Status (busy -> db_busy, I/O, read-only,
    // corrupt, full -> db_error, anything else -> `otherwise`).
    Status error(int rc, const std::string& what, Code otherwise = Code::db_error) const;

    bool table_exists(const std::string& name);
    bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_.get()); }
    sqlite3* get() const { return db_.get(); }
    const std::string& path() const { return path_; }

private:
    std::unique_ptr<sqlite3, DbCloser> db_;
    std::string path_;
};

// Double-quotes an SQL identifier (table, column, index names in generated SQL).
std::string quote_ident(const std::string& name);

// Classifies an SQLite result code for errors raised while running migrations: environment
// problems (busy, read-only, I/O, full, corrupt) keep their class, everything else is a
// migration failure.
Code classify_sqlite(int rc);

}  // namespace migrator
