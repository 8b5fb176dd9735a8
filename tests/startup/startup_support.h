// Helpers for the `migrator start` suite: fixture sets, a workspace (DB + plugin directory +
// events file), running the binary (through the shell, or fork/exec with a dropped user, a
// file-size limit, or many at once), reading SQLite files and JSON.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <sqlite3.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.h"

namespace startup {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

// The revisions of every full fixture set, in chain order.
inline const char* const kBase = "s0001_base";
inline const char* const kChange = "s0002_change";
inline const char* const kHead = "s0003_tail";

// Single-quotes `s` for /bin/sh.
inline std::string q(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}
inline std::string q(const fs::path& p) { return q(p.string()); }

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A short, printable digest of bytes (size + FNV-1a 64), so "byte-identical" failures read well.
inline std::string digest(const std::string& bytes) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%zu bytes, fnv1a64 %016llx", bytes.size(), static_cast<unsigned long long>(h));
    return buf;
}
inline std::string file_digest(const fs::path& p) { return digest(testing::read_file(p)); }

inline unsigned mode_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return static_cast<unsigned>(st.st_mode & 07777);
}

// The .so files of one fixture set (built into fixture-plugins/startup/<set>).
inline std::vector<fs::path> fixture_set(const std::string& set) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(STARTUP_FIXTURE_DIR) / set))
        if (e.path().extension() == ".so") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    if (out.empty()) throw std::runtime_error("fixture set '" + set + "' has no plugins");
    return out;
}

// A crashing plugin must not leave core files behind or slow the suite down writing them.
inline void no_core_dumps() {
    struct rlimit rl {0, 0};
    ::setrlimit(RLIMIT_CORE, &rl);
}

// A raw SQLite connection for the test's own reads and writes.
class Sqlite {
public:
    explicit Sqlite(const fs::path& p, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(p.c_str(), &raw, flags, nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK)
            throw std::runtime_error("cannot open " + p.string() + ": " + sqlite3_errstr(rc));
        sqlite3_busy_timeout(raw, 5000);
        sqlite3_extended_result_codes(raw, 1);
    }
    sqlite3* get() const { return db_.get(); }

    void exec(const std::string& sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            throw std::runtime_error(msg + " (while running: " + sql + ")");
        }
    }

    // All rows of a query, each cell tagged with its storage class: "i:1", "t:x", "null", ...
    Rows rows(const std::string& sql) {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
        std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> s(raw, sqlite3_finalize);
        if (rc != SQLITE_OK)
            throw std::runtime_error(std::string(sqlite3_errmsg(db_.get())) + " (preparing: " + sql + ")");
        Rows out;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int c = 0; c < sqlite3_column_count(s.get()); ++c) {
                switch (sqlite3_column_type(s.get(), c)) {
                    case SQLITE_INTEGER: row.push_back("i:" + std::to_string(sqlite3_column_int64(s.get(), c))); break;
                    case SQLITE_FLOAT: row.push_back("r:" + std::to_string(sqlite3_column_double(s.get(), c))); break;
                    case SQLITE_TEXT: {
                        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), c));
                        row.push_back("t:" + std::string(p, static_cast<size_t>(sqlite3_column_bytes(s.get(), c))));
                        break;
                    }
                    case SQLITE_BLOB: row.push_back("b:" + std::to_string(sqlite3_column_bytes(s.get(), c)) + " bytes"); break;
                    default: row.emplace_back("null"); break;
                }
            }
            out.push_back(std::move(row));
        }
        if (rc != SQLITE_DONE)
            throw std::runtime_error(std::string(sqlite3_errmsg(db_.get())) + " (running: " + sql + ")");
        return out;
    }
    // First column of the first row as text ("" for no row or NULL).
    std::string text(const std::string& sql) {
        auto r = rows(sql);
        if (r.empty() || r[0].empty() || r[0][0] == "null") return "";
        return r[0][0].substr(r[0][0].find(':') + 1);
    }
    std::int64_t integer(const std::string& sql) {
        auto r = rows(sql);
        if (r.empty() || r[0].empty() || r[0][0].rfind("i:", 0) != 0)
            throw std::runtime_error("no integer from: " + sql);
        return std::stoll(r[0][0].substr(2));
    }
    bool has_table(const std::string& name) {
        return integer("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + name + "'") == 1;
    }

private:
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_{nullptr, sqlite3_close_v2};
};

// The revision recorded in a DB file ("" = base or no bookkeeping).
inline std::string recorded_revision(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    if (!s.has_table("migrator_version")) return "";
    return s.text("SELECT revision FROM migrator_version WHERE id = 1");
}

// The app's rows in `item`, in id order.
inline Rows item_rows(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    return s.rows("SELECT id, name, note FROM item ORDER BY id");
}

// A parsed JSON document that owns its parser (movable; elements stay valid while it lives).
class Json {
public:
    explicit Json(const std::string& text)
        : parser_(std::make_unique<simdjson::dom::parser>()), buf_(text) {
        root_ = parser_->parse(buf_);  // throws simdjson_error on invalid JSON
    }
    simdjson::dom::element root() const { return root_; }
    simdjson::dom::element operator[](const char* key) const { return root_[key]; }
    bool has(const char* key) const { return root_[key].error() == simdjson::SUCCESS; }

private:
    std::unique_ptr<simdjson::dom::parser> parser_;
    simdjson::padded_string buf_;
    simdjson::dom::element root_;
};

inline std::string str(simdjson::dom::element e) { return std::string(std::string_view(e)); }

// Every line of a JSON-lines file, parsed (throws on a line that is not JSON).
inline std::vector<Json> read_events(const fs::path& p) {
    std::vector<Json> out;
    std::string all = testing::read_file(p), line;
    size_t pos = 0;
    while (pos < all.size()) {
        size_t nl = all.find('\n', pos);
        if (nl == std::string::npos) throw std::runtime_error("events file ends without a newline");
        out.emplace_back(all.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}
inline std::vector<std::string> event_names(const std::vector<Json>& ev) {
    std::vector<std::string> out;
    for (const auto& e : ev) out.push_back(str(e["event"]));
    return out;
}
// The events named `name`.
inline std::vector<const Json*> events_named(const std::vector<Json>& ev, const std::string& name) {
    std::vector<const Json*> out;
    for (const auto& e : ev)
        if (str(e["event"]) == name) out.push_back(&e);
    return out;
}

// Runs argv[0] = MIGRATOR_BIN with `args` via fork/exec, stdout/stderr to files. Options: run
// as another user (root only), a file-size limit (a full disk), SIGXFSZ ignored.
struct SpawnOptions {
    std::optional<uid_t> uid;          // drop to this uid/gid (needs root)
    std::optional<rlim_t> fsize_limit; // RLIMIT_FSIZE in bytes, with SIGXFSZ ignored
    std::string bin;                   // the binary to run; "" = MIGRATOR_BIN
};

class Spawned {
public:
    Spawned(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
            const SpawnOptions& o = {}, int gate_fd = -1, int close_fd = -1) {
        std::vector<std::string> all{o.bin.empty() ? std::string(MIGRATOR_BIN) : o.bin};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string out_s = out.string(), err_s = err.string();
        std::fflush(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            // Async-signal-safe calls only from here on.
            if (close_fd >= 0) ::close(close_fd);
            if (gate_fd >= 0) {  // wait until the parent closes the other end: all start at once
                char c;
                while (::read(gate_fd, &c, 1) < 0 && errno == EINTR) {
                }
                ::close(gate_fd);
            }
            int in = ::open("/dev/null", O_RDONLY);
            int fo = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
            int fe = ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
            if (in < 0 || fo < 0 || fe < 0) ::_exit(125);
            ::dup2(in, 0);
            ::dup2(fo, 1);
            ::dup2(fe, 2);
            if (o.fsize_limit) {
                ::signal(SIGXFSZ, SIG_IGN);
                struct rlimit rl {*o.fsize_limit, *o.fsize_limit};
                if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(125);
            }
            if (o.uid) {
                const gid_t gid = static_cast<gid_t>(*o.uid);
                if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(*o.uid) != 0) ::_exit(125);
            }
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    // Waits; the exit code, or 128 + signal.
    int wait() {
        int ws = 0;
        while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }

private:
    pid_t pid_ = -1;
};

inline testing::RunResult spawn_migrator(const std::vector<std::string>& args, const SpawnOptions& o) {
    testing::TempDir tmp;
    ::chmod(tmp.path().c_str(), 0777);  // writable for a dropped user too
    fs::path out = tmp / "out", err = tmp / "err";
    SpawnOptions opts = o;
    if (opts.uid && opts.bin.empty()) {
        // The build tree may sit below a directory the dropped user cannot enter (a CI clone
        // in a 0700 temp dir): run a copy it can reach.
        const fs::path copy = tmp / "migrator";
        fs::copy_file(MIGRATOR_BIN, copy);
        ::chmod(copy.c_str(), 0755);
        opts.bin = copy.string();
    }
    Spawned p(args, out, err, opts);
    testing::RunResult r;
    r.exit_code = p.wait();
    r.out = testing::read_file(out);
    r.err = testing::read_file(err);
    return r;
}

// A scratch directory: DB path, plugin directory (a copy of a fixture set), events file.
struct Workspace {
    testing::TempDir tmp;
    fs::path db = tmp / "app.db";
    fs::path plugins = tmp / "plugins";
    fs::path events = tmp / "events.jsonl";

    explicit Workspace(const std::string& set) {
        no_core_dumps();
        testing::install_plugins(plugins, fixture_set(set));
    }
    void set_plugins(const std::string& set) {
        std::error_code ec;
        fs::remove_all(plugins, ec);
        testing::install_plugins(plugins, fixture_set(set));
    }
    fs::path backup_dir() const { return fs::path(db.string() + ".backups"); }
    std::string bytes() const { return file_digest(db); }

    // `migrator --db DB --plugins DIR <args>`.
    testing::RunResult run(const std::string& args) const {
        return testing::run_migrator("--db " + q(db) + " --plugins " + q(plugins) + " " + args);
    }
    // `migrator --db DB --plugins DIR --events EVENTS start <extra>`.
    testing::RunResult start(const std::string& extra = "") const {
        return run("--events " + q(events) + " start" + (extra.empty() ? "" : " ") + extra);
    }
    std::vector<std::string> start_argv(const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> a{"--db", db.string(), "--plugins", plugins.string(), "--events",
                                   events.string(), "start"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    // The files in the backup directory, sorted (empty when it does not exist).
    std::vector<fs::path> backups() const {
        std::vector<fs::path> out;
        std::error_code ec;
        if (!fs::exists(backup_dir(), ec)) return out;
        for (const auto& e : fs::directory_iterator(backup_dir())) out.push_back(e.path());
        std::sort(out.begin(), out.end());
        return out;
    }
    // Files next to the DB besides the ones every run may leave (lock, plugin cache, events).
    std::vector<std::string> stray_files() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(tmp.path())) {
            const std::string n = e.path().filename().string();
            if (n == "app.db" || n == "plugins" || n == "events.jsonl" || n == "app.db.migrator-lock" ||
                n == "app.db.plugin-cache" || n == "app.db.plugin-archive")
                continue;
            out.push_back(n);
        }
        std::sort(out.begin(), out.end());
        return out;
    }
};

// Rows the app wrote at s0001_base: ids with gaps, UTF-8, quotes, a NULL; two share a name.
inline const char* const kOldRowsSql = R"sql(
INSERT INTO item(id, name, note) VALUES
    (1, 'alpha', 'first row'),
    (2, 'beta ✓', NULL),
    (7, 'alpha', 'duplicate name of row 1'),
    (40, 'it''s "quoted"', 'line one
line two');
)sql";
inline Rows old_rows() {
    return {{"i:1", "t:alpha", "t:first row"},
            {"i:2", "t:beta ✓", "null"},
            {"i:7", "t:alpha", "t:duplicate name of row 1"},
            {"i:40", "t:it's \"quoted\"", "t:line one\nline two"}};
}

// Brings the workspace DB to s0001_base with the set's own plugins and writes the old rows.
inline void make_populated_db_at_base(const Workspace& w) {
    auto r = w.run("up --to s0001_base");
    if (r.exit_code != 0) throw std::runtime_error("setup: up --to s0001_base failed: " + r.err);
    Sqlite s(w.db);
    s.exec(kOldRowsSql);
}

// Deterministic bytes that are not an SQLite database.
inline std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(gen() & 0xff);
    return out;
}

}  // namespace startup
