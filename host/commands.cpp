#include "commands.h"

#include <csignal>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "archive.h"
#include "bookkeeping.h"
#include "chain.h"
#include "db.h"
#include "discover.h"
#include "json_out.h"
#include "loader.h"
#include "lock.h"
#include "log.h"
#include "manifest.h"
#include "plan.h"
#include "plugin_cache.h"
#include "report.h"
#include "schema_model.h"

namespace migrator {
Status run_plan_quietly(Db& db, const Plan& plan, const RunOptions& opts) {
    const auto level = log_level();
    log_set_level(std::max(level, LogLevel::warn));
    RunReport report;
    Status st = run_plan(db, plan, opts, report);
    log_set_level(level);
    return st;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Status load_chain(const GlobalOptions& g, Chain& chain) {
    if (g.plugins.empty())
        return {Code::usage, "no plugin directory: pass --plugins DIR or set MIGRATOR_PLUGINS"};
    std::vector<PluginMeta> metas;
    MIG_TRY(discover(g.plugins, metas, PluginCache::path_for_db(g.db)));
    MIG_TRY(apply_release_manifest(g.plugins, g.require_manifest, metas));
    if (metas.empty())
        return {Code::plugin_set_invalid,
                fmt::format("no plugins found in '{}': it holds no *.so migration plugins (wrong "
                            "--plugins / MIGRATOR_PLUGINS?)",
                            g.plugins)};
    return build_chain(std::move(metas), chain);
}

namespace {
bool file_exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}
}  // namespace

std::string resolve_rev(const std::string& r) { return r == kBase ? std::string() : r; }

// Opens the DB and reads its state, validated against ctx.chain.
Status open_db(const GlobalOptions& g, Db::Mode mode, Context& ctx) {
    if (mode == Db::Mode::read_only && !file_exists(g.db)) {
        ctx.db_exists = false;
        return Status::ok();
    }
    MIG_TRY(Db::open(g.db, mode, g.busy_timeout_ms, ctx.db));
    MIG_TRY(read_state(ctx.db, ctx.state));
    if (ctx.chain.position(ctx.state.current) < 0) return db_newer_than_app(ctx.chain, ctx.state.current);
    return check_applied_checksums(ctx.chain, ctx.state);
}

Status open_context(const GlobalOptions& g, Db::Mode mode, Context& ctx) {
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    MIG_TRY(load_chain(g, ctx.chain));
    return open_db(g, mode, ctx);
}

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_signal(int) { g_cancel.store(true); }

// Cancels cleanly on SIGINT/SIGTERM for as long as it lives: the running revision fails
// with Code::cancelled and the transaction rolls back.
class CancelOnSignal {
public:
    CancelOnSignal() {
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~CancelOnSignal() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};




Status run(const GlobalOptions& g, Context& ctx, const Plan& plan, bool commit_each, bool files_verified = false) {
    CancelOnSignal guard;
    RunOptions opts;
    opts.commit_each = commit_each;
    opts.files_verified = files_verified;
    opts.cancel = &g_cancel;
    opts.events = g.events;
    opts.blob.workers = g.workers;
    opts.blob.quarantine = g.quarantine;
    if (g.step_started)
        opts.before_step = [&g](const PluginMeta& m, Db&) {
            g.step_started(m);
            return Status::ok();
        };
    RunReport report;
    Status st = run_plan(ctx.db, plan, opts, report);
    if (plan.direction == Direction::up) {
        // Every applied plugin is kept next to the DB: an older app can still revert it.
        std::vector<const PluginMeta*> applied;
        for (const auto& s : report.steps)
            if (s.committed)
                if (int i = ctx.chain.index_of(s.revision); i >= 0)
                    applied.push_back(&ctx.chain.revisions()[static_cast<size_t>(i)]);
        archive_plugins(g.db, applied);
    }
    if (g.print_results) print_run(g, plan, report, st);
    return st;
}

}  // namespace

Status migrate_up(const GlobalOptions& g, Chain chain, const std::string& to, bool commit_each,
                  const PluginSetKey* key) {
    // No --to: head. "--to base": base. Checked before the DB file is created.
    const std::string target = to.empty() ? chain.head() : resolve_rev(to);
    if (chain.position(target) < 0)
        return {Code::usage, fmt::format("unknown target revision '{}' (see `migrator plugins`)", to)};
    Context ctx;
    ctx.chain = std::move(chain);
    // A new database runs the plan from base: its plugins are checked against the release
    // manifest before the file is created, so a refused release leaves nothing behind (and
    // the run does not hash them again).
    bool verified = false;
    if (g.db != ":memory:" && !file_exists(g.db)) {
        Plan from_base;
        MIG_TRY(plan_up(ctx.chain, "", target, from_base));
        MIG_TRY(verify_plugin_files(from_base.steps));
        verified = true;
    }
    MIG_TRY(open_db(g, Db::Mode::create, ctx));
    Plan plan;
    MIG_TRY(plan_up(ctx.chain, ctx.state.current, target, plan));
    // Still the plan from base unless the file appeared meanwhile (the lock keeps migrators out).
    Status st = run(g, ctx, plan, commit_each, verified && ctx.state.current.empty());
    if (st && key && target == ctx.chain.head()) HeadVerdict::save(g.db, *key, ctx.chain, ctx.db);
    return st;
}

Status load_chain_then_lock(const GlobalOptions& g, PluginSetKey& key, MigrationLock& lock, Chain& chain) {
    MIG_TRY(load_chain(g, chain));
    if (lock.held()) return Status::ok();
    MIG_TRY(lock.acquire(g.db, g.lock_timeout_ms));
    if (!lock.waited()) return Status::ok();
    // The process it waited for may have been a package upgrade's start: its plugins count.
    key = PluginSetKey::capture(g.plugins, g.require_manifest);
    return load_chain(g, chain);
}

void print_nothing_to_do(const GlobalOptions& g, const std::string& head) {
    if (!g.print_results) return;
    Plan plan;
    plan.from = plan.to = head;
    RunReport report;
    report.from = report.reached = head;
    print_run(g, plan, report, Status::ok());
}

Status head_fast_path(const GlobalOptions& g, Db::Mode mode, PluginSetKey& key, MigrationLock& lock,
                      std::string& head) {
    head.clear();
    HeadVerdict verdict;
    if (!verdict.load(g.db, key)) return Status::ok();
    MIG_TRY(lock.acquire(g.db, g.lock_timeout_ms));
    if (lock.waited()) {
        key = PluginSetKey::capture(g.plugins, g.require_manifest);
        if (!verdict.load(g.db, key)) return Status::ok();
    }
    Db db;
    DbMark mark;
    Status st = Db::open(g.db, mode, g.busy_timeout_ms, db);
    if (st) st = DbMark::read(db, mark);
    if (!st) {
        // Busy is what the full path would report too, after waiting as long again; anything
        // else (corrupt, unreadable, no bookkeeping) the full path diagnoses.
        if (st.code() == Code::db_busy) return st;
        log_debug("head verdict: cannot read the database ({}); full start-up", st.message());
        return Status::ok();
    }
    if (!verdict.holds(mark)) {
        log_debug("head verdict: the database moved since; full start-up");
        return Status::ok();
    }
    log_debug("head verdict: database at head {} of the unchanged plugin set; no plugin read",
              verdict.head());
    head = verdict.head();
    return Status::ok();
}

Status cmd_up(const GlobalOptions& g, const std::string& to, bool commit_each) {
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    // Before anything reads the plugin directory (head_verdict.h).
    PluginSetKey key = PluginSetKey::capture(g.plugins, g.require_manifest);
    MigrationLock lock;
    if (to.empty() && !g.plugins.empty()) {
        std::string head;
        MIG_TRY(head_fast_path(g, Db::Mode::read_write, key, lock, head));
        if (!head.empty()) {
            print_nothing_to_do(g, head);
            return Status::ok();
        }
    }
    Chain chain;
    MIG_TRY(load_chain_then_lock(g, key, lock, chain));
    return migrate_up(g, std::move(chain), to, commit_each, &key);
}

Status cmd_down(const GlobalOptions& g, const std::string& to, bool commit_each) {
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    Context ctx;
    MIG_TRY(load_chain(g, ctx.chain));  // before the lock, as in cmd_up
    MigrationLock lock;
    MIG_TRY(lock.acquire(g.db, g.lock_timeout_ms));
    if (lock.waited()) MIG_TRY(load_chain(g, ctx.chain));
    Status opened = open_db(g, Db::Mode::read_write, ctx);
    if (opened.code() == Code::db_newer_than_app) {
        // After an app downgrade: the revisions this app does not ship may be in the archive.
        MIG_TRY(extend_with_archive(g.db, g.plugins, ctx.chain));
        ctx.db = Db{};
        ctx.state = DbState{};
        opened = open_db(g, Db::Mode::read_write, ctx);
    }
    MIG_TRY(opened);
    Plan plan;
    MIG_TRY(plan_down(ctx.chain, ctx.state.current, resolve_rev(to), plan));
    return run(g, ctx, plan, commit_each);
}

Status cmd_stamp(const GlobalOptions& g, const std::string& to) {
    Context ctx;
    // A stamp must work on a DB whose recorded revision is unknown or drifted: it is how an
    // operator repairs bookkeeping. So only the chain and the target are validated.
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    MIG_TRY(load_chain(g, ctx.chain));
    const std::string target = resolve_rev(to);
    if (ctx.chain.position(target) < 0)
        return {Code::usage, fmt::format("unknown revision '{}' (see `migrator plugins`)", to)};
    MigrationLock lock;
    MIG_TRY(lock.acquire(g.db, g.lock_timeout_ms));
    MIG_TRY(Db::open(g.db, Db::Mode::create, g.busy_timeout_ms, ctx.db));
    MIG_TRY(stamp(ctx.db, ctx.chain, target));
    log_info("stamped {} at {} (no migration was run)", g.db, to);
    return Status::ok();
}

Status cmd_status(const GlobalOptions& g) {
    Context ctx;
    Status st = open_context(g, Db::Mode::read_only, ctx);
    // A DB newer than the app is a state worth showing, not an error of `status` itself.
    if (!st && st.code() != Code::db_newer_than_app) return st;
    if (ctx.db_exists) MIG_TRY(read_status_extras(ctx.db, ctx.state));
    print_status(g, ctx.chain, ctx.state, ctx.db_exists, st);
    return Status::ok();
}

Status cmd_verify(const GlobalOptions& g) {
    Context ctx;
    MIG_TRY(open_context(g, Db::Mode::read_only, ctx));
    if (!ctx.db_exists)
        return {Code::not_at_head, fmt::format("database '{}' does not exist; run `migrator up`", g.db)};
    if (ctx.state.current != ctx.chain.head()) {
        int pending = static_cast<int>(ctx.chain.revisions().size()) - ctx.chain.position(ctx.state.current);
        return {Code::not_at_head,
                fmt::format("database is at '{}', {} revision(s) behind head '{}'; run `migrator up`",
                            ctx.state.current.empty() ? kBase : ctx.state.current, pending,
                            ctx.chain.head())};
    }
    if (g.json) fmt::print("{{\"at_head\":true,\"revision\":\"{}\"}}\n", ctx.chain.head());
    else fmt::print("ok: at head {}\n", ctx.chain.head());
    return Status::ok();
}

Status cmd_history(const GlobalOptions& g) {
    if (g.db.empty()) return {Code::usage, "no database: pass --db PATH or set MIGRATOR_DB"};
    std::vector<HistoryRow> rows;
    if (file_exists(g.db)) {
        Db db;
        MIG_TRY(Db::open(g.db, Db::Mode::read_only, g.busy_timeout_ms, db));
        MIG_TRY(read_history(db, rows));
    }
    print_history(g, rows);
    return Status::ok();
}

Status cmd_plugins(const GlobalOptions& g) {
    Chain chain;
    MIG_TRY(load_chain(g, chain));
    print_plugins(g, chain);
    return Status::ok();
}

}  // namespace migrator

namespace migrator {

Status cmd_blob(const GlobalOptions& g, const std::string& revision, bool down,
                const std::string& table, const std::string& column) {
    Chain chain;
    MIG_TRY(load_chain(g, chain));
    int i = chain.index_of(revision);
    if (i < 0) return {Code::usage, fmt::format("unknown revision '{}' (see `migrator plugins`)", revision)};
    const PluginMeta& meta = chain.revisions()[static_cast<size_t>(i)];
    LoadedPlugin p;
    MIG_TRY(verify_plugin_files({&meta}));
    MIG_TRY(load_plugin(meta, p));
    std::vector<const mig_blob_migration_v1*> match;
    for (const auto& b : p.blobs)
        if ((table.empty() || table == b.table) && (column.empty() || column == b.column)) match.push_back(&b);
    if (match.empty())
        return {Code::usage, fmt::format("revision '{}' has no blob migration{}", revision,
                                         table.empty() && column.empty() ? "" : " on that table/column")};
    if (match.size() > 1)
        return {Code::usage, fmt::format("revision '{}' has {} blob migrations: pick one with --table "
                                         "and --column",
                                         revision, match.size())};
    const mig_blob_migration_v1& b = *match.front();
    mig_blob_fn fn = down ? b.down : b.up;
    if (fn == nullptr)
        return {Code::usage, fmt::format("blob migration {}.{} of '{}' has no down transform", b.table,
                                         b.column, revision)};
    std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::string out;
    mig_sink sink{&out, [](void* ctx, const char* data, size_t len) -> mig_status {
                      if (len) static_cast<std::string*>(ctx)->append(data, len);
                      return MIG_OK;
                  }};
    std::array<char, 4096> err{};
    mig_error_buf eb{err.data(), static_cast<std::uint32_t>(err.size())};
    mig_status rc = fn(in.data(), in.size(), &sink, &eb);
    err.back() = '\0';
    if (rc == MIG_BLOB_UNCHANGED) {
        std::fwrite(in.data(), 1, in.size(), stdout);
        log_info("{}.{} ({}): unchanged", b.table, b.column, down ? "down" : "up");
        return Status::ok();
    }
    if (rc == MIG_BLOB_CHANGED) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        return Status::ok();
    }
    return {Code::migration_failed, fmt::format("row error in {}.{} ({}) of '{}': {}", b.table, b.column,
                                                down ? "down" : "up", revision,
                                                err[0] ? err.data() : "(no message)")};
}

}  // namespace migrator



namespace migrator {

Status cmd_manifest(const GlobalOptions& g, const std::string& release, bool verify) {
    if (g.plugins.empty()) return {Code::usage, "no plugin directory: pass --plugins DIR or set MIGRATOR_PLUGINS"};
    std::vector<PluginMeta> metas;
    // No cache: the manifest vouches for the bytes, so read every note from the file itself.
    MIG_TRY(discover(g.plugins, metas));
    if (!verify) {
        // The chain must be valid before a release is sealed.
        Chain chain;
        MIG_TRY(build_chain(std::vector<PluginMeta>(metas), chain));
        std::string path;
        MIG_TRY(write_release_manifest(g.plugins, release, metas, path));
        if (g.json) {
            JsonOut j;
            j.begin_object().field("manifest", path).field("release", release)
                .field("plugins", static_cast<std::int64_t>(metas.size())).end_object();
            fmt::print("{}\n", j.str());
        } else {
            fmt::print("wrote {}: {} plugin(s){}\n", path, metas.size(),
                       release.empty() ? std::string() : fmt::format(", release {}", release));
        }
        return Status::ok();
    }
    MIG_TRY(apply_release_manifest(g.plugins, /*required=*/true, metas));
    std::vector<const PluginMeta*> all;
    for (const auto& m : metas) all.push_back(&m);
    MIG_TRY(verify_plugin_files(all));
    if (g.json) {
        JsonOut j;
        j.begin_object().field("verified", true).field("plugins", static_cast<std::int64_t>(metas.size())).end_object();
        fmt::print("{}\n", j.str());
    } else {
        fmt::print("{}: {} plugin(s) match {}\n", g.plugins, metas.size(), kReleaseManifestName);
    }
    return Status::ok();
}

}  // namespace migrator
