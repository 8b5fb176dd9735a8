#include "rehearse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "chain.h"
#include "json_out.h"
#include "json_schema.h"
#include "log.h"
#include "migrator/plugin_api.h"
#include "report.h"
#include "schema_model.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

std::string show(const std::string& rev) { return rev.empty() ? std::string(kBase) : rev; }

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Plans a move the way `up` / `down` would, from the state in ctx.
Status make_plan(const Context& ctx, Direction dir, const std::string& to, Plan& plan) {
    if (dir == Direction::down) {
        if (to.empty()) return {Code::usage, "down needs --to REV ('base' reverts everything)"};
        return plan_down(ctx.chain, ctx.state.current, resolve_rev(to), plan);
    }
    const std::string target = to.empty() ? ctx.chain.head() : resolve_rev(to);
    if (ctx.chain.position(target) < 0)
        return {Code::usage, fmt::format("unknown target revision '{}' (see `migrator plugins`)", to)};
    return plan_up(ctx.chain, ctx.state.current, target, plan);
}

// Row counts of the app's tables ("sqlite_" and "migrator_" excluded), by name.
Status table_counts(Db& db, std::map<std::string, std::int64_t>& out) {
    Stmt s;
    MIG_TRY(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
                       "ESCAPE '\\' AND name NOT LIKE 'migrator\\_%' ESCAPE '\\' ORDER BY name",
                       s));
    Status st;
    std::vector<std::string> names;
    while (s.step(st)) names.push_back(s.text(0));
    MIG_TRY(st);
    for (const auto& n : names) {
        std::int64_t c = 0;
        // A virtual table whose module is missing cannot be counted: leave it out.
        if (db.query_int("SELECT count(*) FROM " + quote_ident(n), c)) out[n] = c;
    }
    return Status::ok();
}

// A scratch file that is removed (with its journal) when this goes away.
class ScratchFile {
public:
    Status create(const std::string& dir_opt) {
        std::string dir = dir_opt;
        if (dir.empty()) {
            const char* t = std::getenv("TMPDIR");
            dir = t && *t ? t : "/tmp";
        }
        std::string tmpl = (fs::path(dir) / "migrator-dry-run-XXXXXX").string();
        int fd = ::mkstemp(tmpl.data());
        if (fd < 0)
            return {Code::db_error, fmt::format("cannot create the dry run's snapshot in '{}': {} "
                                                "(choose another place with --scratch DIR)",
                                                dir, std::strerror(errno))};
        ::fchmod(fd, 0600);  // a copy of the user's data
        ::close(fd);
        path_ = tmpl;
        return Status::ok();
    }
    ~ScratchFile() {
        if (path_.empty()) return;
        std::error_code ec;
        for (const char* sfx : {"", "-journal", "-wal", "-shm"}) fs::remove(path_ + sfx, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// An fd closed at scope exit. Closed only after the read transaction it copies under has
// ended: closing any descriptor of a file drops every POSIX lock this process holds on it,
// SQLite's SHARED lock included.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Ends the source's read transaction on every path.
struct ReadTransaction {
    Db& db;
    bool open = false;
    ~ReadTransaction() {
        if (open) (void)db.exec("COMMIT");
    }
};

// The file as it is, copied by the kernel (copy_file_range), under a read transaction: no
// writer can commit while it runs, so the bytes are one committed state. Only for rollback-
// journal databases: in WAL mode committed pages may still live in the -wal file, and a
// checkpoint may write the file meanwhile. The mode is judged under the lock (an app may
// switch the file to WAL at any time before): copied = false when it is WAL, and nothing
// usable is in `dest_path` then.
Status copy_file_under_read_lock(Db& src, const std::string& dest_path, bool& copied) {
    copied = false;
    Fd in, out;
    in.fd = ::open(src.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) return {Code::db_error, fmt::format("cannot read '{}' for the dry run's snapshot: {}", src.path(), std::strerror(errno))};
    // O_NOFOLLOW: the scratch directory may be shared; never write through a planted symlink.
    out.fd = ::open(dest_path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (out.fd < 0)
        return {Code::db_error, fmt::format("cannot write the dry run's snapshot '{}': {}", dest_path, std::strerror(errno))};
    ReadTransaction tx{src};
    MIG_TRY(src.exec("BEGIN"));
    tx.open = true;
    std::int64_t objects = 0;
    MIG_TRY(src.query_int("SELECT count(*) FROM sqlite_schema", objects));  // takes the SHARED lock
    std::optional<std::string> mode;
    MIG_TRY(src.query_text("PRAGMA journal_mode", mode));
    unsigned char header[100] = {};
    const ssize_t got = ::pread(in.fd, header, sizeof header, 0);
    if (mode.value_or("") == "wal" || (got == static_cast<ssize_t>(sizeof header) && header[18] == 2)) return Status::ok();
    struct stat st {};
    if (::fstat(in.fd, &st) != 0) return {Code::db_error, fmt::format("cannot stat '{}': {}", src.path(), std::strerror(errno))};
    off_t left = st.st_size;
    bool plain_io = false;  // copy_file_range cannot serve this pair of files: read/write
    while (left > 0) {
        ssize_t n = -1;
        if (!plain_io) {
            n = ::copy_file_range(in.fd, nullptr, out.fd, nullptr, static_cast<size_t>(left), 0);
            if (n < 0 && errno == EINTR) continue;
            // Other filesystems, old kernels, and (FUSE, network filesystems) a 0 before the end.
            if ((n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) || n == 0) {
                plain_io = true;
                continue;
            }
        } else {
            char buf[1 << 16];
            n = ::read(in.fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n > 0 && ::write(out.fd, buf, static_cast<size_t>(n)) != n) n = -1;
            if (n == 0) break;
        }
        if (n < 0)
            return {Code::db_error, fmt::format("copying '{}' into the dry run's snapshot failed: {} (choose another "
                                                "place with --scratch DIR)",
                                                src.path(), std::strerror(errno))};
        left -= n;
    }
    if (left != 0)
        return {Code::db_error, fmt::format("the dry run's snapshot of '{}' came out {} bytes short of its {} bytes",
                                            src.path(), static_cast<std::int64_t>(left), static_cast<std::int64_t>(st.st_size))};
    copied = true;
    return Status::ok();
}

// Copies `src` into the empty database file `dest_path`: a consistent snapshot taken under a
// read transaction, never a write. A rollback-journal database is copied as a file (2-4x
// faster than page by page: the snapshot was a quarter of a 1M-row dry run); a WAL database
// with the online backup API.
Status snapshot(Db& src, const std::string& dest_path, int busy_ms, Db& dest) {
    bool copied = false;
    MIG_TRY(copy_file_under_read_lock(src, dest_path, copied));
    if (copied) {
        MIG_TRY(Db::open(dest_path, Db::Mode::read_write, busy_ms, dest));
        // The copy is thrown away: durability buys nothing here.
        return dest.exec("PRAGMA synchronous = OFF");
    }
    // WAL: page by page through SQLite, which reads the -wal file too.
    if (::truncate(dest_path.c_str(), 0) != 0)
        return {Code::db_error, fmt::format("cannot reset the dry run's snapshot '{}': {}", dest_path, std::strerror(errno))};
    MIG_TRY(Db::open(dest_path, Db::Mode::read_write, busy_ms, dest));
    // Before the copy: its commit would otherwise fsync the whole file.
    MIG_TRY(dest.exec("PRAGMA synchronous = OFF"));
    sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", src.get(), "main");
    if (b == nullptr) return dest.error(sqlite3_errcode(dest.get()), "cannot start the snapshot copy");
    int rc = SQLITE_OK;
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    int fin = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) return src.error(rc, "copying the database into the dry run's snapshot failed");
    if (fin != SQLITE_OK) return dest.error(fin, "finishing the dry run's snapshot failed");
    // The copy is a plain rollback-journal file like any other scratch database.
    return dest.exec("PRAGMA journal_mode = DELETE");
}

std::string frozen_schema_dir(const GlobalOptions& g, const RehearseOptions& ro) {
    if (!ro.json_schemas.empty()) return ro.json_schemas;
    std::error_code ec;
    fs::path p = fs::path(g.plugins) / ".." / "schemas" / "frozen";
    if (fs::is_directory(p, ec)) return fs::weakly_canonical(p, ec).string();
    return "";
}

struct BlobCheck {
    std::string table, column, model;
    std::string schema_path;          // "" when not validated
    std::string not_validated_why;    // why not, when not
};

struct Rehearsal {
    std::map<std::string, std::vector<SchemaDifference>> schema_diff;  // by revision
    std::map<std::string, std::vector<BlobCheck>> checks;               // by revision
};

std::string join_flags(std::uint64_t f) {
    auto v = flag_names(f);
    return v.empty() ? std::string() : fmt::format("  [{}]", fmt::join(v, ", "));
}

void json_diff(JsonOut& j, const std::vector<SchemaDifference>& d) {
    j.key("schema_changes").begin_array();
    for (const auto& x : d)
        j.begin_object().field("object", x.object).field("attribute", x.attribute)
            .field("before", x.expected).field("after", x.actual).end_object();
    j.end_array();
}

void json_blob_stats(JsonOut& j, const std::vector<BlobStats>& blobs, const std::vector<BlobCheck>& checks) {
    j.key("blobs").begin_array();
    for (const auto& b : blobs) {
        j.begin_object();
        json_blob_counts(j, b);
        j.key("failures").begin_array();
        for (const auto& e : b.errors) j.begin_object().field("rowid", e.rowid).field("error", e.message).end_object();
        j.end_array();
        const BlobCheck* c = nullptr;
        for (const auto& x : checks)
            if (x.table == b.table && x.column == b.column) c = &x;
        j.key("json_schema").begin_object();
        if (c && !c->schema_path.empty()) {
            j.field("model", c->model).field("schema", c->schema_path).field("validated", true)
                .field("checked", static_cast<std::int64_t>(b.validated))
                .field("invalid", static_cast<std::int64_t>(b.schema_invalid))
                .field("unparsable", static_cast<std::int64_t>(b.schema_unparsable));
            j.key("violations").begin_array();
            for (const auto& e : b.schema_errors)
                j.begin_object().field("rowid", e.rowid).field("error", e.message).end_object();
            j.end_array();
        } else {
            j.field("model", c ? c->model : std::string()).field("validated", false)
                .field("why", c ? c->not_validated_why : std::string("no model"));
        }
        j.end_object();
        j.end_object();
    }
    j.end_array();
}

void print_blob_stats(const std::vector<BlobStats>& blobs, const std::vector<BlobCheck>& checks) {
    for (const auto& b : blobs) {
        fmt::print("   blob {}.{}: {} scanned, {} changed, {} unchanged, {} failed{}; {:.1f} ms ({:.0f} rows/s)\n",
                   b.table, b.column, b.scanned, b.changed, b.unchanged, b.failed,
                   b.quarantined ? fmt::format(" ({} would be quarantined)", b.quarantined) : "",
                   b.duration_ms, b.duration_ms > 0 ? static_cast<double>(b.scanned) * 1000.0 / b.duration_ms : 0.0);
        for (const auto& e : b.errors) fmt::print("     row error: rowid {}: {}\n", e.rowid, e.message);
        if (b.failed > b.errors.size())
            fmt::print("     ... and {} more failing row(s)\n", b.failed - b.errors.size());
        for (const auto& c : checks) {
            if (c.table != b.table || c.column != b.column) continue;
            if (c.schema_path.empty()) {
                fmt::print("   JSON Schema: not validated ({})\n", c.not_validated_why);
                continue;
            }
            fmt::print("   JSON Schema {} ({}): {} checked, {} invalid{}\n", c.model, c.schema_path,
                       b.validated, b.schema_invalid,
                       b.schema_unparsable ? fmt::format(", {} not checkable (the validator's parser "
                                                         "refused them)", b.schema_unparsable)
                                           : "");
            for (const auto& e : b.schema_errors) fmt::print("     invalid: rowid {}: {}\n", e.rowid, e.message);
            const auto shown = static_cast<std::uint64_t>(b.schema_errors.size());
            if (b.schema_invalid + b.schema_unparsable > shown)
                fmt::print("     ... and {} more\n", b.schema_invalid + b.schema_unparsable - shown);
        }
    }
}

void print_sql(const std::vector<CapturedSql>& sql) {
    if (sql.empty()) return;
    fmt::print("   SQL:\n");
    for (const auto& s : sql) {
        // Plugins write SQL in indented raw strings: drop the blank lines around it and the
        // indentation its lines share, then indent it as a block of the report.
        std::vector<std::string> lines;
        size_t pos = 0;
        while (pos <= s.sql.size()) {
            size_t nl = s.sql.find('\n', pos);
            if (nl == std::string::npos) nl = s.sql.size();
            std::string line = s.sql.substr(pos, nl - pos);
            while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
            lines.push_back(std::move(line));
            pos = nl + 1;
        }
        while (!lines.empty() && lines.front().empty()) lines.erase(lines.begin());
        while (!lines.empty() && lines.back().empty()) lines.pop_back();
        size_t common = std::string::npos;
        for (const auto& l : lines)
            if (!l.empty()) common = std::min(common, l.find_first_not_of(" \t"));
        if (common == std::string::npos) common = 0;
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::string body = lines[i].size() > common ? lines[i].substr(common) : std::string();
            const bool last = i + 1 == lines.size();
            fmt::print("     {}{}\n", body, last && s.times > 1 ? fmt::format("   (x{})", s.times) : "");
        }
    }
}

void print_diff(const std::vector<SchemaDifference>& d) {
    if (d.empty()) {
        fmt::print("   schema: unchanged\n");
        return;
    }
    fmt::print("   schema changes:\n");
    // diff_schema speaks of expected (here: before) and actual (after).
    for (const auto& x : d) {
        if (x.attribute == "existence")
            fmt::print("     {} {}\n", x.actual == "present" ? "+" : "-", x.object);
        else
            fmt::print("     ~ {}: {}: {} -> {}\n", x.object, x.attribute, x.expected, x.actual);
    }
}

}  // namespace

Status cmd_plan(const GlobalOptions& g, Direction dir, const std::string& to) {
    Context ctx;
    MIG_TRY(open_context(g, Db::Mode::read_only, ctx));
    Plan plan;
    MIG_TRY(make_plan(ctx, dir, to, plan));
    std::map<std::string, std::int64_t> counts;
    if (ctx.db_exists) MIG_TRY(table_counts(ctx.db, counts));
    bool any_fk_off = false, any_alone = false;
    for (const auto* m : plan.steps) {
        any_fk_off |= (m->flags & MIG_FLAG_FOREIGN_KEYS_OFF) != 0;
        any_alone |= (m->flags & MIG_FLAG_NO_TRANSACTION) != 0;
    }
    const std::string transaction =
        any_alone ? "one transaction per group of revisions; a no_transaction revision runs alone "
                    "and cannot be rolled back"
                  : "one transaction for the whole plan: a failure leaves the database as it is";
    if (g.json) {
        JsonOut j;
        j.begin_object().field("db", g.db).field("exists", ctx.db_exists)
            .field("direction", direction_name(plan.direction));
        j.key("from");
        if (plan.from.empty()) j.null(); else j.value(plan.from);
        j.key("to");
        if (plan.to.empty()) j.null(); else j.value(plan.to);
        j.field("transaction", transaction);
        j.key("steps").begin_array();
        for (const auto* m : plan.steps) {
            j.begin_object().field("revision", m->revision).field("description", m->description)
                .field("file", m->file);
            j.key("flags").begin_array();
            for (const auto& f : flag_names(m->flags)) j.value(f);
            j.end_array();
            j.key("blobs").begin_array();
            for (const auto& b : m->blobs) {
                j.begin_object().field("table", b.table).field("column", b.column).field("model", b.model);
                j.key("rows");
                if (auto it = counts.find(b.table); it != counts.end()) j.value(it->second);
                else j.null();
                j.end_object();
            }
            j.end_array().end_object();
        }
        j.end_array();
        j.key("tables").begin_object();
        for (const auto& [name, n] : counts) j.field(name, n);
        j.end_object().end_object();
        fmt::print("{}\n", j.str());
        return Status::ok();
    }
    if (plan.steps.empty()) {
        fmt::print("nothing to do: {} is at {}\n", g.db, show(ctx.state.current));
        return Status::ok();
    }
    fmt::print("plan: {} {} -> {}, {} revision(s), on {}{}\n", direction_name(plan.direction),
               show(plan.from), show(plan.to), plan.steps.size(), g.db,
               ctx.db_exists ? "" : " (does not exist yet: it would be created)");
    size_t k = 0;
    for (const auto* m : plan.steps) {
        fmt::print("  {:>2}. {:<36} {}{}\n", ++k, m->revision, m->description, join_flags(m->flags));
        for (const auto& b : m->blobs) {
            auto it = counts.find(b.table);
            fmt::print("        blob {}.{} (model {}): {}\n", b.table, b.column,
                       b.model.empty() ? "-" : b.model,
                       it != counts.end() ? fmt::format("{} rows now", it->second)
                                          : std::string("table not there yet"));
        }
    }
    fmt::print("transaction: {}\n", transaction);
    if (any_fk_off)
        fmt::print("foreign keys: off for the transaction of a foreign_keys_off revision; "
                   "foreign_key_check must pass before commit\n");
    if (!counts.empty()) {
        std::vector<std::string> parts;
        for (const auto& [name, n] : counts) parts.push_back(fmt::format("{} {}", name, n));
        fmt::print("rows now: {}\n", fmt::join(parts, ", "));
    }
    fmt::print("no plugin code was run; `--dry-run` on up/down rehearses the plan on a copy\n");
    return Status::ok();
}

Status cmd_rehearse(const GlobalOptions& g, Direction dir, const std::string& to, const RehearseOptions& ro) {
    const auto t_all = std::chrono::steady_clock::now();
    Context ctx;
    MIG_TRY(open_context(g, Db::Mode::read_only, ctx));
    Plan plan;
    MIG_TRY(make_plan(ctx, dir, to, plan));

    ScratchFile scratch;
    MIG_TRY(scratch.create(ro.scratch_dir));
    Db snap;
    const auto t_copy = std::chrono::steady_clock::now();
    if (ctx.db_exists) {
        MIG_TRY(snapshot(ctx.db, scratch.path(), g.busy_timeout_ms, snap));
    } else {
        MIG_TRY(Db::open(scratch.path(), Db::Mode::read_write, g.busy_timeout_ms, snap));
        MIG_TRY(snap.exec("PRAGMA synchronous = OFF"));
    }
    const double copy_ms = ms_since(t_copy);
    std::int64_t copy_bytes = 0;
    {
        std::error_code ec;
        auto sz = fs::file_size(scratch.path(), ec);
        if (!ec) copy_bytes = static_cast<std::int64_t>(sz);
    }
    ctx.db = Db{};  // let go of the original: from here on only the copy is used

    // Frozen JSON Schemas: the result of the last blob migration of a column in the whole
    // chain is what its model's frozen schema describes, once the plan reaches head.
    const std::string schema_dir = frozen_schema_dir(g, ro);
    std::map<std::string, std::unique_ptr<JsonSchema>> schemas;  // by model
    Rehearsal rh;
    std::map<std::string, std::string> last_blob_rev;  // "table\ncolumn" -> revision
    for (const auto& m : ctx.chain.revisions())
        for (const auto& b : m.blobs) last_blob_rev[b.table + "\n" + b.column] = m.revision;
    for (const auto* m : plan.steps) {
        for (const auto& b : m->blobs) {
            BlobCheck c{b.table, b.column, b.model, "", ""};
            if (plan.direction == Direction::down) c.not_validated_why = "a down migration: the frozen schema describes head";
            else if (b.model.empty()) c.not_validated_why = "the blob migration names no model";
            else if (last_blob_rev[b.table + "\n" + b.column] != m->revision)
                c.not_validated_why = "a later revision migrates this column again";
            else if (plan.to != ctx.chain.head()) c.not_validated_why = "the plan stops before head";
            else if (ro.json_schemas == "none")
                c.not_validated_why = "validation turned off (--json-schemas none)";
            else if (schema_dir.empty())
                c.not_validated_why = "no frozen schemas: pass --json-schemas DIR (<Model>.json files)";
            else {
                const std::string path = (fs::path(schema_dir) / (b.model + ".json")).string();
                std::error_code ec;
                if (!fs::exists(path, ec)) {
                    c.not_validated_why = fmt::format("no frozen schema '{}'", path);
                } else {
                    if (!schemas.count(b.model)) {
                        std::unique_ptr<JsonSchema> s;
                        MIG_TRY(JsonSchema::load(path, s));
                        schemas[b.model] = std::move(s);
                    }
                    c.schema_path = path;
                }
            }
            rh.checks[m->revision].push_back(std::move(c));
        }
    }

    RunOptions opts;
    opts.capture_sql = true;
    opts.blob.scan_all = true;
    opts.blob.quarantine = g.quarantine;
    opts.blob.workers = g.workers;
    opts.blob.max_reported_errors = ro.samples;
    opts.blob.progress = [](const std::string&, const std::string&, std::uint64_t, double) {};
    std::map<std::string, SchemaModel> before;
    opts.before_step = [&](const PluginMeta& m, Db& db) { return read_schema(db, before[m.revision]); };
    opts.after_step = [&](const PluginMeta& m, Db& db) {
        SchemaModel after;
        MIG_TRY(read_schema(db, after));
        rh.schema_diff[m.revision] = diff_schema(before[m.revision], after);
        return Status::ok();
    };
    opts.blob_schema = [&](const PluginMeta& m, const mig_blob_migration_v1& b) -> const JsonSchema* {
        for (const auto& c : rh.checks[m.revision])
            if (c.table == b.table && c.column == b.column && !c.schema_path.empty()) return schemas[c.model].get();
        return nullptr;
    };
    RunReport report;
    const auto t_run = std::chrono::steady_clock::now();
    Status st = run_plan(snap, plan, opts, report);
    // The copy is always writable; the real file may not be (the real run then exits 6 at
    // its first write, after doing the work).
    if (st && !plan.steps.empty()) {
        const fs::path db_path = fs::absolute(g.db);
        const bool file_ok = !ctx.db_exists || ::access(db_path.c_str(), W_OK) == 0;
        const bool dir_ok = ::access(db_path.parent_path().c_str(), W_OK | X_OK) == 0;
        if (!file_ok || !dir_ok)
            st = {Code::db_error,
                  fmt::format("the rehearsal succeeded, but the real run would fail: {} is not writable "
                              "by this user (SQLite also needs to create its journal next to the file)",
                              !file_ok ? fmt::format("the database file '{}'", g.db)
                                       : fmt::format("the directory of '{}'", g.db))};
    }
    const double run_ms = ms_since(t_run);
    double steps_ms = 0;
    for (const auto& s : report.steps) steps_ms += s.duration_ms;
    std::uint64_t schema_invalid = 0;
    for (const auto& s : report.steps)
        for (const auto& b : s.blobs) schema_invalid += b.schema_invalid;

    if (g.json) {
        JsonOut j;
        j.begin_object().field("dry_run", true).field("ok", st.is_ok()).field("db", g.db)
            .field("direction", direction_name(plan.direction));
        j.key("from");
        if (plan.from.empty()) j.null(); else j.value(plan.from);
        j.key("to");
        if (plan.to.empty()) j.null(); else j.value(plan.to);
        j.key("reached");
        if (report.reached.empty()) j.null(); else j.value(report.reached);
        j.field("snapshot_bytes", copy_bytes).field("snapshot_ms", copy_ms).field("run_ms", run_ms)
            .field("estimate_ms", steps_ms).field("schema_invalid", static_cast<std::int64_t>(schema_invalid));
        auto step_json = [&](const std::string& rev, Direction d, double ms, std::int64_t rows, bool ok,
                             const std::vector<CapturedSql>& sql, const std::vector<BlobStats>& blobs) {
            j.begin_object().field("revision", rev).field("direction", direction_name(d))
                .field("ok", ok).field("duration_ms", ms).field("rows_affected", rows);
            j.key("sql").begin_array();
            for (const auto& s : sql) j.begin_object().field("sql", s.sql).field("times", s.times).end_object();
            j.end_array();
            json_diff(j, rh.schema_diff[rev]);
            json_blob_stats(j, blobs, rh.checks[rev]);
            j.end_object();
        };
        j.key("steps").begin_array();
        for (const auto& s : report.steps)
            step_json(s.revision, s.direction, s.duration_ms, s.rows_affected, true, s.sql, s.blobs);
        if (!st && !report.failed_revision.empty())
            step_json(report.failed_revision, plan.direction, 0, 0, false, report.failed_sql, report.failed_blobs);
        j.end_array();
        if (!st) {
            j.key("error").begin_object().field("code", code_name(st.code()))
                .field("exit_code", exit_code(st.code())).field("message", st.message());
            j.key("revision");
            if (report.failed_revision.empty()) j.null(); else j.value(report.failed_revision);
            j.end_object();
        }
        j.end_object();
        fmt::print("{}\n", j.str());
        return st;
    }

    fmt::print("dry run: {} {} -> {} on a snapshot of {} ({:.1f} MB copied in {:.0f} ms; the "
               "database itself is not touched)\n",
               direction_name(plan.direction), show(plan.from), show(plan.to), g.db,
               static_cast<double>(copy_bytes) / 1e6, copy_ms);
    if (plan.steps.empty()) {
        fmt::print("nothing to do: {} is at {}\n", g.db, show(plan.from));
        return Status::ok();
    }
    for (const auto& s : report.steps) {
        fmt::print("\n== {} {}: ok, {:.1f} ms, {} row(s) affected\n", direction_name(s.direction), s.revision,
                   s.duration_ms, s.rows_affected);
        print_sql(s.sql);
        print_diff(rh.schema_diff[s.revision]);
        print_blob_stats(s.blobs, rh.checks[s.revision]);
    }
    if (!st && !report.failed_revision.empty()) {
        fmt::print("\n== {} {}: FAILED\n", direction_name(plan.direction), report.failed_revision);
        print_sql(report.failed_sql);
        print_blob_stats(report.failed_blobs, rh.checks[report.failed_revision]);
        fmt::print("   error: {}\n", st.message());
    }
    fmt::print("\n");
    if (st) {
        fmt::print("result: the real run would succeed and leave the database at {} ({} revision(s))\n",
                   show(report.reached), report.steps.size());
        fmt::print("estimate for the real run: about {:.0f} ms of migration work (measured here on "
                   "the copy; dry run total {:.0f} ms)\n",
                   steps_ms, ms_since(t_all));
        if (schema_invalid > 0)
            log_warn("{} migrated value(s) do not match their model's frozen JSON Schema (listed "
                     "above): the migration would succeed, but the app may not read them",
                     schema_invalid);
    } else {
        if (report.failed_revision.empty())
            fmt::print("result: the real run would FAIL ({}): {}\n", code_name(st.code()), st.message());
        else
            fmt::print("result: the real run would FAIL at {} and roll back ({})\n",
                       show(report.failed_revision), code_name(st.code()));
    }
    return st;
}

}  // namespace migrator
