#include "chain.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>

#include <fmt/format.h>

#include "events.h"
#include "host_services.h"
#include "json_out.h"
#include "loader.h"
#include "log.h"
#include "manifest.h"

namespace migrator {
namespace {

constexpr std::uint32_t kErrorBufSize = 4096;

std::string show(const std::string& rev) { return rev.empty() ? std::string(kBase) : rev; }

// Rolls back on destruction unless committed: no path out of a segment leaves a transaction
// open.
class Transaction {
public:
    explicit Transaction(Db& db) : db_(db) {}
    ~Transaction() {
        if (open_) db_.exec("ROLLBACK");
    }
    Status begin() {
        int rc = sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK)
            return db_.error(rc, fmt::format("cannot start a write transaction on '{}' (another "
                                             "process may be writing it)",
                                             db_.path()));
        open_ = true;
        return Status::ok();
    }
    Status commit() {
        int rc = sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) return db_.error(rc, "COMMIT failed; rolled back");
        open_ = false;
        return Status::ok();
    }

private:
    Db& db_;
    bool open_ = false;
};

}  // namespace

const char* const kForeignKeysOffForAll = "Foreign keys were off for the whole transaction";

bool failed_for_foreign_keys_off_for_all(const Status& st) {
    return st.code() == Code::migration_failed && st.message().find(kForeignKeysOffForAll) != std::string::npos;
}

namespace {

Status foreign_key_check(Db& db, const std::string& after) {
    Stmt s;
    MIG_TRY(db.prepare("PRAGMA foreign_key_check", s));
    Status st;
    std::vector<std::string> rows;
    while (s.step(st) && rows.size() < 5)
        rows.push_back(fmt::format("{} rowid {} -> {}", s.text(0), s.is_null(1) ? std::string("?") : s.text(1), s.text(2)));
    MIG_TRY(st);
    if (rows.empty()) return Status::ok();
    return {Code::migration_failed,
            fmt::format("foreign key violations after {} (first: {}); rolled back", after,
                        fmt::join(rows, "; "))};
}

// Keeps what a step's SQL ran while it lives (sqlite3_trace_v2 on the connection).
class SqlCapture {
public:
    SqlCapture(Db& db, std::vector<CapturedSql>* out) : db_(db), out_(out) {
        if (out_) sqlite3_trace_v2(db_.get(), SQLITE_TRACE_STMT, &SqlCapture::on_stmt, this);
    }
    ~SqlCapture() {
        if (out_) sqlite3_trace_v2(db_.get(), 0, nullptr, nullptr);
    }
    SqlCapture(const SqlCapture&) = delete;
    SqlCapture& operator=(const SqlCapture&) = delete;

private:
    static constexpr size_t kMaxStatements = 2000;  // a loop of distinct statements is cut here
    static int on_stmt(unsigned, void* ctx, void* stmt, void* x) {
        auto* self = static_cast<SqlCapture*>(ctx);
        const char* text = static_cast<const char*>(x);
        // Statements run by triggers arrive as "-- <trigger statement>": part of their caller.
        if (text == nullptr || std::strncmp(text, "--", 2) == 0) return 0;
        std::string sql = text;
        if (sqlite3_stmt_readonly(static_cast<sqlite3_stmt*>(stmt)) &&
            sql.rfind("PRAGMA", 0) != 0 && sql.rfind("pragma", 0) != 0)
            sql = "-- read: " + sql;  // queries are shown, marked as such
        auto& v = *self->out_;
        if (!v.empty() && v.back().sql == sql) ++v.back().times;
        else if (v.size() < kMaxStatements) v.push_back({std::move(sql), 1});
        return 0;
    }
    Db& db_;
    std::vector<CapturedSql>* out_;
};

Status call_sql_step(Db& db, const LoadedPlugin& p, Direction dir, const std::atomic<bool>& cancel,
                     bool in_transaction, std::int64_t& rows, std::vector<CapturedSql>* sql) {
    HostServices services(db, p.meta->revision, cancel, in_transaction);
    SqlCapture capture(db, sql);
    std::array<char, kErrorBufSize> buf{};
    mig_error_buf err{buf.data(), kErrorBufSize};
    mig_step_fn fn = dir == Direction::up ? p.desc.up : p.desc.down;
    mig_status rc = fn(services.table(), &err);
    buf[kErrorBufSize - 1] = '\0';
    rows = services.rows_affected();
    if (rc == MIG_OK && in_transaction && !db.in_transaction())
        return {Code::migration_failed,
                fmt::format("revision '{}' {} ended the host's transaction (its SQL committed or "
                            "rolled back); nothing after it was recorded",
                            p.meta->revision, direction_name(dir))};
    if (rc == MIG_OK) return Status::ok();
    std::string msg = utf8_sanitize(buf.data());
    if (msg.empty()) msg = services.errmsg();
    if (msg.empty()) msg = "(the plugin gave no message)";
    const char* what = rc == MIG_CANCELLED         ? "was cancelled"
                       : rc == MIG_NOT_IMPLEMENTED ? "is not implemented"
                       : rc == MIG_ERROR           ? "failed"
                                                   : "returned an unknown status";
    Code code = rc == MIG_CANCELLED ? Code::cancelled : Code::migration_failed;
    // Once a cancel is requested every host call answers MIG_CANCELLED, and a plugin may turn
    // that into any failure (SDKs before 1.1 threw it as a plain error). A failure after a
    // cancel request is the cancel: rolled back and reported as such, never a migration
    // failure that `start` would answer with a reset.
    if (code == Code::migration_failed && cancel.load()) code = Code::cancelled;
    // An environment problem surfacing through the plugin (disk full, read-only, busy) is
    // not the migration's fault: keep its class so callers don't, e.g., reset over it.
    int ext = sqlite3_extended_errcode(db.get());
    if (code == Code::migration_failed && classify_sqlite(ext) != Code::migration_failed &&
        (ext & 0xff) != SQLITE_CORRUPT)
        code = classify_sqlite(ext);
    return {code, fmt::format("revision '{}' {} {} (status {}): {}", p.meta->revision,
                              direction_name(dir), what, rc, msg)};
}

bool stderr_is_tty() {
    static const bool tty = ::isatty(2) != 0;
    return tty;
}

void finish_progress_line() {
    if (stderr_is_tty() && log_level() <= LogLevel::info) std::fputs("\r\033[K", stderr);
}

// Progress of a blob migration: a bar on a TTY (stderr), and a "progress" event at every
// whole percent for the app.
std::function<void(const std::string&, const std::string&, std::uint64_t, double)> progress_reporter(
    const std::string& revision, const Events* events) {
    auto last_pct = std::make_shared<int>(-1);
    return [revision, events, last_pct](const std::string& table, const std::string& column,
                                        std::uint64_t rows, double f) {
        int pct = static_cast<int>(f * 100.0);
        if (pct == *last_pct) return;
        *last_pct = pct;
        if (events) {
            JsonOut e = events->begin("progress");
            e.field("revision", revision).field("table", table).field("column", column)
                .field("rows", static_cast<std::int64_t>(rows)).field("percent", pct);
            events->emit(e);
        }
        if (stderr_is_tty() && log_level() <= LogLevel::info) {
            std::string bar(static_cast<size_t>(pct / 4), '#');
            bar.resize(25, ' ');
            std::fprintf(stderr, "\r%s %s.%s [%s] %3d%% %llu rows", revision.c_str(), table.c_str(),
                         column.c_str(), bar.c_str(), pct, static_cast<unsigned long long>(rows));
            std::fflush(stderr);
        }
    };
}

// A plugin (or a library it uses) that calls exit() in the middle of its step would end the
// process with whatever code it chose, 0 included, and the run would look successful. While a
// step runs, an atexit handler turns that into a failed migration: the transaction was never
// committed (its journal is rolled back at the next open). _Exit() and signals bypass atexit;
// `start` runs steps in a child process and catches those too (isolate.cpp).
std::atomic<const char*> g_running_revision{nullptr};

extern "C" void exit_during_step() {
    const char* rev = g_running_revision.load();
    if (!rev) return;
    std::fflush(stdout);
    const std::string msg = fmt::format(
        "error: revision '{}' called exit() during its step (the plugin, or a library it uses); "
        "it was not recorded, and inside a transaction nothing of it was committed\n",
        rev);
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(exit_code(Code::migration_failed));
}

class StepGuard {
public:
    explicit StepGuard(const std::string& revision) {
        static const bool registered = std::atexit(exit_during_step) == 0;
        (void)registered;
        g_running_revision.store(revision.c_str());
    }
    ~StepGuard() { g_running_revision.store(nullptr); }
    StepGuard(const StepGuard&) = delete;
    StepGuard& operator=(const StepGuard&) = delete;
};

// A revision's work: SQL step then blob migrations going up; blob migrations (in reverse
// order) then SQL step going down, so that blobs always see the schema they were written for.
Status call_step(Db& db, const LoadedPlugin& p, Direction dir, const RunOptions& opts,
                 const std::atomic<bool>& cancel, bool in_transaction, std::int64_t& rows,
                 std::vector<BlobStats>& blobs, std::vector<CapturedSql>& sql) {
    StepGuard guard(p.meta->revision);
    rows = 0;
    blobs.clear();
    sql.clear();
    auto run_blobs = [&]() -> Status {
        const size_t n = p.blobs.size();
        for (size_t k = 0; k < n; ++k) {
            const auto& b = p.blobs[dir == Direction::up ? k : n - 1 - k];
            BlobStats stats;
            BlobOptions bo = opts.blob;
            bo.revision = p.meta->revision;
            if (opts.blob_schema) bo.schema = opts.blob_schema(*p.meta, b);
            if (!bo.progress) bo.progress = progress_reporter(p.meta->revision, opts.events);
            Status st = run_blob_migration(db, b, dir, bo, cancel, stats);
            finish_progress_line();
            rows += static_cast<std::int64_t>(stats.changed);
            blobs.push_back(std::move(stats));
            if (!st) return st.with_context(fmt::format("revision '{}': ", p.meta->revision));
        }
        return Status::ok();
    };
    std::int64_t sql_rows = 0;
    if (dir == Direction::down) MIG_TRY(run_blobs());
    MIG_TRY(call_sql_step(db, p, dir, cancel, in_transaction, sql_rows, opts.capture_sql ? &sql : nullptr));
    rows += sql_rows;
    if (dir == Direction::up) MIG_TRY(run_blobs());
    return Status::ok();
}

}  // namespace

Status run_plan(Db& db, const Plan& plan, const RunOptions& opts, RunReport& report) {
    static const std::atomic<bool> never{false};
    const std::atomic<bool>& cancel = opts.cancel ? *opts.cancel : never;
    report = RunReport{};
    report.from = plan.from;
    report.reached = plan.from;
    if (plan.steps.empty()) return Status::ok();

    // Every file against the release manifest first: nothing is loaded when one is tampered.
    if (!opts.files_verified) MIG_TRY(verify_plugin_files(plan.steps));
    std::vector<LoadedPlugin> loaded(plan.steps.size());
    for (size_t i = 0; i < plan.steps.size(); ++i) MIG_TRY(load_plugin(*plan.steps[i], loaded[i]));

    // Segments of consecutive steps that share one transaction.
    size_t i = 0;
    while (i < plan.steps.size()) {
        size_t end = i + 1;
        const bool alone = plan.steps[i]->flags & MIG_FLAG_NO_TRANSACTION;
        if (!alone && !opts.commit_each)
            while (end < plan.steps.size() && !(plan.steps[end]->flags & MIG_FLAG_NO_TRANSACTION)) ++end;
        bool fk_off = false;
        for (size_t k = i; k < end; ++k) fk_off |= (plan.steps[k]->flags & MIG_FLAG_FOREIGN_KEYS_OFF) != 0;
        MIG_TRY(db.exec(fk_off ? "PRAGMA foreign_keys = OFF" : "PRAGMA foreign_keys = ON"));

        Transaction tx(db);
        if (!alone) {
            MIG_TRY(tx.begin());
            // The plan was made before the write lock was taken: make sure no other process
            // moved the database in between, or we would apply revisions twice.
            DbState now;
            MIG_TRY(read_state(db, now));
            if (now.current != report.reached)
                return {Code::db_busy,
                        fmt::format("the database moved from '{}' to '{}' while this run was "
                                    "planning (another migrator run?); nothing was changed, run "
                                    "again",
                                    show(report.reached), show(now.current))};
        }
        std::string reached = report.reached;
        size_t first_result = report.steps.size();
        for (size_t k = i; k < end; ++k) {
            const PluginMeta& m = *plan.steps[k];
            const std::string new_current =
                plan.direction == Direction::up ? m.revision : m.parent;
            log_info("{} {} -> {}: {}", direction_name(plan.direction), show(reached),
                     show(new_current), m.description);
            if (cancel.load()) return {Code::cancelled, "cancelled by the operator; rolled back"};
            if (opts.events) {
                JsonOut e = opts.events->begin("revision_started");
                e.field("revision", m.revision).field("direction", direction_name(plan.direction))
                    .field("index", static_cast<std::int64_t>(k + 1))
                    .field("count", static_cast<std::int64_t>(plan.steps.size()));
                opts.events->emit(e);
            }
            const std::string started = utc_now();
            const auto t0 = std::chrono::steady_clock::now();
            std::int64_t rows = 0;
            std::vector<BlobStats> blob_stats;
            std::vector<CapturedSql> sql;
            Status st;
            if (!alone) MIG_TRY(db.exec(fmt::format("SAVEPOINT \"{}\"", m.revision)));
            if (opts.before_step) st = opts.before_step(m, db);
            if (st) st = call_step(db, loaded[k], plan.direction, opts, cancel, !alone, rows, blob_stats, sql);
            if (st && opts.after_step) st = opts.after_step(m, db);
            if (st && alone && fk_off)
                st = foreign_key_check(db, fmt::format("revision '{}', which ran without a "
                                                       "transaction: its changes could not be "
                                                       "rolled back and it was not recorded",
                                                       m.revision));
            const double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (st && alone) {
                // Bookkeeping for a no-transaction revision gets a transaction of its own.
                Transaction book(db);
                st = book.begin();
                if (st) st = ensure_bookkeeping(db);
                if (st) st = record_step(db, m, plan.direction, new_current, started, ms, rows);
                if (st) st = book.commit();
            } else if (st) {
                st = ensure_bookkeeping(db);
                if (st) st = record_step(db, m, plan.direction, new_current, started, ms, rows);
                if (st) st = db.exec(fmt::format("RELEASE \"{}\"", m.revision));
            }
            if (!st) {
                if (opts.events) {
                    JsonOut e = opts.events->begin("revision_failed");
                    e.field("revision", m.revision).field("direction", direction_name(plan.direction))
                        .field("code", code_name(st.code())).field("error", st.message());
                    opts.events->emit(e);
                }
                report.failed_revision = m.revision;
                report.failed_blobs = std::move(blob_stats);
                report.failed_sql = std::move(sql);
                for (size_t r = first_result; r < report.steps.size(); ++r) report.steps[r].committed = false;
                return st;  // ~Transaction rolls the whole segment back
            }
            if (opts.events) {
                JsonOut e = opts.events->begin("revision_finished");
                e.field("revision", m.revision).field("direction", direction_name(plan.direction))
                    .field("duration_ms", ms).field("rows_affected", rows);
                e.key("blobs").begin_array();
                for (const auto& b : blob_stats)
                    e.begin_object().field("table", b.table).field("column", b.column)
                        .field("scanned", static_cast<std::int64_t>(b.scanned))
                        .field("changed", static_cast<std::int64_t>(b.changed))
                        .field("unchanged", static_cast<std::int64_t>(b.unchanged))
                        .field("failed", static_cast<std::int64_t>(b.failed)).end_object();
                e.end_array();
                opts.events->emit(e);
            }
            report.steps.push_back({m.revision, plan.direction, ms, rows, alone, std::move(blob_stats), std::move(sql)});
            reached = new_current;
        }
        if (!alone) {
            if (fk_off) {
                Status st = foreign_key_check(db, fmt::format("revision '{}'", plan.steps[end - 1]->revision));
                if (!st) {
                    report.failed_revision = plan.steps[end - 1]->revision;
                    // The check runs once, before COMMIT: name every revision that ran with
                    // foreign keys off, and why the ones that did not ask for it did.
                    std::vector<std::string> off, others;
                    for (size_t k = i; k < end; ++k)
                        (plan.steps[k]->flags & MIG_FLAG_FOREIGN_KEYS_OFF ? off : others).push_back(plan.steps[k]->revision);
                    if (!others.empty())
                        return {st.code(),
                                fmt::format("{}. {} "
                                            "because {} need{} them off, so ON DELETE/ON UPDATE actions "
                                            "(CASCADE, SET NULL) did not run in {} either. If a revision "
                                            "relies on such an action, run with --commit-each: each "
                                            "revision then gets its own transaction, and foreign keys "
                                            "are off only for {}",
                                            st.message(), kForeignKeysOffForAll, fmt::join(off, ", "), off.size() == 1 ? "s" : "",
                                            fmt::join(others, ", "), fmt::join(off, ", "))};
                    return st;
                }
            }
            MIG_TRY(tx.commit());
        }
        for (size_t r = first_result; r < report.steps.size(); ++r) report.steps[r].committed = true;
        report.reached = reached;
        i = end;
    }
    return Status::ok();
}

Status stamp(Db& db, const Chain& chain, const std::string& target) {
    Transaction tx(db);
    MIG_TRY(tx.begin());
    MIG_TRY(ensure_bookkeeping(db));
    MIG_TRY(record_stamp(db, chain, target, utc_now()));
    return tx.commit();
}

}  // namespace migrator
