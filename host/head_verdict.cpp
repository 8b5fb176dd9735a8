#include "head_verdict.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <simdjson.h>

#include "json_out.h"
#include "log.h"
#include "version.h"

namespace migrator {
namespace {

constexpr const char* kFormat = "migrator-head-verdict/1";
constexpr std::size_t kMaxVerdictSize = 64 * 1024;

std::string text_of(const FileKey& k) {
    return fmt::format("{}:{}:{}:{}:{}", k.dev, k.ino, k.size, k.mtime_ns, k.ctime_ns);
}

bool stat_key(const std::string& path, FileKey& out) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    out = FileKey::of(st);
    return true;
}

// Filesystems whose timestamps come from another machine's clock: a skewed clock makes
// settled() meaningless there. (FUSE is not listed: AppImage-style read-only mounts of a
// shipped app are FUSE, and local.)
bool on_network_fs(const std::string& path) {
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) != 0) return true;
    switch (static_cast<unsigned long>(fs.f_type)) {
        case 0x6969UL:      // NFS
        case 0x517BUL:      // SMB
        case 0xFF534D42UL:  // CIFS
        case 0xFE534D42UL:  // SMB2
        case 0x01021997UL:  // 9P
        case 0x00C36400UL:  // Ceph
        case 0x5346414FUL:  // AFS
        case 0x73757245UL:  // Coda
            return true;
        default:
            return false;
    }
}

}  // namespace

PluginSetKey PluginSetKey::capture(const std::string& plugins_dir, bool require_manifest) {
    PluginSetKey k;
    k.plugins_dir = plugins_dir;
    k.require_manifest = require_manifest;
    k.captured_ns = realtime_ns();
    if (plugins_dir.empty()) return k;
    // A manifest that cannot be stat()ed for another reason than absence is left to the full
    // path to report: the key stays unusable.
    struct stat st {};
    const std::string manifest = plugins_dir + "/MANIFEST.json";
    bool manifest_ok = ::stat(manifest.c_str(), &st) == 0 ? (k.manifest = FileKey::of(st), true)
                                                           : errno == ENOENT;
    // Readable by this process as it runs now (groups change between runs, the key does not).
    k.usable = manifest_ok && stat_key(plugins_dir, k.dir) && stat_key("/proc/self/exe", k.exe) &&
               ::faccessat(AT_FDCWD, plugins_dir.c_str(), R_OK | X_OK, AT_EACCESS) == 0;
    return k;
}

std::string PluginSetKey::text() const {
    return fmt::format("host {} | dir {} | manifest {} | exe {} | require-manifest {}", kVersion,
                       text_of(dir), text_of(manifest), text_of(exe), require_manifest ? 1 : 0);
}

bool PluginSetKey::settled(std::int64_t now_ns) const {
    return migrator::settled(dir, now_ns) && migrator::settled(exe, now_ns) &&
           (manifest == FileKey{} || migrator::settled(manifest, now_ns));
}

Status DbMark::read(Db& db, DbMark& out) {
    out = DbMark{};
    std::optional<std::string> cur;
    MIG_TRY(db.query_text("SELECT revision FROM migrator_version WHERE id = 1", cur));
    if (!cur) return {Code::db_error, "no current revision recorded"};
    out.revision = *cur;
    // Every row read_state reads, in one buffer: no allocation per row.
    Stmt s;
    MIG_TRY(db.prepare("SELECT revision, checksum FROM migrator_applied ORDER BY rowid", s));
    std::string rows;
    Status st;
    while (s.step(st)) {
        for (int c = 0; c < 2; ++c) {
            const auto* p = sqlite3_column_text(s.get(), c);
            rows.append(p ? reinterpret_cast<const char*>(p) : "", static_cast<std::size_t>(sqlite3_column_bytes(s.get(), c)));
            rows.push_back('\0');
        }
        ++out.applied_rows;
    }
    MIG_TRY(st);
    // std::hash is only stable within one executable, which is all a verdict needs: the
    // executable's identity is part of its key.
    out.applied_digest = fmt::format("{:016x}:{}", std::hash<std::string_view>{}(rows), rows.size());
    return Status::ok();
}

std::string DbMark::text() const {
    return fmt::format("{}:{}:{}", revision, applied_rows, applied_digest);
}

std::string HeadVerdict::path_for_db(const std::string& db) {
    if (db.empty() || db == ":memory:") return {};
    return db + ".head-verdict";
}

bool HeadVerdict::load(const std::string& db, const PluginSetKey& key) {
    head_.clear();
    mark_.clear();
    std::string data;
    if (!key.usable || !read_sidecar(path_for_db(db), 2, kMaxVerdictSize, data)) return false;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view format, plugins, head, mark;
    if (parser.parse(data).get(doc) || doc["format"].get(format) || format != kFormat ||
        doc["plugin_set"].get(plugins) || doc["head"].get(head) || doc["db"].get(mark) ||
        head.empty()) {
        log_debug("head verdict '{}': not readable; the full start-up runs", path_for_db(db));
        return false;
    }
    if (plugins != key.text()) {
        log_debug("head verdict '{}': made for another plugin set, host or option", path_for_db(db));
        return false;
    }
    head_ = head;
    mark_ = mark;
    return true;
}

bool HeadVerdict::holds(const DbMark& mark) const {
    return !head_.empty() && mark.revision == head_ && mark.text() == mark_;
}

void HeadVerdict::save(const std::string& db_path, const PluginSetKey& key, const Chain& chain, Db& db) {
    const std::string path = path_for_db(db_path);
    if (path.empty() || !key.usable || chain.revisions().empty()) return;
    // Asked here, not at capture: only a run that stores a verdict needs it (one statfs less
    // on every start-up).
    if (on_network_fs(key.plugins_dir)) {
        log_debug("head verdict not stored: the plugin directory is on a network filesystem");
        return;
    }
    if (!key.settled(key.captured_ns)) {
        log_debug("head verdict not stored: the plugin directory, its manifest or the host "
                  "had changed less than a timestamp tick before this run read them");
        return;
    }
    // The run read the directory after `key` was taken: it must still be the same set.
    if (PluginSetKey::capture(key.plugins_dir, key.require_manifest).text() != key.text()) {
        log_debug("head verdict not stored: the plugin directory changed during the run");
        return;
    }
    DbMark mark;
    if (!DbMark::read(db, mark)) return;
    if (mark.revision != chain.head()) return;
    JsonOut j;
    j.begin_object()
        .field("format", kFormat)
        .field("plugin_set", key.text())
        .field("db", mark.text())
        .field("head", chain.head())
        .end_object();
    if (replace_sidecar(path, j.str() + "\n"))
        log_debug("head verdict '{}': stored for head {}", path, chain.head());
}

}  // namespace migrator
