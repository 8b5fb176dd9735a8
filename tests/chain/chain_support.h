// Helpers shared by the chain and CLI suites: plugin sets, running the binary against a DB,
// reading a SQLite file directly, parsing --json output.
#pragma once

#include <sqlite3.h>
#include <simdjson.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "head_verdict.h"
#include "test_support.h"

namespace chaintest {

namespace fs = std::filesystem;

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

// A short, printable digest of a file's bytes (size + FNV-1a 64), for "byte-identical" checks
// whose failure output stays readable.
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

// The .so files of one fixture set (built into fixture-plugins/chain/<set>).
inline std::vector<fs::path> fixture_set(const std::string& set) {
    std::vector<fs::path> out;
    const fs::path dir = fs::path(FIXTURE_PLUGIN_DIR) / "chain" / set;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".so") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    if (out.empty()) throw std::runtime_error("fixture set '" + set + "' has no plugins");
    return out;
}

// The first `n` reference plugins, in chain order.
inline std::vector<fs::path> reference_prefix(size_t n) {
    auto all = testing::reference_plugins();
    if (all.size() < n) throw std::runtime_error("fewer reference plugins than expected");
    all.resize(n);
    return all;
}

// A scratch directory holding a DB path and a plugin directory.
struct Workspace {
    testing::TempDir tmp;
    fs::path db = tmp / "app.db";
    fs::path plugins = tmp / "plugins";

    explicit Workspace(const std::vector<fs::path>& files) { set_plugins(files); }
    // Replaces the plugin directory's content with `files`.
    void set_plugins(const std::vector<fs::path>& files) {
        std::error_code ec;
        fs::remove_all(plugins, ec);
        testing::install_plugins(plugins, files);
    }
    // Runs `migrator --db DB --plugins DIR <args>`.
    testing::RunResult run(const std::string& args, const std::string& extra_global = "") const {
        return testing::run_migrator("--db " + q(db) + " --plugins " + q(plugins) + " " +
                                     extra_global + (extra_global.empty() ? "" : " ") + args);
    }
    // Digest of the DB file's bytes (see digest()).
    std::string bytes() const { return digest(testing::read_file(db)); }
};

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

    // Runs SQL; throws with SQLite's message on failure.
    void exec(const std::string& sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            throw std::runtime_error(msg + " (while running: " + sql + ")");
        }
    }
    // Like exec, but returns SQLite's result code instead of throwing.
    int try_exec(const std::string& sql) {
        return sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
    }

    // All rows of a query, each cell tagged with its storage class so that 1, 1.0 and '1'
    // differ: "i:1", "r:1.0", "t:1", "b:<hex>", "null".
    std::vector<std::vector<std::string>> rows(const std::string& sql) {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
        std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> s(raw, sqlite3_finalize);
        if (rc != SQLITE_OK)
            throw std::runtime_error(std::string(sqlite3_errmsg(db_.get())) + " (preparing: " + sql + ")");
        std::vector<std::vector<std::string>> out;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            std::vector<std::string> row;
            const int n = sqlite3_column_count(s.get());
            for (int c = 0; c < n; ++c) {
                switch (sqlite3_column_type(s.get(), c)) {
                    case SQLITE_INTEGER:
                        row.push_back("i:" + std::to_string(sqlite3_column_int64(s.get(), c)));
                        break;
                    case SQLITE_FLOAT: {
                        char buf[64];
                        std::snprintf(buf, sizeof buf, "r:%.17g", sqlite3_column_double(s.get(), c));
                        row.emplace_back(buf);
                        break;
                    }
                    case SQLITE_TEXT: {
                        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), c));
                        row.push_back("t:" + std::string(p, static_cast<size_t>(sqlite3_column_bytes(s.get(), c))));
                        break;
                    }
                    case SQLITE_BLOB: {
                        const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s.get(), c));
                        std::string hex = "b:";
                        static const char* digits = "0123456789abcdef";
                        for (int i = 0; i < sqlite3_column_bytes(s.get(), c); ++i) {
                            hex += digits[p[i] >> 4];
                            hex += digits[p[i] & 15];
                        }
                        row.push_back(hex);
                        break;
                    }
                    default: row.emplace_back("null"); break;
                }
            }
            out.push_back(std::move(row));
        }
        if (rc != SQLITE_DONE)
            throw std::runtime_error(std::string(sqlite3_errmsg(db_.get())) + " (running: " + sql + ")");
        return out;
    }

    // First column of the first row as text ("" when there is no row or it is NULL).
    std::string text(const std::string& sql) {
        auto r = rows(sql);
        if (r.empty() || r[0].empty() || r[0][0] == "null") return "";
        const std::string& v = r[0][0];
        return v.substr(v.find(':') + 1);
    }
    std::int64_t integer(const std::string& sql) {
        auto r = rows(sql);
        if (r.empty() || r[0].empty() || r[0][0].rfind("i:", 0) != 0)
            throw std::runtime_error("no integer from: " + sql);
        return std::stoll(r[0][0].substr(2));
    }
    bool has_table(const std::string& name) {
        return integer("SELECT count(*) FROM sqlite_schema WHERE type IN ('table','view') AND name = '" +
                       name + "'") == 1;
    }

private:
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_{nullptr, sqlite3_close_v2};
};

// The revision recorded in the DB's bookkeeping ("" = base or no bookkeeping).
inline std::string recorded_revision(const fs::path& db) {
    Sqlite s(db, SQLITE_OPEN_READONLY);
    if (!s.has_table("migrator_version")) return "";
    return s.text("SELECT revision FROM migrator_version WHERE id = 1");
}

// A parsed JSON document; owns its parser so elements stay valid as long as it lives.
class Json {
public:
    explicit Json(const std::string& text)
        : parser_(std::make_unique<simdjson::dom::parser>()), buf_(text) {
        root_ = parser_->parse(buf_);  // throws simdjson_error on invalid JSON
    }
    simdjson::dom::element root() const { return root_; }

private:
    std::unique_ptr<simdjson::dom::parser> parser_;
    simdjson::padded_string buf_;
    simdjson::dom::element root_;
};

inline std::string str(simdjson::dom::element e) { return std::string(std::string_view(e)); }

// Whether `haystack` contains `needle`.
inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Waits until a head verdict about `plugins` may be stored (head_verdict.h): until the plugin
// directory, its manifest and the migrator binary are older than a timestamp tick. A test
// that copied them just now would otherwise never see a verdict stored.
inline bool wait_until_settled(const fs::path& plugins) {
    for (int i = 0; i < 500; ++i) {
        const auto key = migrator::PluginSetKey::capture(plugins.string(), false);
        struct stat st {};
        const auto now = migrator::realtime_ns();
        if (key.usable && key.settled(now) && ::stat(MIGRATOR_BIN, &st) == 0 &&
            migrator::settled(migrator::FileKey::of(st), now))
            return true;
        struct timespec t {0, 10'000'000};
        nanosleep(&t, nullptr);
    }
    return false;
}

}  // namespace chaintest
