#include "host_services.h"
#include "log.h"


namespace migrator {
namespace {

HostServices& self(void* ctx) { return *static_cast<HostServices*>(ctx); }

mig_status fail(std::string& errmsg, sqlite3* db) {
    errmsg = sqlite3_errmsg(db);
    return MIG_ERROR;
}

mig_status bind_rc(mig_stmt* s, int rc) {
    if (rc == SQLITE_OK) return MIG_OK;
    *s->errmsg = sqlite3_errmsg(s->db);
    return rc == SQLITE_RANGE ? MIG_MISUSE : MIG_ERROR;
}

// Every callback is noexcept in effect: nothing below throws except allocation failure,
// which terminates the process as it would anywhere else in the host.
const mig_host_v1 kTemplate = [] {
    mig_host_v1 t{};
    t.struct_size = sizeof(mig_host_v1);
    t.abi_major = MIG_ABI_MAJOR;
    t.abi_minor = MIG_ABI_MINOR;
    t.dialect = "sqlite";
    t.exec = [](void* ctx, const char* sql) -> mig_status {
        auto& h = self(ctx);
        if (sql == nullptr) {
            h.errmsg() = "exec: sql is NULL";
            return MIG_MISUSE;
        }
        if (h.cancelled()) {
            h.errmsg() = "cancelled by the operator";
            return MIG_CANCELLED;
        }
        log_debug("[{}] exec: {}", h.revision(), sql);
        char* err = nullptr;
        int rc = sqlite3_exec(h.db().get(), sql, nullptr, nullptr, &err);
        if (rc == SQLITE_OK) return MIG_OK;
        // The authorizer's own words say why; SQLite's would be "not authorized".
        if (!(rc == SQLITE_AUTH && h.take_denied())) h.errmsg() = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        return MIG_ERROR;
    };
    t.prepare = [](void* ctx, const char* sql, size_t len, mig_stmt** out) -> mig_status {
        auto& h = self(ctx);
        if (out == nullptr || sql == nullptr) {
            h.errmsg() = "prepare: NULL argument";
            return MIG_MISUSE;
        }
        *out = nullptr;
        sqlite3_stmt* s = nullptr;
        int rc = sqlite3_prepare_v3(h.db().get(), sql, static_cast<int>(len), 0, &s, nullptr);
        StmtPtr p(s);
        if (rc == SQLITE_AUTH && h.take_denied()) return MIG_ERROR;
        if (rc != SQLITE_OK) return fail(h.errmsg(), h.db().get());
        if (!p) {
            h.errmsg() = "prepare: no statement in the SQL text";
            return MIG_MISUSE;
        }
        *out = h.adopt(std::move(p));
        return MIG_OK;
    };
    t.bind_null = [](mig_stmt* s, int32_t i) { return bind_rc(s, sqlite3_bind_null(s->stmt.get(), i)); };
    t.bind_int64 = [](mig_stmt* s, int32_t i, int64_t v) {
        return bind_rc(s, sqlite3_bind_int64(s->stmt.get(), i, v));
    };
    t.bind_double = [](mig_stmt* s, int32_t i, double v) {
        return bind_rc(s, sqlite3_bind_double(s->stmt.get(), i, v));
    };
    t.bind_text = [](mig_stmt* s, int32_t i, const char* p, size_t n) {
        return bind_rc(s, sqlite3_bind_text64(s->stmt.get(), i, p ? p : "", n, SQLITE_TRANSIENT,
                                              SQLITE_UTF8));
    };
    t.bind_blob = [](mig_stmt* s, int32_t i, const void* p, size_t n) {
        return bind_rc(s, sqlite3_bind_blob64(s->stmt.get(), i, p ? p : "", n, SQLITE_TRANSIENT));
    };
    t.step = [](mig_stmt* s) -> mig_status {
        int rc = sqlite3_step(s->stmt.get());
        if (rc == SQLITE_ROW) return MIG_ROW;
        if (rc == SQLITE_DONE) return MIG_DONE;
        *s->errmsg = sqlite3_errmsg(s->db);
        return MIG_ERROR;
    };
    t.reset = [](mig_stmt* s) -> mig_status {
        sqlite3_reset(s->stmt.get());
        return MIG_OK;
    };
    t.finalize = [](mig_stmt* s) {
        if (s != nullptr) s->stmt.reset();
    };
    t.column_count = [](mig_stmt* s) { return static_cast<int32_t>(sqlite3_column_count(s->stmt.get())); };
    t.column_type = [](mig_stmt* s, int32_t c) -> int32_t {
        if (c < 0 || c >= sqlite3_column_count(s->stmt.get())) return MIG_TYPE_NULL;
        switch (sqlite3_column_type(s->stmt.get(), c)) {
            case SQLITE_INTEGER: return MIG_TYPE_INTEGER;
            case SQLITE_FLOAT: return MIG_TYPE_FLOAT;
            case SQLITE_TEXT: return MIG_TYPE_TEXT;
            case SQLITE_BLOB: return MIG_TYPE_BLOB;
            default: return MIG_TYPE_NULL;
        }
    };
    t.column_int64 = [](mig_stmt* s, int32_t c) -> int64_t { return sqlite3_column_int64(s->stmt.get(), c); };
    t.column_double = [](mig_stmt* s, int32_t c) { return sqlite3_column_double(s->stmt.get(), c); };
    t.column_text = [](mig_stmt* s, int32_t c, size_t* len) -> const char* {
        const unsigned char* p = sqlite3_column_text(s->stmt.get(), c);
        if (len) *len = p ? static_cast<size_t>(sqlite3_column_bytes(s->stmt.get(), c)) : 0;
        return reinterpret_cast<const char*>(p);
    };
    t.column_blob = [](mig_stmt* s, int32_t c, size_t* len) -> const void* {
        const void* p = sqlite3_column_blob(s->stmt.get(), c);
        if (len) *len = p ? static_cast<size_t>(sqlite3_column_bytes(s->stmt.get(), c)) : 0;
        return p;
    };
    t.changes = [](void* ctx) -> int64_t { return sqlite3_changes64(self(ctx).db().get()); };
    t.errmsg = [](void* ctx) -> const char* { return self(ctx).errmsg().c_str(); };
    t.log = [](void* ctx, int32_t level, const char* msg) {
        auto& h = self(ctx);
        const char* m = msg ? msg : "";
        switch (level) {
            case MIG_LOG_DEBUG: log_debug("[{}] {}", h.revision(), m); break;
            case MIG_LOG_WARN: log_warn("[{}] {}", h.revision(), m); break;
            case MIG_LOG_ERROR: log_error("[{}] {}", h.revision(), m); break;
            default: log_info("[{}] {}", h.revision(), m); break;
        }
    };
    t.progress = [](void* ctx, uint64_t done, uint64_t total) -> int32_t {
        auto& h = self(ctx);
        log_trace("[{}] progress {}/{}", h.revision(), done, total);
        return h.cancelled() ? 1 : 0;
    };
    return t;
}();

}  // namespace

int refuse_transaction_control(void* ctx, int action, const char*, const char*, const char*, const char*) {
    if (action == SQLITE_TRANSACTION || action == SQLITE_SAVEPOINT) {
        static_cast<HostServices*>(ctx)->mark_denied();
        static_cast<HostServices*>(ctx)->errmsg() =
            "transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE) is not allowed in a "
            "revision: the host runs each revision inside its own transaction (use "
            "MIG_FLAG_NO_TRANSACTION for a revision that must manage its own)";
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

HostServices::HostServices(Db& db, std::string revision, const std::atomic<bool>& cancel,
                           bool in_transaction)
    : db_(db),
      revision_(std::move(revision)),
      cancel_(cancel),
      total_changes_at_start_(sqlite3_total_changes64(db.get())),
      guarded_(in_transaction),
      table_(kTemplate) {
    table_.ctx = this;
    if (guarded_) sqlite3_set_authorizer(db_.get(), refuse_transaction_control, this);
}

HostServices::~HostServices() {
    stmts_.clear();  // finalize leftovers while the authorizer still points at us
    if (guarded_) sqlite3_set_authorizer(db_.get(), nullptr, nullptr);
}

std::int64_t HostServices::rows_affected() const {
    return sqlite3_total_changes64(db_.get()) - total_changes_at_start_;
}

mig_stmt* HostServices::adopt(StmtPtr s) {
    auto h = std::make_unique<mig_stmt>();
    h->stmt = std::move(s);
    h->db = db_.get();
    h->errmsg = &errmsg_;
    stmts_.push_back(std::move(h));
    return stmts_.back().get();
}

}  // namespace migrator
