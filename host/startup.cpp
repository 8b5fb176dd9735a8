#include "startup.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "archive.h"
#include "backup.h"
#include "bookkeeping.h"
#include "db.h"
#include "events.h"
#include "isolate.h"
#include "json_out.h"
#include "lock.h"
#include "log.h"
#include "plan.h"

namespace migrator {
namespace fs = std::filesystem;

namespace {

enum class FailureClass { none, plugin_set, environment, migration, corrupt };

const char* class_name(FailureClass c) {
    switch (c) {
        case FailureClass::none: return "none";
        case FailureClass::plugin_set: return "plugin_set";
        case FailureClass::environment: return "environment";
        case FailureClass::migration: return "migration";
        case FailureClass::corrupt: return "corrupt";
    }
    return "?";
}

// True when SQLite cannot read `path` as a database at all, or its quick_check fails.
bool looks_corrupt(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, DbCloser> db(raw);
    if (rc != SQLITE_OK) return false;  // cannot open: environment (permissions), not corruption
    sqlite3_stmt* s = nullptr;
    rc = sqlite3_prepare_v2(raw, "PRAGMA quick_check(1)", -1, &s, nullptr);
    StmtPtr st(s);
    if (rc != SQLITE_OK) {
        int e = sqlite3_errcode(raw) & 0xff;
        return e == SQLITE_NOTADB || e == SQLITE_CORRUPT;
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        return !(t && std::string(reinterpret_cast<const char*>(t)) == "ok");
    }
    int e = rc & 0xff;
    return e == SQLITE_NOTADB || e == SQLITE_CORRUPT;
}

FailureClass classify(const ChildOutcome& o, const std::string& db_path) {
    if (o.status.is_ok()) return FailureClass::none;
    if (o.crashed()) return o.signal == SIGKILL ? FailureClass::environment : FailureClass::migration;
    switch (o.status.code()) {
        case Code::migration_failed: return FailureClass::migration;
        case Code::plugin_set_invalid:
        case Code::db_newer_than_app: return FailureClass::plugin_set;
        case Code::db_error: return looks_corrupt(db_path) ? FailureClass::corrupt : FailureClass::environment;
        default: return FailureClass::environment;  // busy, cancelled, usage
    }
}

// A writer that died mid-transaction (the isolated child killed by a signal, or failing on a
// full disk after SQLite had spilled pages into the file; or a whole earlier run killed) leaves
// a hot journal: half-written pages in the file, the originals in "<db>-journal". A read-only
// connection cannot roll that back (SQLITE_READONLY_ROLLBACK): every read-only open fails, the
// backup fails, and every later start would fail the same way. The first read through a
// read-write connection rolls it back.
void roll_back_hot_journal(const GlobalOptions& g) {
    std::error_code ec;
    if (!fs::exists(g.db + "-journal", ec)) return;  // no journal, nothing to roll back
    Db db;  // Db::open rolls a hot journal back
    if (Status st = Db::open(g.db, Db::Mode::read_only, g.busy_timeout_ms, db); !st)
        log_warn("could not roll back the failed migration's journal: {}", st.message());
}

void emit_simple(const GlobalOptions& g, const char* name, const std::function<void(JsonOut&)>& fill) {
    if (!g.events) return;
    JsonOut e = g.events->begin(name);
    fill(e);
    g.events->emit(e);
}

Status record_incident(const std::string& db_path, const std::string& time, FailureClass cls, const std::string& revision,
                       const std::string& error, const std::string& backup, const std::string& from,
                       const std::string& to) {
    Db db;
    MIG_TRY(Db::open(db_path, Db::Mode::read_write, 5000, db));
    MIG_TRY(db.exec(R"sql(
CREATE TABLE IF NOT EXISTS migrator_incident(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    failure_class TEXT NOT NULL,
    failing_revision TEXT,
    error TEXT NOT NULL,
    backup_path TEXT NOT NULL,
    from_revision TEXT,
    to_revision TEXT))sql"));
    Stmt s;
    MIG_TRY(db.prepare("INSERT INTO migrator_incident(time, failure_class, failing_revision, error, "
                       "backup_path, from_revision, to_revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       s));
    s.bind(1, std::string_view(time)).bind(2, std::string_view(class_name(cls)));
    if (revision.empty()) s.bind_null(3); else s.bind(3, std::string_view(revision));
    s.bind(4, std::string_view(error)).bind(5, std::string_view(backup)).bind(6, std::string_view(from)).bind(7, std::string_view(to));
    return s.run();
}

Status reset_database(const GlobalOptions& g, const StartOptions& so, const Chain& chain,
                      FailureClass cls, const std::string& failing_revision, const Status& failure,
                      const std::string& from) {
    // Absolute: the incident and `status` quote it, read later from anywhere.
    const std::string dir =
        fs::absolute(so.backup_dir.empty() ? default_backup_dir(g.db) : so.backup_dir).lexically_normal().string();
    log_warn("migration failed ({}): backing up '{}' and resetting it to a fresh database at {}",
             class_name(cls), g.db, chain.head());

    // The fresh database is built first, beside the old one. When that fails too, the reset
    // is off before anything was written for it: a start that fails this way at every boot
    // must not leave one more backup of an untouched file each time (prune_backups only runs
    // after a reset, so they would pile up until the disk is full).
    const std::string tmp = g.db + ".migrator-new";
    std::error_code ec;
    auto remove_tmp = [&] {
        for (const char* sfx : {"", "-journal", "-wal", "-shm"}) fs::remove(tmp + sfx, ec);
        fs::remove_all(archive_dir_for(tmp), ec);  // the fresh build archives into its own name
    };
    remove_tmp();
    GlobalOptions fresh = g;
    fresh.db = tmp;
    // The fresh build is an internal step: its revisions are not the app's progress (no
    // events, no report); a failure of it is still reported below.
    fresh.events = nullptr;
    fresh.print_results = false;
    ChildOutcome built = run_isolated([&] {
        log_set_level(std::max(log_level(), LogLevel::warn));
        return migrate_up(fresh, chain, "", false);
    });
    if (!built.status) {
        remove_tmp();
        return {Code::migration_failed,
                fmt::format("reset failed: a fresh database could not be built either ({}); the "
                            "original database '{}' is untouched and no backup was needed. The "
                            "migration failure was: {}",
                            built.status.message(), g.db, failure.message())};
    }

    BackupResult backup;
    // A file SQLite cannot read has no known revision: its copy must not be labelled "base".
    Status st = cls == FailureClass::corrupt ? backup_raw(g.db, dir, from.empty() ? "unreadable" : from, backup)
                                             : backup_verified(g.db, dir, from, backup, g.busy_timeout_ms);
    if (!st) {
        remove_tmp();
        return {Code::db_error,
                fmt::format("no reset: the backup could not be made and verified ({}); the database "
                            "'{}' is untouched. The migration failure was: {}",
                            st.message(), g.db, failure.message())};
    }
    emit_simple(g, "backup_written", [&](JsonOut& e) {
        e.field("path", backup.path).field("raw", backup.raw);
    });

    const std::string now = utc_now();
    if (Status rec = record_incident(tmp, now, cls, failing_revision, failure.message(), backup.path,
                                     from, chain.head());
        !rec) {
        remove_tmp();
        return rec.with_context(fmt::format("no reset (the database '{}' is untouched; backup: {}): "
                                            "cannot record the incident: ",
                                            g.db, backup.path));
    }
    // The old companions belong to the old file, which is in the backup; left in place, SQLite
    // would replay them onto the new file.
    for (const char* sfx : {"-journal", "-wal", "-shm"}) fs::remove(g.db + sfx, ec);
    // An app that put its database in WAL mode expects it still is: the mode lives in the file
    // (header bytes 18-19 are 2 in WAL mode), so the fresh file gets it before the swap.
    {
        unsigned char hdr[20] = {};
        std::ifstream old_file(g.db, std::ios::binary);
        if (old_file.read(reinterpret_cast<char*>(hdr), sizeof hdr) && hdr[18] == 2 && hdr[19] == 2) {
            Db fresh_db;
            // NOFOLLOW: the directory may be writable by the app's user, who could have put a
            // symlink in the fresh file's place.
            Status wal = Db::open(tmp, Db::Mode::read_write, g.busy_timeout_ms, fresh_db, SQLITE_OPEN_NOFOLLOW);
            if (wal) wal = fresh_db.exec("PRAGMA journal_mode = WAL");
            if (!wal) log_warn("reset: the fresh database stays in rollback-journal mode: {}", wal.message());
        }
    }
    // The app may rely on the file's owner and mode (a start run as root for an app that runs
    // as its own user; a group that reads it): the new file takes the old one's. chown first:
    // it may clear set-id bits that chmod then restores. A chown this user may not make
    // (another owner, as non-root) leaves the new file this user's, as before.
    // Through a descriptor opened without following links, on the regular file this process
    // built: a start run as root must not chown whatever an app user swapped in by name.
    if (struct stat old_st {}; ::stat(g.db.c_str(), &old_st) == 0) {
        const int fd = ::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat new_st {};
        if (fd >= 0 && ::fstat(fd, &new_st) == 0 && S_ISREG(new_st.st_mode) && new_st.st_uid == ::geteuid()) {
            if (::fchown(fd, old_st.st_uid, old_st.st_gid) != 0)
                log_debug("reset: cannot give '{}' the old file's owner {}:{} ({})", tmp, old_st.st_uid,
                          old_st.st_gid, std::strerror(errno));
            ::fchmod(fd, old_st.st_mode & 07777);
        } else {
            log_warn("reset: '{}' is not the file this run built; its owner and mode are left as they are", tmp);
        }
        if (fd >= 0) ::close(fd);
    }
    if (std::rename(tmp.c_str(), g.db.c_str()) != 0)
        return {Code::db_error, fmt::format("reset: cannot move '{}' into place: {}; the backup is {}",
                                            tmp, std::strerror(errno), backup.path)};
    fsync_path(fs::absolute(g.db).parent_path().string());
    // The new file is at head: every plugin of the chain was applied to it.
    fs::remove_all(archive_dir_for(tmp), ec);
    {
        std::vector<const PluginMeta*> all;
        for (const auto& m : chain.revisions()) all.push_back(&m);
        archive_plugins(g.db, all);
    }

    JsonOut inc;
    inc.begin_object()
        .field("time", now)
        .field("db", fs::absolute(g.db).lexically_normal().string())
        .field("failure_class", class_name(cls))
        .field("failing_revision", failing_revision)
        .field("error", failure.message())
        .field("backup_path", backup.path)
        .field("from_revision", from)
        .field("to_revision", chain.head())
        .end_object();
    const std::string incident_file = backup.path + ".incident.json";
    {
        // 0600 from the start: it quotes the user's data in error messages.
        const std::string line = inc.str() + "\n";
        int fd = ::open(incident_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        if (fd >= 0) ok = (::fsync(fd) == 0) && ok, ::close(fd);
        if (!ok) log_warn("could not write the incident file '{}': {}", incident_file, std::strerror(errno));
    }
    prune_backups(g.db, dir, so.keep_backups, backup.path);
    // What the "reset" event and the --json reset line say.
    auto reset_fields = [&](JsonOut& e) {
        e.field("backup_path", backup.path).field("incident_file", incident_file)
            .field("failure_class", class_name(cls)).field("failing_revision", failing_revision)
            .field("error", failure.message()).field("to_revision", chain.head());
    };
    emit_simple(g, "reset", reset_fields);
    if (g.json) {
        // One more JSON line after the run's own report: --json output stays JSON lines.
        JsonOut j;
        j.begin_object().field("reset", true);
        reset_fields(j);
        j.field("exit_code", exit_code(Code::reset_performed)).end_object();
        fmt::print("{}\n", j.str());
    } else {
        fmt::print("RESET: the database could not be migrated ({}: {}).\n"
                   "A fresh database at {} is in place; the old one is kept at {}\n",
                   class_name(cls), failure.message(), chain.head(), backup.path);
    }
    return {Code::reset_performed,
            fmt::format("database reset after a {} failure; old data kept in {}", class_name(cls), backup.path)};
}

// A small page shared with the forked child (MAP_SHARED | MAP_ANONYMOUS), holding the
// revision it is running; unmapped when it goes out of scope.
class RunningRevision {
public:
    RunningRevision() {
        void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        page_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
        if (page_) page_[0] = '\0';
    }
    ~RunningRevision() {
        if (page_) ::munmap(page_, kSize);
    }
    RunningRevision(const RunningRevision&) = delete;
    RunningRevision& operator=(const RunningRevision&) = delete;
    void set(const std::string& revision) {
        if (!page_) return;
        const std::size_t n = std::min(revision.size(), kSize - 1);
        std::memcpy(page_, revision.data(), n);
        page_[n] = '\0';
    }
    std::string get() const { return page_ ? std::string(page_) : std::string(); }

private:
    static constexpr std::size_t kSize = 256;  // revision ids are at most 128 bytes
    char* page_ = nullptr;
};

}  // namespace

Status cmd_start(const GlobalOptions& g, const StartOptions& so) {
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    emit_simple(g, "started", [&](JsonOut& e) {
        e.field("db", g.db).field("mode", so.central ? "central" : "local").field("reset", so.reset && !so.central);
    });
    auto finish = [&](const Status& st) {
        emit_simple(g, "finished", [&](JsonOut& e) {
            e.field("ok", st.is_ok() || st.code() == Code::reset_performed)
                .field("exit_code", exit_code(st.code())).field("message", st.message());
        });
        return st;
    };
    // Before anything reads the plugin directory (head_verdict.h).
    PluginSetKey key = PluginSetKey::capture(g.plugins, g.require_manifest);
    MigrationLock lock;
    if (!g.plugins.empty()) {
        std::string head;
        if (Status st = head_fast_path(g, Db::Mode::read_only, key, lock, head); !st) return finish(st);
        if (!head.empty()) {
            print_nothing_to_do(g, head);
            return finish(Status::ok());
        }
    }
    // A refused plugin set or a lock timeout is never answered with a reset.
    Chain chain;
    if (Status st = load_chain_then_lock(g, key, lock, chain); !st) return finish(st);

    // Look at the database in this process, and let go of it before forking. A hot journal left
    // by a run that died mid-transaction is rolled back here (Db::open).
    std::string current;
    std::int64_t user_tables = 0;
    {
        std::error_code ec;
        bool exists = fs::exists(g.db, ec);
        Db db;
        Status st = exists ? Db::open(g.db, Db::Mode::read_only, g.busy_timeout_ms, db) : Status::ok();
        DbState state;
        if (st && exists) st = read_state(db, state);
        if (st && exists && state.current == chain.head() && check_applied_checksums(chain, state))
            HeadVerdict::save(g.db, key, chain, db);
        // Tables but no bookkeeping: a database this app made before it used migrator (or one
        // whose first revision ran without a transaction and failed before it was recorded).
        // It is migrated from base (an idempotent first revision adopts it), but a failure is
        // not answered with a reset, which would put the user's data aside for an empty file.
        if (st && exists && !state.initialized)
            st = db.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                              "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                              user_tables);
        db = Db{};
        if (!st) {
            if (st.code() == Code::db_error && looks_corrupt(g.db)) {
                if (so.central || !so.reset) return finish(st.with_context("the database is corrupt: "));
                return finish(reset_database(g, so, chain, FailureClass::corrupt, "", st, ""));
            }
            return finish(st);
        }
        if (chain.position(state.current) < 0) return finish(db_newer_than_app(chain, state.current));
        if (Status c = check_applied_checksums(chain, state); !c) return finish(c);
        current = state.current;
        if (exists && current == chain.head()) {
            print_nothing_to_do(g, chain.head());
            return finish(Status::ok());
        }
    }

    // The revision the child is running, in a page shared across fork(): a child that crashes
    // cannot say which one it was in.
    RunningRevision running;
    GlobalOptions child_g = g;
    child_g.step_started = [&running](const PluginMeta& m) { running.set(m.revision); };
    ChildOutcome o = run_isolated([&] {
        Status st = migrate_up(child_g, chain, "", false, &key);
        // Rolled back because a FOREIGN_KEYS_OFF revision switched foreign keys off for the
        // whole transaction, so other revisions' cascades did not run (chain.cpp). A transaction
        // per revision gives each its own foreign-key mode; the alternative is a reset.
        if (failed_for_foreign_keys_off_for_all(st)) {
            log_warn("{}; retrying with one transaction per revision", st.message());
            st = migrate_up(child_g, chain, "", true, &key);
        }
        return st;
    });
    // Whatever a failed child left half-done goes back now, before the file is classified,
    // backed up, or left for the next start.
    if (!o.status) roll_back_hot_journal(g);
    FailureClass cls = classify(o, g.db);
    if (cls == FailureClass::none) return finish(Status::ok());
    Status failure = o.status;
    // Returned as is, main() logs it; only the reset path needs it logged here.
    if (cls != FailureClass::migration && cls != FailureClass::corrupt) return finish(failure);
    if (so.central || !so.reset) return finish(failure);
    if (user_tables > 0)
        return finish({failure.code(),
                       fmt::format("{}. Not reset: the database '{}' has {} table(s) but no migrator "
                                   "bookkeeping (made before this app used migrator, or its first revision "
                                   "failed before it was recorded); nothing of this run was kept. If its "
                                   "schema is that of a revision of this app, record that with "
                                   "`migrator --db '{}' --plugins DIR stamp REV`, then start again",
                                   failure.message(), g.db, user_tables, g.db)});
    // Where the database stopped: revisions that committed on their own (no-transaction ones,
    // a retry with a transaction each) moved it past `current`.
    {
        Db db;
        DbState state;
        if (Db::open(g.db, Db::Mode::read_only, g.busy_timeout_ms, db) && read_state(db, state) &&
            chain.position(state.current) >= 0)
            current = state.current;
    }
    // The failing revision: the one the child was running; else the one the message names;
    // else the first pending one.
    std::string failing;
    int pos = chain.position(current);
    if (pos >= 0 && static_cast<size_t>(pos) < chain.revisions().size())
        failing = chain.revisions()[static_cast<size_t>(pos)].revision;
    size_t q = failure.message().find("revision '");
    if (q != std::string::npos) {
        size_t e = failure.message().find('\'', q + 10);
        if (e != std::string::npos) failing = failure.message().substr(q + 10, e - q - 10);
    }
    if (!running.get().empty() && cls == FailureClass::migration) failing = running.get();
    // Revisions that committed on their own may have taken it all the way: a database at head
    // is never replaced, whatever failed after.
    if (current == chain.head())
        return finish({failure.code(), fmt::format("{} (the database is at head {}: not reset)",
                                                   failure.message(), chain.head())});
    log_error("{}", failure.message());
    return finish(reset_database(g, so, chain, cls, failing, failure, current));
}

}  // namespace migrator
