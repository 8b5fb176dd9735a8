#include "head_verdict.h"

#include <sys/stat.h>

#include <cerrno>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "json_out.h"
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

}  // namespace

PluginSetKey PluginSetKey::capture(const std::string& plugins_dir, bool require_manifest) {
    PluginSetKey k;
    k.plugins_dir = plugins_dir;
    k.require_manifest = require_manifest;
    if (plugins_dir.empty()) return k;
    // A manifest that cannot be stat()ed for another reason than absence is left to the full
    // path to report: the key stays unusable.
    struct stat st {};
    const std::string manifest = plugins_dir + "/MANIFEST.json";
    bool manifest_ok = ::stat(manifest.c_str(), &st) == 0 ? (k.manifest = FileKey::of(st), true)
                                                           : errno == ENOENT;
    k.usable = manifest_ok && stat_key(plugins_dir, k.dir) && stat_key("/proc/self/exe", k.exe);
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

Status DbMark::read(Db& db, const std::string& path, DbMark& out) {
    out = DbMark{};
    FileKey k;
    if (!stat_key(path, k)) return {Code::db_error, fmt::format("cannot stat '{}'", path)};
    out.dev = k.dev;
    out.ino = k.ino;
    Stmt s;
    MIG_TRY(db.prepare("SELECT v.revision, coalesce(a.checksum, ''), "
                       "(SELECT coalesce(max(id), 0) FROM migrator_history) "
                       "FROM migrator_version v LEFT JOIN migrator_applied a ON a.revision = v.revision "
                       "WHERE v.id = 1",
                       s));
    Status st;
    if (!s.step(st)) return st ? Status{Code::db_error, "no current revision recorded"} : st;
    out.revision = s.text(0);
    out.checksum = s.text(1);
    out.last_history_id = s.int64(2);
    return Status::ok();
}

std::string DbMark::text() const {
    // Revision ids cannot hold ':', so the checksum's own ':' keep the text unambiguous.
    return fmt::format("{}:{}:{}:{}:{}", dev, ino, last_history_id, revision, checksum);
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
        spdlog::debug("head verdict '{}': not readable; the full start-up runs", path_for_db(db));
        return false;
    }
    if (plugins != key.text()) {
        spdlog::debug("head verdict '{}': made for another plugin set, host or option", path_for_db(db));
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
    if (!key.settled(realtime_ns())) {
        spdlog::debug("head verdict not stored: the plugin directory, its manifest or the host "
                      "changed less than a timestamp tick ago");
        return;
    }
    // The run read the directory after `key` was taken: it must still be the same set.
    if (PluginSetKey::capture(key.plugins_dir, key.require_manifest).text() != key.text()) {
        spdlog::debug("head verdict not stored: the plugin directory changed during the run");
        return;
    }
    DbMark mark;
    if (!DbMark::read(db, db_path, mark)) return;
    const PluginMeta& head = chain.revisions().back();
    if (mark.revision != head.revision || mark.checksum != head.checksum) return;
    JsonOut j;
    j.begin_object()
        .field("format", kFormat)
        .field("plugin_set", key.text())
        .field("db", mark.text())
        .field("head", head.revision)
        .end_object();
    if (replace_sidecar(path, j.str() + "\n"))
        spdlog::debug("head verdict '{}': stored for head {}", path, head.revision);
}

}  // namespace migrator
