#include "archive.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "discover.h"
#include "sha256.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifest = "MANIFEST";

struct Entry {
    std::uint64_t size = 0;
    std::string sha256;
};

bool content_hash(const fs::path& p, Entry& e) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec || !sha256_file(p.string(), e.sha256)) return false;
    e.size = size;
    return true;
}

std::map<std::string, Entry> read_manifest(const fs::path& dir) {
    std::map<std::string, Entry> m;
    std::ifstream in(dir / kManifest);
    std::string name;
    Entry e;
    while (in >> name >> e.size >> e.sha256) m[name] = e;
    return m;
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
    for (const auto* m : metas) {
        const fs::path src = m->file, dst = dir / src.filename();
        const std::string name = src.filename().string();
        if (manifest.count(name) && fs::exists(dst, ec)) continue;
        const fs::path tmp = dst.string() + ".tmp";
        fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
        Entry e;
        if (ec || !content_hash(tmp, e)) {
            spdlog::warn("could not archive plugin '{}' in '{}': {}", src.string(), dir.string(), ec.message());
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
    const fs::path tmp = dir / (std::string(kManifest) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (const auto& [name, e] : manifest) out << name << ' ' << e.size << ' ' << e.sha256 << '\n';
    }
    ::chmod(tmp.c_str(), 0600);
    fs::rename(tmp, dir / kManifest, ec);
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
        if (it == manifest.end() || !content_hash(m.file, e) || e.size != it->second.size ||
            e.sha256 != it->second.sha256)
            return {Code::plugin_set_invalid,
                    fmt::format("archived plugin '{}' is not the file that was archived (missing from "
                                "or different from {}/{}); it will not be loaded",
                                m.file, dir.string(), kManifest)};
        m.sha256 = e.sha256;  // checked again right before it is loaded (manifest.h)
        all.push_back(std::move(m));
        ++added;
    }
    if (added == 0) return Status::ok();
    Chain extended;
    MIG_TRY(build_chain(std::move(all), extended)
                .with_context(fmt::format("the plugins in '{}' and the archive '{}' do not form one chain: ",
                                          plugins_dir, dir.string())));
    spdlog::info("using {} archived plugin(s) from '{}' for revisions this app no longer ships", added, dir.string());
    chain = std::move(extended);
    return Status::ok();
}

}  // namespace migrator
