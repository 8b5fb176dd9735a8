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

#include "chain_support.h"
#include "test_support.h"

namespace startup {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

// The revisions of every full fixture set, in chain order.
inline const char* const kBase = "s0001_base";
inline const char* const kChange = "s0002_change";
inline const char* const kHead = "s0003_tail";

using chaintest::contains;
using chaintest::digest;
using chaintest::q;
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

// The test's own SQLite connection: the chain suite's (cells tagged with their storage class).
using Sqlite = chaintest::Sqlite;

using chaintest::recorded_revision;

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
                n == "app.db.plugin-cache" || n == "app.db.head-verdict" || n == "app.db.plugin-archive")
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
