#include "bookkeeping.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "version.h"

namespace migrator {

std::string utc_now() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

Status ensure_bookkeeping(Db& db) {
    return db.exec(R"sql(
CREATE TABLE IF NOT EXISTS migrator_version(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS migrator_applied(
    revision TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS migrator_history(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision TEXT NOT NULL,
    checksum TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('up', 'down', 'stamp')),
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    host_version TEXT NOT NULL,
    rows_affected INTEGER NOT NULL);
)sql");
}

Status read_state(Db& db, DbState& out) {
    out = DbState{};
    if (!db.table_exists("migrator_version")) return Status::ok();
    out.initialized = true;
    std::optional<std::string> cur;
    MIG_TRY(db.query_text("SELECT revision FROM migrator_version WHERE id = 1", cur));
    out.current = cur.value_or("");
    Stmt s;
    MIG_TRY(db.prepare("SELECT revision, checksum, applied_at FROM migrator_applied ORDER BY applied_at, rowid", s));
    Status st;
    while (s.step(st)) out.applied.push_back({s.text(0), s.text(1), s.text(2)});
    return st;
}

Status read_status_extras(Db& db, DbState& out) {
    Status st;
    if (db.table_exists("migrator_incident")) {
        Stmt i;
        MIG_TRY(db.prepare("SELECT time, failure_class, coalesce(failing_revision, ''), error, backup_path, "
                           "coalesce(from_revision, ''), coalesce(to_revision, '') FROM migrator_incident "
                           "ORDER BY id DESC LIMIT 1",
                           i));
        if (i.step(st)) out.last_incident = Incident{i.text(0), i.text(1), i.text(2), i.text(3), i.text(4), i.text(5), i.text(6)};
    }
    MIG_TRY(st);
    if (db.table_exists("migrator_quarantine")) MIG_TRY(db.query_int("SELECT count(*) FROM migrator_quarantine", out.quarantined));
    return st;
}

Status read_history(Db& db, std::vector<HistoryRow>& out) {
    out.clear();
    if (!db.table_exists("migrator_history")) return Status::ok();
    Stmt s;
    MIG_TRY(db.prepare("SELECT id, revision, checksum, direction, started_at, duration_ms, "
                       "host_version, rows_affected FROM migrator_history ORDER BY id",
                       s));
    Status st;
    while (s.step(st)) {
        out.push_back({s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.real(5), s.text(6),
                       s.int64(7)});
    }
    return st;
}

namespace {
Status set_current(Db& db, const std::string& rev, const std::string& now) {
    Stmt s;
    MIG_TRY(db.prepare("INSERT INTO migrator_version(id, revision, updated_at) VALUES (1, ?1, ?2) "
                       "ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, "
                       "updated_at = excluded.updated_at",
                       s));
    s.bind(1, std::string_view(rev)).bind(2, std::string_view(now));
    return s.run();
}

Status append_history(Db& db, const std::string& rev, const std::string& checksum, const char* dir,
                      const std::string& started_at, double ms, std::int64_t rows) {
    Stmt s;
    MIG_TRY(db.prepare("INSERT INTO migrator_history(revision, checksum, direction, started_at, "
                       "duration_ms, host_version, rows_affected) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       s));
    s.bind(1, std::string_view(rev))
        .bind(2, std::string_view(checksum))
        .bind(3, std::string_view(dir))
        .bind(4, std::string_view(started_at))
        .bind(5, ms)
        .bind(6, std::string_view(kVersion))
        .bind(7, rows);
    return s.run();
}
}  // namespace

Status record_step(Db& db, const PluginMeta& m, Direction d, const std::string& new_current,
                   const std::string& started_at, double duration_ms, std::int64_t rows_affected) {
    std::string now = utc_now();
    MIG_TRY(set_current(db, new_current, now));
    Stmt s;
    if (d == Direction::up) {
        MIG_TRY(db.prepare("INSERT OR REPLACE INTO migrator_applied(revision, checksum, applied_at) "
                           "VALUES (?1, ?2, ?3)",
                           s));
        s.bind(1, std::string_view(m.revision)).bind(2, std::string_view(m.checksum)).bind(3, std::string_view(now));
    } else {
        MIG_TRY(db.prepare("DELETE FROM migrator_applied WHERE revision = ?1", s));
        s.bind(1, std::string_view(m.revision));
    }
    MIG_TRY(s.run());
    return append_history(db, m.revision, m.checksum, direction_name(d), started_at, duration_ms,
                          rows_affected);
}

Status record_stamp(Db& db, const Chain& chain, const std::string& target, const std::string& now) {
    MIG_TRY(set_current(db, target, now));
    MIG_TRY(db.exec("DELETE FROM migrator_applied"));
    int n = chain.position(target);
    const PluginMeta* last = nullptr;
    for (int i = 0; i < n; ++i) {
        const auto& m = chain.revisions()[static_cast<size_t>(i)];
        Stmt s;
        MIG_TRY(db.prepare("INSERT INTO migrator_applied(revision, checksum, applied_at) VALUES (?1, ?2, ?3)", s));
        s.bind(1, std::string_view(m.revision)).bind(2, std::string_view(m.checksum)).bind(3, std::string_view(now));
        MIG_TRY(s.run());
        last = &m;
    }
    return append_history(db, target, last ? last->checksum : std::string(), "stamp", now, 0, 0);
}

Status check_applied_checksums(const Chain& chain, const DbState& state) {
    for (const auto& a : state.applied) {
        int i = chain.index_of(a.revision);
        if (i < 0) continue;  // unknown revisions are reported as "DB newer than app"
        const auto& m = chain.revisions()[static_cast<size_t>(i)];
        if (m.checksum != a.checksum)
            return {Code::plugin_set_invalid,
                    fmt::format("checksum drift: revision '{}' was applied with checksum {} but "
                                "plugin '{}' now has {}: an already-applied migration was edited. "
                                "Revert the edit and put the change in a new revision",
                                a.revision, a.checksum, m.file, m.checksum)};
    }
    return Status::ok();
}

}  // namespace migrator
