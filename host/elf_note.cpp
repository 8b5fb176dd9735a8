#include "elf_note.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "migrator/plugin_api.h"

namespace migrator {
namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool read_at(int fd, void* buf, size_t n, off_t off) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, off);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
        off += r;
    }
    return true;
}

// The file's first bytes, read once; reads inside them are served from memory.
class Source {
public:
    Source(int fd, uint64_t size) : fd_(fd) {
        head_.resize(static_cast<size_t>(size < kHeadBytes ? size : kHeadBytes));
        ok_ = read_at(fd_, head_.data(), head_.size(), 0);
    }
    bool ok() const { return ok_; }
    bool read(void* buf, size_t n, uint64_t off) const {
        if (off <= head_.size() && n <= head_.size() - off) {
            std::memcpy(buf, head_.data() + off, n);
            return true;
        }
        return read_at(fd_, buf, n, static_cast<off_t>(off));
    }

private:
    static constexpr uint64_t kHeadBytes = 4096;
    int fd_;
    std::vector<char> head_;
    bool ok_ = false;
};

constexpr size_t kMaxPhdrs = 256;
constexpr uint64_t kMaxNoteBytes = 64 * 1024;

Status bad(const std::string& path, const std::string& what) {
    return {Code::plugin_set_invalid, fmt::format("plugin '{}': {}", path, what)};
}

// Splits "rev\0parent\0checksum\0description\0" and the blob triples
// "table\0column\0model\0"... (ended by an empty table name or the end) out of the note.
bool split_strings(const char* p, size_t n, std::string head[4], std::vector<BlobMeta>& blobs) {
    size_t pos = 0;
    auto next = [&](std::string& out) {
        if (pos >= n) return false;
        const void* nul = std::memchr(p + pos, '\0', n - pos);
        if (!nul) return false;
        size_t end = static_cast<size_t>(static_cast<const char*>(nul) - p);
        out.assign(p + pos, end - pos);
        pos = end + 1;
        return true;
    };
    for (int i = 0; i < 4; ++i)
        if (!next(head[i])) return false;
    blobs.clear();
    BlobMeta b;
    while (next(b.table) && !b.table.empty()) {
        if (!next(b.column) || !next(b.model) || b.column.empty()) return false;
        blobs.push_back(b);
    }
    return true;
}

}  // namespace

Status read_plugin_note(const std::string& path, PluginMeta& meta) {
    return read_plugin_note(path, meta, nullptr);
}

Status read_plugin_note(const std::string& path, PluginMeta& meta, struct stat* st_out) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return bad(path, fmt::format("cannot open: {}", std::strerror(errno)));
    struct stat stt {};
    if (::fstat(f.fd, &stt) != 0) return bad(path, "cannot stat");
    if (st_out) *st_out = stt;
    const uint64_t size = static_cast<uint64_t>(stt.st_size);
    Source src(f.fd, size);
    if (!src.ok()) return bad(path, "cannot read");

    Elf64_Ehdr eh{};
    if (size < sizeof eh || !src.read(&eh, sizeof eh, 0) ||
        std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return bad(path, "not an ELF file (rebuild it with migrator_add_plugin, or remove it)");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return bad(path, "not a 64-bit little-endian ELF file; plugins must be built for this host");
    if (eh.e_type != ET_DYN) return bad(path, "not a shared library (ELF type is not ET_DYN)");
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > kMaxPhdrs ||
        eh.e_phoff > size || size - eh.e_phoff < uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr))
        return bad(path, "malformed ELF program header table");

    std::vector<Elf64_Phdr> ph(eh.e_phnum);
    if (!src.read(ph.data(), ph.size() * sizeof(Elf64_Phdr), eh.e_phoff))
        return bad(path, "cannot read ELF program headers");

    int found = 0;
    std::vector<char> buf;
    for (const auto& p : ph) {
        if (p.p_type != PT_NOTE) continue;
        if (p.p_filesz > kMaxNoteBytes || p.p_offset > size || size - p.p_offset < p.p_filesz)
            return bad(path, "malformed ELF note segment");
        buf.resize(p.p_filesz);
        if (!src.read(buf.data(), buf.size(), p.p_offset))
            return bad(path, "cannot read ELF note segment");
        size_t pos = 0;
        while (buf.size() - pos >= sizeof(Elf64_Nhdr)) {
            Elf64_Nhdr nh;
            std::memcpy(&nh, buf.data() + pos, sizeof nh);
            pos += sizeof nh;
            size_t name_sz = (size_t{nh.n_namesz} + 3) & ~size_t{3};
            size_t desc_sz = (size_t{nh.n_descsz} + 3) & ~size_t{3};
            if (name_sz > buf.size() - pos || desc_sz > buf.size() - pos - name_sz) break;
            const char* name = buf.data() + pos;
            const char* desc = name + name_sz;
            pos += name_sz + desc_sz;
            if (nh.n_namesz != sizeof(MIG_NOTE_NAME) ||
                std::memcmp(name, MIG_NOTE_NAME, sizeof(MIG_NOTE_NAME)) != 0)
                continue;
            if (nh.n_type != MIG_NOTE_TYPE_V1)
                return bad(path, fmt::format("metadata note has type {:#x}, this host reads {:#x} "
                                             "(plugin built for another ABI major?)",
                                             nh.n_type, MIG_NOTE_TYPE_V1));
            if (nh.n_descsz < 16) return bad(path, "metadata note is truncated");
            uint32_t head[4];
            std::memcpy(head, desc, sizeof head);
            if (head[0] != MIG_NOTE_FORMAT_V1)
                return bad(path, fmt::format("metadata note format {} is unknown (expected {})",
                                             head[0], MIG_NOTE_FORMAT_V1));
            std::string s[4];
            std::vector<BlobMeta> blobs;
            if (!split_strings(desc + 16, nh.n_descsz - 16, s, blobs))
                return bad(path, "metadata note strings are malformed");
            meta.abi_minor = head[1];
            meta.flags = uint64_t{head[2]} | (uint64_t{head[3]} << 32);
            meta.revision = std::move(s[0]);
            meta.parent = std::move(s[1]);
            meta.checksum = std::move(s[2]);
            meta.description = std::move(s[3]);
            meta.blobs = std::move(blobs);
            ++found;
        }
    }
    if (found == 0)
        return bad(path, "no migrator metadata note (.note.migrator); build the plugin with the "
                         "SDK macro MIGRATOR_PLUGIN and migrator_add_plugin()");
    if (found > 1) return bad(path, "more than one migrator metadata note: one plugin per file");
    return Status::ok();
}

}  // namespace migrator
