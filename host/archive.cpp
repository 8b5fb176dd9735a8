#include "archive.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "discover.h"
#include "log.h"
#include "sha256.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

// Two lists of the archived files, both rewritten on every change:
// - MANIFEST: "name size fnv1a64-hex" lines, the format hosts before the SHA-256 list read
//   (an app downgrade may bring such a host back, and it must still be able to revert);
// - MANIFEST.sha256: "name size sha256-hex" lines, what this host checks.
// An archive written by an older host has MANIFEST only: its entries are checked by FNV-1a
// (corruption only) and get their SHA-256 on the next archiving run.
constexpr const char* kManifest = "MANIFEST";
constexpr const char* kManifestSha = "MANIFEST.sha256";

struct Entry {
    std::uint64_t size = 0;
    std::uint64_t fnv = 0;
    std::string sha256;  // "" for an entry of an older host's archive
};

std::uint64_t fnv1a64(const std::string& bytes) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

// Size, FNV-1a and SHA-256 of one file, read once. Without a usable libcrypto the SHA-256
// stays "" (filled in by a later run) rather than leaving the plugin unarchived: loading it
// from the archive verifies it again anyway, and refuses it while SHA-256 is unavailable.
bool content_hash(const fs::path& p, Entry& e) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    if (Status st = sha256_hex(bytes, e.sha256); !st) {
        log_warn("plugin archive: {} ('{}' is listed by FNV-1a only for now)", st.message(), p.string());
        e.sha256.clear();
    }
    e.size = bytes.size();
    e.fnv = fnv1a64(bytes);
    return true;
}

std::map<std::string, Entry> read_manifest(const fs::path& dir) {
    std::map<std::string, Entry> m;
    {
        std::ifstream in(dir / kManifest);
        std::string name;
        Entry e;
        while (in >> name >> e.size >> std::hex >> e.fnv >> std::dec) m[name] = e;
    }
    std::ifstream in(dir / kManifestSha);
    std::string name, sha;
    std::uint64_t size = 0;
    while (in >> name >> size >> sha) {
        Entry& e = m[name];
        e.size = size;
        e.sha256 = sha;
    }
    return m;
}

// Whether `file` is the archived copy `want` describes: by SHA-256 when the archive has it,
// by FNV-1a for an older host's entry. `got` receives the file's hashes either way.
bool matches(const fs::path& file, const Entry& want, Entry& got) {
    if (!content_hash(file, got) || got.size != want.size) return false;
    return want.sha256.empty() || got.sha256.empty() ? got.fnv == want.fnv : got.sha256 == want.sha256;
}

void write_list(const fs::path& dir, const char* name, const std::map<std::string, Entry>& manifest, bool sha) {
    const fs::path tmp = dir / (std::string(name) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (const auto& [file, e] : manifest) {
            if (sha && e.sha256.empty()) continue;
            out << file << ' ' << e.size << ' ';
            if (sha) out << e.sha256;
            else out << std::hex << e.fnv << std::dec;
            out << '\n';
        }
    }
    ::chmod(tmp.c_str(), 0600);
    std::error_code ec;
    fs::rename(tmp, dir / name, ec);
}

}  // namespace

std::string archive_dir_for(const std::string& db_path) { return db_path + ".plugin-archive"; }

void archive_plugins(const std::string& db_path, const std::vector<const PluginMeta*>& metas) {
    if (metas.empty() || db_path.empty() || db_path == ":memory:") return;
    const fs::path dir = archive_dir_for(db_path);
    std::error_code ec;
    fs::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
    auto manifest = read_manifest(dir);
    bool changed = false;
    // An older host's entries get their SHA-256 now, if the copy is still the one it archived.
    for (auto& [name, e] : manifest) {
        Entry got;
        if (!e.sha256.empty() || !matches(dir / name, e, got)) continue;
        e.sha256 = got.sha256;
        changed = true;
    }
    for (const auto* m : metas) {
        const fs::path src = m->file, dst = dir / src.filename();
        const std::string name = src.filename().string();
        if (manifest.count(name) && fs::exists(dst, ec)) continue;
        const fs::path tmp = dst.string() + ".tmp";
        fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
        Entry e;
        if (ec || !content_hash(tmp, e)) {
            log_warn("could not archive plugin '{}' in '{}': {}", src.string(), dir.string(),
                     ec ? ec.message() : std::string("cannot read the copy"));
            fs::remove(tmp, ec);
            continue;
        }
        ::chmod(tmp.c_str(), 0600);
        fs::rename(tmp, dst, ec);
        if (ec) continue;
        manifest[name] = e;
        changed = true;
    }
    if (!changed) return;
    write_list(dir, kManifest, manifest, false);
    write_list(dir, kManifestSha, manifest, true);
}

Status extend_with_archive(const std::string& db_path, const std::string& plugins_dir, Chain& chain) {
    const fs::path dir = archive_dir_for(db_path);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::ok();
    std::vector<PluginMeta> archived;
    MIG_TRY(discover(dir.string(), archived).with_context("plugin archive: "));
    const auto manifest = read_manifest(dir);
    std::vector<PluginMeta> all(chain.revisions().begin(), chain.revisions().end());
    size_t added = 0;
    for (auto& m : archived) {
        if (chain.index_of(m.revision) >= 0) continue;  // the app's own plugin wins
        const std::string name = fs::path(m.file).filename().string();
        auto it = manifest.find(name);
        Entry e;
        if (it == manifest.end() || !matches(m.file, it->second, e))
            return {Code::plugin_set_invalid,
                    fmt::format("archived plugin '{}' is not the file that was archived (missing from "
                                "or different from {}/{}); it will not be loaded",
                                m.file, dir.string(), kManifestSha)};
        m.sha256 = e.sha256;  // checked again right before it is loaded (manifest.h)
        all.push_back(std::move(m));
        ++added;
    }
    if (added == 0) return Status::ok();
    Chain extended;
    MIG_TRY(build_chain(std::move(all), extended)
                .with_context(fmt::format("the plugins in '{}' and the archive '{}' do not form one chain: ",
                                          plugins_dir, dir.string())));
    log_info("using {} archived plugin(s) from '{}' for revisions this app no longer ships", added, dir.string());
    chain = std::move(extended);
    return Status::ok();
}

}  // namespace migrator
