#include "plugin_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>


#include "log.h"
#include "migrator/plugin_api.h"

namespace migrator {
namespace {

// File layout (native byte order; the marker rejects a file from another byte order):
//   char     magic[8]       "MIGPLCA\n"
//   u32      format         kFormat
//   u32      note_format    MIG_NOTE_FORMAT_V1 (the note layout the entries were read with)
//   u32      byte_order     0x01020304
//   u32      reserved       0
//   u64      payload_size
//   u64      payload_hash   hash64(payload)
//   payload: str dir, u32 count, count x { str name, u64 dev, ino, size, i64 mtime_ns,
//            ctime_ns, u32 abi_minor, u64 flags, str revision, parent, checksum, description,
//            u32 nblobs, nblobs x { str table, column, model } }
//   str = u32 length + bytes
constexpr char kMagic[8] = {'M', 'I', 'G', 'P', 'L', 'C', 'A', '\n'};
// 2: blob migrations added to the entries (a format-1 cache lost them: the loader then
// refused every blob revision served from the cache).
constexpr std::uint32_t kFormat = 2;
constexpr std::uint32_t kMaxBlobs = 4096;
constexpr std::uint32_t kByteOrder = 0x01020304u;
constexpr std::size_t kHeaderSize = 8 + 4 * 4 + 8 + 8;
constexpr std::uint64_t kMaxFileSize = 64ull << 20;  // far above any real plugin set
constexpr std::uint32_t kMaxString = 1u << 20;

// Integrity check against truncation and bit rot (not against an attacker: whoever can write
// the cache file is trusted as much as whoever can write the database next to it).
std::uint64_t hash64(const char* p, std::size_t n) {
    constexpr std::uint64_t k1 = 0x9E3779B185EBCA87ull, k2 = 0xC2B2AE3D27D4EB4Full;
    std::uint64_t h = 0x27D4EB2F165667C5ull ^ (n * k1);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        h ^= w * k2;
        h = ((h << 31) | (h >> 33)) * k1;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    h ^= tail * k2;
    h ^= h >> 33;
    h *= k2;
    h ^= h >> 29;
    h *= k1;
    h ^= h >> 32;
    return h;
}

class Writer {
public:
    template <class T>
    void put(T v) {
        buf_.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void str(const std::string& s) {
        put(static_cast<std::uint32_t>(s.size()));
        buf_.append(s);
    }
    std::string& buf() { return buf_; }

private:
    std::string buf_;
};

class Reader {
public:
    Reader(const char* p, std::size_t n) : p_(p), n_(n) {}
    template <class T>
    bool get(T& v) {
        if (n_ - pos_ < sizeof v) return false;
        std::memcpy(&v, p_ + pos_, sizeof v);
        pos_ += sizeof v;
        return true;
    }
    bool str(std::string& s) {
        std::uint32_t len = 0;
        if (!get(len) || len > kMaxString || n_ - pos_ < len) return false;
        s.assign(p_ + pos_, len);
        pos_ += len;
        return true;
    }
    bool at_end() const { return pos_ == n_; }
    std::size_t remaining() const { return n_ - pos_; }

private:
    const char* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
};

bool read_blobs(Reader& r, std::vector<BlobMeta>& out) {
    std::uint32_t n = 0;
    if (!r.get(n) || n > kMaxBlobs) return false;
    out.resize(n);
    for (auto& b : out)
        if (!(r.str(b.table) && r.str(b.column) && r.str(b.model))) return false;
    return true;
}

}  // namespace

PluginCache::PluginCache(std::string path, std::string dir) : path_(std::move(path)), dir_(std::move(dir)) {}

std::string PluginCache::path_for_db(const std::string& db) {
    if (db.empty()) return {};
    struct stat st {};
    if (::stat(db.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
    return db + ".plugin-cache";
}

bool PluginCache::load() {
    loaded_.clear();
    if (path_.empty()) return false;
    std::string data;
    if (!read_sidecar(path_, kHeaderSize, kMaxFileSize, data)) return false;

    Reader hdr(data.data(), kHeaderSize);
    char magic[8];
    std::uint32_t format = 0, note_format = 0, byte_order = 0, reserved = 0;
    std::uint64_t payload_size = 0, payload_hash = 0;
    bool ok = hdr.get(magic) && hdr.get(format) && hdr.get(note_format) && hdr.get(byte_order) &&
         hdr.get(reserved) && hdr.get(payload_size) && hdr.get(payload_hash) &&
         std::memcmp(magic, kMagic, sizeof magic) == 0 && format == kFormat &&
         note_format == MIG_NOTE_FORMAT_V1 && byte_order == kByteOrder && reserved == 0 &&
         payload_size == data.size() - kHeaderSize &&
         hash64(data.data() + kHeaderSize, static_cast<std::size_t>(payload_size)) == payload_hash;
    if (!ok) {
        log_debug("plugin cache '{}': foreign, truncated or corrupt; ignored", path_);
        return false;
    }

    Reader r(data.data() + kHeaderSize, static_cast<std::size_t>(payload_size));
    std::string dir;
    std::uint32_t count = 0;
    if (!r.str(dir) || dir != dir_ || !r.get(count) || count > r.remaining() / 64) {
        log_debug("plugin cache '{}': for another plugin directory or malformed; ignored", path_);
        return false;
    }
    std::unordered_map<std::string, Entry> entries;
    entries.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::string name;
        Entry e;
        if (!(r.str(name) && r.get(e.key.dev) && r.get(e.key.ino) && r.get(e.key.size) &&
              r.get(e.key.mtime_ns) && r.get(e.key.ctime_ns) && r.get(e.meta.abi_minor) &&
              r.get(e.meta.flags) && r.str(e.meta.revision) && r.str(e.meta.parent) &&
              r.str(e.meta.checksum) && r.str(e.meta.description) && read_blobs(r, e.meta.blobs)) ||
            !entries.emplace(std::move(name), std::move(e)).second) {
            log_debug("plugin cache '{}': malformed entry; ignored", path_);
            return false;
        }
    }
    if (!r.at_end()) return false;
    loaded_ = std::move(entries);
    return true;
}

const PluginMeta* PluginCache::lookup(const std::string& name, const FileKey& key) {
    auto it = loaded_.find(name);
    if (it == loaded_.end() || !(it->second.key == key)) return nullptr;
    it->second.used = true;
    ++hits_;
    return &it->second.meta;
}

void PluginCache::store(const std::string& name, const FileKey& key, const PluginMeta& meta,
                        std::int64_t now_ns) {
    if (!settled(key, now_ns)) return;
    Entry e;
    e.key = key;
    e.meta = meta;
    e.meta.file.clear();
    next_[name] = std::move(e);
}

bool PluginCache::save() {
    if (path_.empty()) return true;
    if (next_.empty() && hits_ == loaded_.size()) return true;  // unchanged

    Writer w;
    w.buf().append(kHeaderSize, '\0');
    w.str(dir_);
    std::uint32_t count = 0;
    for (const auto& [name, e] : loaded_) count += e.used && !next_.count(name);
    count += static_cast<std::uint32_t>(next_.size());
    w.put(count);
    auto put_entry = [&w](const std::string& name, const Entry& e) {
        w.str(name);
        w.put(e.key.dev);
        w.put(e.key.ino);
        w.put(e.key.size);
        w.put(e.key.mtime_ns);
        w.put(e.key.ctime_ns);
        w.put(e.meta.abi_minor);
        w.put(e.meta.flags);
        w.str(e.meta.revision);
        w.str(e.meta.parent);
        w.str(e.meta.checksum);
        w.str(e.meta.description);
        w.put(static_cast<std::uint32_t>(e.meta.blobs.size()));
        for (const auto& b : e.meta.blobs) {
            w.str(b.table);
            w.str(b.column);
            w.str(b.model);
        }
    };
    for (const auto& [name, e] : loaded_)
        if (e.used && !next_.count(name)) put_entry(name, e);
    for (const auto& [name, e] : next_) put_entry(name, e);

    std::string& buf = w.buf();
    const std::uint64_t payload_size = buf.size() - kHeaderSize;
    const std::uint64_t payload_hash = hash64(buf.data() + kHeaderSize, buf.size() - kHeaderSize);
    char* h = buf.data();
    std::memcpy(h, kMagic, 8);
    std::uint32_t fields[4] = {kFormat, MIG_NOTE_FORMAT_V1, kByteOrder, 0};
    std::memcpy(h + 8, fields, sizeof fields);
    std::memcpy(h + 24, &payload_size, 8);
    std::memcpy(h + 32, &payload_hash, 8);

    if (!replace_sidecar(path_, buf)) return false;
    log_debug("plugin cache '{}': saved {} entries", path_, count);
    return true;
}

}  // namespace migrator
