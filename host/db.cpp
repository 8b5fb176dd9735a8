#include "db.h"

#include <sys/stat.h>

#include <fmt/format.h>

namespace migrator {

Code classify_sqlite(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Code::db_busy;
        case SQLITE_READONLY:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_PERM:
        case SQLITE_NOMEM:
            return Code::db_error;
        default:
            return Code::migration_failed;
    }
}

Stmt& Stmt::bind(int i, std::string_view v) {
    sqlite3_bind_text64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
}
Stmt& Stmt::bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_.get(), i, v);
    return *this;
}
Stmt& Stmt::bind(int i, double v) {
    sqlite3_bind_double(s_.get(), i, v);
    return *this;
}
Stmt& Stmt::bind_null(int i) {
    sqlite3_bind_null(s_.get(), i);
    return *this;
}

bool Stmt::step(Status& st) {
    int rc = sqlite3_step(s_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Code c = classify_sqlite(rc);
    st = Status(c == Code::migration_failed ? Code::db_error : c,
                fmt::format("{} (while running: {})", sqlite3_errmsg(db_), sqlite3_sql(s_.get())));
    return false;
}

Status Stmt::run() {
    Status st;
    while (step(st)) {
    }
    reset();
    return st;
}

std::string Stmt::text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_.get(), col);
    int n = sqlite3_column_bytes(s_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Status Db::open(const std::string& path, Mode mode, int busy_ms, Db& out, int extra_flags) {
    // A hot journal (a writer died mid-transaction) must be rolled back before the file can be
    // read at all. A read-only connection cannot (SQLITE_READONLY_ROLLBACK: every reader fails
    // until some writer comes); a read-write one does it on its first read below, restoring the
    // last committed state and writing nothing else. A write-protected file still opens
    // read-only.
    struct stat journal {};
    if (mode == Mode::read_only && ::stat((path + "-journal").c_str(), &journal) == 0 && journal.st_size > 0)
        mode = Mode::read_write;
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | extra_flags;
    switch (mode) {
        case Mode::read_only: flags |= SQLITE_OPEN_READONLY; break;
        case Mode::read_write: flags |= SQLITE_OPEN_READWRITE; break;
        case Mode::create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    std::unique_ptr<sqlite3, DbCloser> db(raw);
    if (rc != SQLITE_OK) {
        std::string why = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        std::string fix = mode == Mode::create
            ? "check that the directory exists and is writable"
            : "check the path, or run `migrator up` to create a new database";
        return {Code::db_error, fmt::format("cannot open database '{}': {}; {}", path, why, fix)};
    }
    sqlite3_busy_timeout(raw, busy_ms);
    sqlite3_extended_result_codes(raw, 1);
    out.db_ = std::move(db);
    out.path_ = path;
    // Touch the schema so "file is not a database" surfaces here with a clear message,
    // rather than at the first migration statement.
    std::int64_t n = 0;
    Status st = out.query_int("SELECT count(*) FROM sqlite_schema", n);
    if (!st) {
        if (st.code() == Code::db_busy)
            return {Code::db_busy,
                    fmt::format("cannot read database '{}': it is locked by another process (a writer "
                                "holding it longer than --busy-timeout, {} ms); nothing was changed. "
                                "Retry when that process is done, or raise --busy-timeout ({})",
                                path, busy_ms, st.message())};
        return {Code::db_error, fmt::format("cannot read database '{}': {}", path, st.message())};
    }
    return Status::ok();
}

Status Db::error(int rc, const std::string& what, Code otherwise) const {
    Code c = classify_sqlite(rc);
    if (c == Code::migration_failed) c = otherwise;
    return {c, fmt::format("{}: {}", what, sqlite3_errmsg(db_.get()))};
}

Status Db::exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::ok();
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Code c = classify_sqlite(rc);
    return {c == Code::migration_failed ? Code::db_error : c,
            fmt::format("{} (while running: {})", msg, sql)};
}

Status Db::prepare(std::string_view sql, Stmt& out) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    StmtPtr p(s);
    if (rc != SQLITE_OK) return error(rc, fmt::format("cannot prepare '{}'", sql));
    out = Stmt(std::move(p), db_.get());
    return Status::ok();
}

Status Db::query_text(const std::string& sql, std::optional<std::string>& out) {
    Stmt s;
    MIG_TRY(prepare(sql, s));
    Status st;
    if (s.step(st)) {
        out = s.is_null(0) ? std::optional<std::string>() : s.text(0);
    } else {
        out.reset();
    }
    return st;
}

Status Db::query_int(const std::string& sql, std::int64_t& out) {
    Stmt s;
    MIG_TRY(prepare(sql, s));
    Status st;
    out = s.step(st) ? s.int64(0) : 0;
    return st;
}

bool Db::table_exists(const std::string& name) {
    Stmt s;
    if (!prepare("SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?1", s)) return false;
    s.bind(1, std::string_view(name));
    Status st;
    return s.step(st);
}

std::string quote_ident(const std::string& name) {
    std::string q = "\"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    q += '"';
    return q;
}

}  // namespace migrator
