#include "blob_engine.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "json_out.h"
#include "json_schema.h"
#include "log.h"
#include "worker_pool.h"

namespace migrator {
namespace {

constexpr std::uint32_t kErrCap = 4096;
constexpr std::size_t kChunk = 32;  // rows a worker claims at a time

struct Row {
    std::int64_t rowid = 0;
    bool is_blob = false;
    std::size_t in_off = 0;
    std::size_t in_len = 0;
    mig_status result = MIG_OK;
    std::string out;
    std::string err;
    int schema = -1;  // JsonSchema::Result, -1 when not validated
};

// One batch: the input bytes of all its rows in one buffer, plus per-row results. Buffers
// keep their capacity from batch to batch, so steady state allocates nothing.
struct Batch {
    std::string input;
    std::vector<Row> rows;
    std::size_t count = 0;
    void clear() {
        input.clear();
        count = 0;
    }
};

struct SinkCtx {
    std::string* out;
    std::size_t limit;
};

mig_status sink_write(void* ctx, const char* data, size_t len) {
    auto* s = static_cast<SinkCtx*>(ctx);
    if (len == 0) return MIG_OK;
    if (s->out->size() + len > s->limit) return MIG_ERROR;
    s->out->append(data, len);
    return MIG_OK;
}

// The value a transformed row holds after the migration.
std::string_view migrated_value(const Batch& b, const Row& r) {
    return r.result == MIG_BLOB_CHANGED ? std::string_view(r.out)
                                        : std::string_view(b.input.data() + r.in_off, r.in_len);
}

void transform_rows(Batch& b, std::atomic<std::size_t>& next, mig_blob_fn fn, std::size_t limit,
                    const JsonSchema* schema) {
    std::array<char, kErrCap> err{};
    mig_error_buf eb{err.data(), kErrCap};
    while (true) {
        std::size_t start = next.fetch_add(kChunk, std::memory_order_relaxed);
        if (start >= b.count) return;
        std::size_t end = std::min(start + kChunk, b.count);
        for (std::size_t i = start; i < end; ++i) {
            Row& r = b.rows[i];
            r.out.clear();
            r.err.clear();
            SinkCtx sc{&r.out, limit};
            mig_sink sink{&sc, sink_write};
            err[0] = '\0';
            r.result = fn(b.input.data() + r.in_off, r.in_len, &sink, &eb);
            err[kErrCap - 1] = '\0';
            if (r.result != MIG_BLOB_CHANGED && r.result != MIG_BLOB_UNCHANGED) {
                r.err = err[0] ? utf8_sanitize(err.data())
                               : fmt::format("row error (status {}, no message)", r.result);
                r.out.clear();
            } else if (schema) {
                // No words here: only the few reported rows need them (see tally).
                r.schema = static_cast<int>(schema->check(migrated_value(b, r)));
            }
        }
    }
}

}  // namespace


Status run_blob_migration(Db& db, const mig_blob_migration_v1& blob, Direction dir,
                          const BlobOptions& opts, const std::atomic<bool>& cancel,
                          BlobStats& stats) {
    const auto t0 = std::chrono::steady_clock::now();
    stats = BlobStats{};
    stats.table = blob.table;
    stats.column = blob.column;
    const std::string where = fmt::format("blob migration {}.{} ({})", stats.table, stats.column,
                                          direction_name(dir));
    mig_blob_fn fn = dir == Direction::up ? blob.up : blob.down;
    if (fn == nullptr) return {Code::migration_failed, where + ": no transform for this direction"};

    // The table must exist, have a rowid, and have the column.
    {
        Stmt s;
        MIG_TRY(db.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1 AND type = 'table'", s));
        s.bind(1, std::string_view(stats.table));
        Status st;
        if (!s.step(st)) {
            MIG_TRY(st);
            return {Code::migration_failed, fmt::format("{}: table '{}' does not exist", where, stats.table)};
        }
        if (s.int64(0) != 0)
            return {Code::migration_failed,
                    fmt::format("{}: table '{}' is WITHOUT ROWID, which blob migrations do not support",
                                where, stats.table)};
        Stmt c;
        MIG_TRY(db.prepare("SELECT 1 FROM pragma_table_xinfo(?1) WHERE name = ?2", c));
        c.bind(1, std::string_view(stats.table)).bind(2, std::string_view(stats.column));
        if (!c.step(st)) {
            MIG_TRY(st);
            return {Code::migration_failed,
                    fmt::format("{}: table '{}' has no column '{}'", where, stats.table, stats.column)};
        }
    }
    // A user column named "rowid" hides the real one under that name (then the engine read
    // that column as the key and overwrote other rows): use the first of SQLite's three
    // spellings that no column shadows.
    std::string key;
    for (const char* alias : {"rowid", "_rowid_", "oid"}) {
        Stmt c;
        MIG_TRY(db.prepare("SELECT 1 FROM pragma_table_xinfo(?1) WHERE lower(name) = ?2", c));
        c.bind(1, std::string_view(stats.table)).bind(2, std::string_view(alias));
        Status st;
        const bool shadowed = c.step(st);
        MIG_TRY(st);
        if (!shadowed) {
            key = alias;
            break;
        }
    }
    if (key.empty())
        return {Code::migration_failed,
                fmt::format("{}: table '{}' has columns named rowid, _rowid_ and oid, which hide its "
                            "row key; blob migrations cannot address its rows",
                            where, stats.table)};

    const std::string t = quote_ident(stats.table), c = quote_ident(stats.column);
    Stmt reader, writer;
    // Going down, rows that this revision's up quarantined were never migrated: they are
    // still in the old shape, and the down transform would reject them. They are skipped,
    // and their quarantine entries go with the revision.
    std::int64_t quarantined_up = 0;
    if (dir == Direction::down && db.table_exists("migrator_quarantine")) {
        Stmt q;
        MIG_TRY(db.prepare("SELECT count(*) FROM migrator_quarantine WHERE revision = ?1 AND direction = 'up' "
                           "AND \"table\" = ?2 AND \"column\" = ?3",
                           q));
        q.bind(1, std::string_view(opts.revision)).bind(2, std::string_view(stats.table)).bind(3, std::string_view(stats.column));
        Status st;
        if (q.step(st)) quarantined_up = q.int64(0);
        MIG_TRY(st);
    }
    const std::string skip =
        quarantined_up > 0 ? fmt::format(" AND {} NOT IN (SELECT row_key FROM migrator_quarantine WHERE "
                                         "revision = ?2 AND direction = 'up' AND \"table\" = ?3 AND "
                                         "\"column\" = ?4)",
                                         key)
                           : std::string();
    MIG_TRY(db.prepare(fmt::format("SELECT {2}, {1}, typeof({1}) = 'blob' FROM {0} WHERE {2} >= ?1 "
                                   "AND {1} IS NOT NULL{3} ORDER BY {2}",
                                   t, c, key, skip),
                       reader));
    if (quarantined_up > 0)
        reader.bind(2, std::string_view(opts.revision)).bind(3, std::string_view(stats.table)).bind(4, std::string_view(stats.column));
    MIG_TRY(db.prepare(fmt::format("UPDATE {} SET {} = ?1 WHERE {} = ?2", t, c, key), writer));
    const std::size_t limit = static_cast<std::size_t>(sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, -1));

    std::int64_t next_min = INT64_MIN;  // every rowid below has been read
    std::int64_t lo = 0, hi = 0;
    {
        Stmt r;
        MIG_TRY(db.prepare(fmt::format("SELECT min({0}), max({0}) FROM {1}", key, t), r));
        Status st;
        if (r.step(st)) {
            lo = r.int64(0);
            hi = r.int64(1);
        }
        MIG_TRY(st);
    }
    auto report_progress = [&](std::int64_t rowid) {
        if (!opts.progress) return;
        double f = hi > lo ? (static_cast<double>(rowid) - static_cast<double>(lo)) /
                                 (static_cast<double>(hi) - static_cast<double>(lo))
                           : 1.0;
        opts.progress(stats.table, stats.column, stats.scanned, std::clamp(f, 0.0, 1.0));
    };
    bool exhausted = false;
    auto read_batch = [&](Batch& b) -> Status {
        b.clear();
        if (exhausted) return Status::ok();
        reader.reset();
        reader.bind(1, next_min);
        Status st;
        while (b.count < opts.batch_rows && b.input.size() < opts.batch_bytes) {
            if (!reader.step(st)) {
                exhausted = st.is_ok();
                break;
            }
            if (b.rows.size() <= b.count) b.rows.emplace_back();
            Row& r = b.rows[b.count++];
            r.rowid = reader.int64(0);
            r.is_blob = reader.int64(2) != 0;
            const void* p = r.is_blob ? sqlite3_column_blob(reader.get(), 1)
                                      : static_cast<const void*>(sqlite3_column_text(reader.get(), 1));
            r.in_len = static_cast<std::size_t>(sqlite3_column_bytes(reader.get(), 1));
            r.in_off = b.input.size();
            if (r.in_len) b.input.append(static_cast<const char*>(p), r.in_len);
            if (r.rowid == INT64_MAX) {
                exhausted = true;
                break;
            }
            next_min = r.rowid + 1;
        }
        reader.reset();
        return st;
    };
    auto write_batch = [&](Batch& b) -> Status {
        for (std::size_t i = 0; i < b.count; ++i) {
            const Row& r = b.rows[i];
            if (r.result != MIG_BLOB_CHANGED) continue;
            if (r.is_blob)
                sqlite3_bind_blob64(writer.get(), 1, r.out.data(), r.out.size(), SQLITE_STATIC);
            else
                sqlite3_bind_text64(writer.get(), 1, r.out.data(), r.out.size(), SQLITE_STATIC, SQLITE_UTF8);
            writer.bind(2, r.rowid);
            Status st = writer.run();
            if (!st) return st.with_context(fmt::format("{}: writing rowid {}: ", where, r.rowid));
        }
        return Status::ok();
    };
    const bool quarantine = opts.quarantine;
    const bool scan_all = opts.scan_all || quarantine;
    Stmt quarantine_insert;
    if (quarantine) {
        MIG_TRY(db.exec(R"sql(CREATE TABLE IF NOT EXISTS migrator_quarantine(
    id INTEGER PRIMARY KEY,
    revision TEXT NOT NULL,
    direction TEXT NOT NULL,
    "table" TEXT NOT NULL,
    "column" TEXT NOT NULL,
    row_key INTEGER NOT NULL,
    error TEXT NOT NULL,
    time TEXT NOT NULL))sql"));
        MIG_TRY(db.prepare("INSERT INTO migrator_quarantine(revision, direction, \"table\", \"column\", "
                           "row_key, error, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                           "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                           quarantine_insert));
    }
    // Tallies a transformed batch (and quarantines its failing rows); true when it holds row
    // errors.
    auto tally = [&](const Batch& b) -> Status {
        for (std::size_t i = 0; i < b.count; ++i) {
            const Row& r = b.rows[i];
            ++stats.scanned;
            if (r.result == MIG_BLOB_CHANGED || r.result == MIG_BLOB_UNCHANGED) {
                if (r.result == MIG_BLOB_CHANGED) ++stats.changed;
                else ++stats.unchanged;
                if (r.schema >= 0) {
                    ++stats.validated;
                    const auto res = static_cast<JsonSchema::Result>(r.schema);
                    if (res != JsonSchema::Result::valid) {
                        ++(res == JsonSchema::Result::invalid ? stats.schema_invalid : stats.schema_unparsable);
                        // Validated again for the words, here on the main thread: at most
                        // max_reported_errors rows per blob column.
                        if (stats.schema_errors.size() < opts.max_reported_errors) {
                            std::string why;
                            opts.schema->validate(migrated_value(b, r), why);
                            stats.schema_errors.push_back({r.rowid, std::move(why)});
                        }
                    }
                }
            } else {
                ++stats.failed;
                if (stats.errors.size() < opts.max_reported_errors) stats.errors.push_back({r.rowid, r.err});
                if (quarantine) {
                    quarantine_insert.reset();
                    quarantine_insert.bind(1, std::string_view(opts.revision))
                        .bind(2, std::string_view(direction_name(dir)))
                        .bind(3, std::string_view(stats.table))
                        .bind(4, std::string_view(stats.column))
                        .bind(5, r.rowid)
                        .bind(6, std::string_view(r.err));
                    MIG_TRY(quarantine_insert.run().with_context(where + ": recording a quarantined row: "));
                    ++stats.quarantined;
                }
            }
        }
        return Status::ok();
    };

    // The main thread transforms too once its SQLite work for the round is done, so by
    // default it counts as one of the cores.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    unsigned workers = opts.workers ? opts.workers : std::max(1u, cores - 1);
    WorkerPool pool(workers);
    std::array<Batch, 3> batches;
    Batch* prev = &batches[0];
    Batch* cur = &batches[1];
    Batch* next = &batches[2];
    prev->clear();
    MIG_TRY(read_batch(*cur));
    Status io;
    while (cur->count > 0) {
        std::atomic<std::size_t> index{0};
        pool.start([&] { transform_rows(*cur, index, fn, limit, opts.schema); });
        // While the workers transform `cur`: write `prev`, read `next` (main thread only).
        io = write_batch(*prev);
        if (io) io = read_batch(*next);
        // Done with SQLite for this round: rather than wait idle for slower workers (long
        // rows, schema validation in a dry run), take chunks of the same batch too.
        if (io) transform_rows(*cur, index, fn, limit, opts.schema);
        pool.wait();
        if (!io) return io;
        MIG_TRY(tally(*cur));
        if (stats.failed > 0 && !scan_all) break;
        report_progress(cur->rows[cur->count - 1].rowid);
        if (cancel.load()) return {Code::cancelled, where + ": cancelled by the operator"};
        std::swap(prev, cur);
        std::swap(cur, next);
    }
    if (stats.failed == 0 || scan_all) MIG_TRY(write_batch(*prev));
    stats.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (stats.failed > 0 && !quarantine) {
        const RowError& e = stats.errors.front();
        std::string first = e.message;
        while (!first.empty() && first.back() == '.') first.pop_back();
        return {Code::migration_failed,
                fmt::format("{}: {} row error(s) in {} {} rows read; first: rowid {}: {}. "
                            "Nothing was written; reproduce one row with `migrator blob`, or "
                            "run with --on-row-error=quarantine to migrate the other rows and "
                            "keep the failing ones as they are in migrator_quarantine",
                            where, stats.failed, scan_all ? "all" : "the first", stats.scanned,
                            e.rowid, first)};
    }
    if (quarantined_up > 0) {
        Stmt del;
        MIG_TRY(db.prepare("DELETE FROM migrator_quarantine WHERE revision = ?1 AND direction = 'up' AND "
                           "\"table\" = ?2 AND \"column\" = ?3",
                           del));
        del.bind(1, std::string_view(opts.revision)).bind(2, std::string_view(stats.table)).bind(3, std::string_view(stats.column));
        MIG_TRY(del.run());
        log_info("{}: {} row(s) quarantined by up were left as they are", where, quarantined_up);
    }
    if (stats.failed > 0)
        log_warn("{}: {} row(s) failed and were quarantined, left as they were (see table "
                 "migrator_quarantine); first: rowid {}: {}",
                 where, stats.failed, stats.errors.front().rowid, stats.errors.front().message);
    log_info("{}: {} rows, {} changed, {} unchanged in {:.0f} ms ({:.0f} rows/s)", where,
             stats.scanned, stats.changed, stats.unchanged, stats.duration_ms,
             stats.duration_ms > 0 ? static_cast<double>(stats.scanned) * 1000.0 / stats.duration_ms : 0.0);
    return Status::ok();
}

}  // namespace migrator
