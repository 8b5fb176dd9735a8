#include "backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "bookkeeping.h"
#include "db.h"

namespace migrator {
namespace fs = std::filesystem;

namespace {

std::string stamp_name(const std::string& db_path, const std::string& label, const char* ext) {
    // 2026-01-01T00:00:00.123Z -> 20260101T000000123Z: sortable and safe in a file name.
    std::string t;
    for (char c : utc_now())
        if (c != '-' && c != ':' && c != '.') t += c;
    std::string safe;
    for (char c : label) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    return fmt::format("{}.{}.{}{}", fs::path(db_path).filename().string(), t, safe.empty() ? "base" : safe, ext);
}

Status make_dir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return {Code::db_error, fmt::format("cannot create backup directory '{}': {}", dir, ec.message())};
    ::chmod(dir.c_str(), 0700);
    return Status::ok();
}

Status table_counts(Db& db, std::map<std::string, std::int64_t>& out) {
    Stmt s;
    MIG_TRY(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", s));
    Status st;
    std::vector<std::string> names;
    while (s.step(st)) names.push_back(s.text(0));
    MIG_TRY(st);
    for (const auto& n : names) {
        std::string q = "\"";
        for (char c : n) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        std::int64_t c = 0;
        MIG_TRY(db.query_int(fmt::format("SELECT count(*) FROM {}\"", q), c));
        out[n] = c;
    }
    return Status::ok();
}

bool same_bytes(const std::string& a, const std::string& b) {
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    if (!fa || !fb) return false;
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (true) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        if (fa.gcount() != fb.gcount()) return false;
        if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(fa.gcount())) != 0) return false;
        if (fa.gcount() == 0 || !fa) return !fb || fb.gcount() == 0 || fa.eof() == fb.eof();
    }
}

}  // namespace

bool fsync_path(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// Absolute: the path is recorded in the incident, which is read from other directories.
std::string default_backup_dir(const std::string& db_path) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(db_path + ".backups", ec);
    return ec ? db_path + ".backups" : abs.lexically_normal().string();
}

Status backup_verified(const std::string& db_path, const std::string& dir, const std::string& label,
                       BackupResult& out, int busy_ms) {
    out = BackupResult{};
    MIG_TRY(make_dir(dir));
    const std::string path = (fs::path(dir) / stamp_name(db_path, label, ".db")).string();
    Db src, dst;
    MIG_TRY(Db::open(db_path, Db::Mode::read_only, busy_ms, src));
    MIG_TRY(Db::open(path, Db::Mode::create, 5000, dst));
    ::chmod(path.c_str(), 0600);
    sqlite3_backup* b = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
    if (b == nullptr) return dst.error(sqlite3_errcode(dst.get()), "cannot start the backup");
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        std::error_code ec;
        fs::remove(path, ec);
        return {Code::db_error, fmt::format("backup of '{}' to '{}' failed: {}", db_path, path, sqlite3_errstr(rc))};
    }
    // The backup is a plain rollback-journal file on its own, whatever the source's mode.
    MIG_TRY(dst.exec("PRAGMA journal_mode = DELETE"));
    dst = Db{};
    if (!fsync_path(path) || !fsync_path(dir))
        return {Code::db_error, fmt::format("cannot fsync backup '{}': {}", path, std::strerror(errno))};

    Db check;
    MIG_TRY(Db::open(path, Db::Mode::read_only, 5000, check));
    std::optional<std::string> ok;
    MIG_TRY(check.query_text("PRAGMA integrity_check", ok));
    if (ok.value_or("") != "ok")
        return {Code::db_error, fmt::format("backup '{}' fails integrity_check: {}", path, ok.value_or("?"))};
    std::map<std::string, std::int64_t> a, c;
    MIG_TRY(table_counts(src, a));
    MIG_TRY(table_counts(check, c));
    if (a != c) return {Code::db_error, fmt::format("backup '{}' row counts differ from the original", path)};
    out.path = path;
    out.files.push_back(path);
    return Status::ok();
}

Status backup_raw(const std::string& db_path, const std::string& dir, const std::string& label,
                  BackupResult& out) {
    out = BackupResult{};
    out.raw = true;
    MIG_TRY(make_dir(dir));
    const std::string base = (fs::path(dir) / stamp_name(db_path, label, ".raw")).string();
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::string from = db_path + suffix, to = base + suffix;
        std::error_code ec;
        if (!fs::exists(from, ec)) continue;
        fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) return {Code::db_error, fmt::format("cannot copy '{}' to '{}': {}", from, to, ec.message())};
        ::chmod(to.c_str(), 0600);
        if (!fsync_path(to)) return {Code::db_error, fmt::format("cannot fsync '{}'", to)};
        if (!same_bytes(from, to)) return {Code::db_error, fmt::format("copy '{}' does not match '{}'", to, from)};
        out.files.push_back(to);
    }
    if (out.files.empty()) return {Code::db_error, fmt::format("nothing to back up: '{}' does not exist", db_path)};
    fsync_path(dir);
    out.path = out.files.front();
    return Status::ok();
}

namespace {
// The database a backup belongs to, as its incident file records it ("" when unknown).
std::string incident_db(const fs::path& incident) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view db;
    if (parser.load(incident.string()).get(doc) || doc["db"].get(db)) return {};
    // Incident files written before the path was made absolute hold it as given: relative to
    // a working directory nobody knows now, so not attributable (kept, never pruned).
    if (db.empty() || db.front() != '/') return {};
    return std::string(db);
}

std::string canonical_or_absolute(const std::string& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}
}  // namespace

void prune_backups(const std::string& db_path, const std::string& dir, int keep,
                   const std::string& current_backup) {
    const std::string prefix = fs::path(db_path).filename().string() + ".";
    const std::string me = canonical_or_absolute(db_path);
    std::error_code ec;
    // "<timestamp>" -> files; std::map: oldest first (UTC timestamps sort as text).
    std::map<std::string, std::vector<fs::path>> groups;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        std::string rest = name.substr(prefix.size());
        groups[rest.substr(0, rest.find('.'))].push_back(e.path());
    }
    // Only backups this database's own resets made: a --backup-dir shared by several
    // databases holds others' files under the same names, and a backup without its incident
    // file cannot be attributed. The backup just made is never removed.
    std::vector<const std::vector<fs::path>*> ours;
    bool current_seen = false;
    for (const auto& [stamp, files] : groups) {
        bool is_current = false, mine = false;
        for (const auto& f : files) {
            is_current |= !current_backup.empty() && f == fs::path(current_backup);
            const std::string n = f.filename().string();
            if (n.size() > 14 && n.compare(n.size() - 14, 14, ".incident.json") == 0) {
                const std::string db = incident_db(f);
                mine = !db.empty() && canonical_or_absolute(db) == me;
            }
        }
        if (is_current) current_seen = true;
        else if (mine) ours.push_back(&files);
    }
    const std::size_t allowed = static_cast<std::size_t>(std::max(keep, 1) - (current_seen ? 1 : 0));
    for (std::size_t i = 0; i + allowed < ours.size(); ++i)
        for (const auto& f : *ours[i]) fs::remove(f, ec);
}

}  // namespace migrator
