#include "manifest.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "discover.h"
#include "json_out.h"
#include "sha256.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

std::string regenerate_hint(const std::string& dir) {
    return fmt::format("reinstall the release package, or, if you build this directory yourself, "
                       "regenerate the manifest: migrator --plugins {} manifest",
                       dir);
}

Status bad_manifest(const std::string& path, const std::string& what, const std::string& dir) {
    return {Code::plugin_set_invalid,
            fmt::format("release manifest '{}' is not usable: {}; {}", path, what, regenerate_hint(dir))};
}

}  // namespace

Status read_release_manifest(const std::string& dir, ReleaseManifest& out, bool& found) {
    out = ReleaseManifest{};
    out.path = (fs::path(dir) / kReleaseManifestName).string();
    struct stat st {};
    if (::lstat(out.path.c_str(), &st) != 0) {
        found = false;
        if (errno == ENOENT) return Status::ok();
        return {Code::plugin_set_invalid, fmt::format("cannot stat release manifest '{}': {}", out.path, std::strerror(errno))};
    }
    found = true;
    // Same rule as for the plugins it vouches for (discover.h): anyone who may rewrite it may
    // choose what runs.
    if (!S_ISREG(st.st_mode)) return bad_manifest(out.path, "it is not a regular file", dir);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return {Code::plugin_set_invalid,
                fmt::format("release manifest '{}' is group- or world-writable (mode {:o}); fix: chmod go-w '{}'",
                            out.path, st.st_mode & 07777, out.path)};
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.load(out.path).get(doc)) return bad_manifest(out.path, simdjson::error_message(err), dir);
    std::string_view format;
    if (doc["format"].get(format) || format != kReleaseManifestFormat)
        return bad_manifest(out.path, fmt::format("\"format\" must be \"{}\"", kReleaseManifestFormat), dir);
    std::string_view release;
    if (auto r = doc["release"]; !r.error()) {
        if (r.get(release)) return bad_manifest(out.path, "\"release\" must be a string", dir);
        out.release = std::string(release);
    }
    simdjson::dom::array plugins;
    if (doc["plugins"].get(plugins)) return bad_manifest(out.path, "\"plugins\" must be an array", dir);
    out.entries.reserve(plugins.size());
    for (simdjson::dom::element e : plugins) {
        ManifestEntry m;
        std::string_view file, revision, sha;
        const size_t n = out.entries.size();
        if (e["file"].get(file) || e["revision"].get(revision) || e["sha256"].get(sha))
            return bad_manifest(out.path, fmt::format("plugins[{}] needs string members file, revision and sha256", n), dir);
        m.file = std::string(file);
        m.revision = std::string(revision);
        m.sha256 = std::string(sha);
        if (m.file.empty() || m.file.find('/') != std::string::npos || m.file == "." || m.file == "..")
            return bad_manifest(out.path, fmt::format("plugins[{}].file '{}' is not a file name", n, m.file), dir);
        if (!valid_revision_id(m.revision))
            return bad_manifest(out.path, fmt::format("plugins[{}].revision '{}' is not a revision id", n, m.revision), dir);
        if (!is_sha256_hex(m.sha256))
            return bad_manifest(out.path, fmt::format("plugins[{}].sha256 of '{}' is not 64 lower-case hex digits", n, m.file), dir);
        out.entries.push_back(std::move(m));
    }
    // `migrator manifest` writes entries sorted by file: then sorting is a check.
    auto by_file = [](const ManifestEntry& a, const ManifestEntry& b) { return a.file < b.file; };
    if (!std::is_sorted(out.entries.begin(), out.entries.end(), by_file))
        std::sort(out.entries.begin(), out.entries.end(), by_file);
    for (size_t i = 1; i < out.entries.size(); ++i)
        if (out.entries[i].file == out.entries[i - 1].file)
            return bad_manifest(out.path, fmt::format("file '{}' is listed twice", out.entries[i].file), dir);
    std::vector<std::string_view> revisions;
    revisions.reserve(out.entries.size());
    for (const auto& e : out.entries) revisions.push_back(e.revision);
    std::sort(revisions.begin(), revisions.end());
    if (auto d = std::adjacent_find(revisions.begin(), revisions.end()); d != revisions.end())
        return bad_manifest(out.path, fmt::format("revision '{}' is listed twice", *d), dir);
    return Status::ok();
}

Status apply_release_manifest(const std::string& dir, bool required, std::vector<PluginMeta>& metas) {
    ReleaseManifest m;
    bool found = false;
    MIG_TRY(read_release_manifest(dir, m, found));
    if (!found) {
        if (!required) return Status::ok();
        return {Code::plugin_set_invalid,
                fmt::format("no release manifest in '{}' ({} is missing) and --require-manifest is set: "
                            "the plugins cannot be verified; {}",
                            dir, kReleaseManifestName, regenerate_hint(dir))};
    }
    // Both sides are sorted by file name (discover() returns its listing so, see manifest.h):
    // one merge walk, no per-plugin allocation, since every start-up runs this for every plugin.
    auto name_of = [](const std::string& path) {
        const size_t slash = path.rfind('/');
        return std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    };
    size_t e = 0;
    for (PluginMeta& meta : metas) {
        const std::string_view name = name_of(meta.file);
        while (e < m.entries.size() && m.entries[e].file < name) ++e;  // listed, not present: below
        if (e == m.entries.size() || m.entries[e].file != name)
            return {Code::plugin_set_invalid,
                    fmt::format("plugin file '{}' (revision '{}') is not listed in the release manifest '{}': it "
                                "is not part of this release (left over from another one, or added by hand). "
                                "Remove it; if it belongs to the release, {}",
                                meta.file, meta.revision, m.path, regenerate_hint(dir))};
        const ManifestEntry& entry = m.entries[e++];
        if (entry.revision != meta.revision)
            return {Code::plugin_set_invalid,
                    fmt::format("plugin file '{}' declares revision '{}' but the release manifest '{}' lists it "
                                "as '{}'; {}",
                                meta.file, meta.revision, m.path, entry.revision, regenerate_hint(dir))};
        meta.sha256 = entry.sha256;
    }
    if (m.entries.size() != metas.size()) {
        // Every present file matched one entry, so some entries have no file.
        const size_t missing = m.entries.size() - metas.size();
        size_t j = 0;
        for (const auto& entry : m.entries) {
            if (j < metas.size() && name_of(metas[j].file) == entry.file) {
                ++j;
                continue;
            }
            return {Code::plugin_set_invalid,
                    fmt::format("the release manifest '{}' lists '{}' (revision '{}'), which is not in '{}'{}: the "
                                "release is incomplete; {}",
                                m.path, entry.file, entry.revision, dir,
                                missing > 1 ? fmt::format(" (and {} more)", missing - 1) : std::string(),
                                regenerate_hint(dir))};
        }
    }
    return Status::ok();
}

Status verify_plugin_files(const std::vector<const PluginMeta*>& metas) {
    for (const PluginMeta* meta : metas) {
        if (meta->sha256.empty()) continue;
        std::string actual;
        MIG_TRY(sha256_file(meta->file, actual));
        if (actual != meta->sha256)
            return {Code::plugin_set_invalid,
                    fmt::format("plugin file '{}' (revision '{}') is not the file of this release: its SHA-256 is "
                                "{}, the release manifest says {}. It was modified after the release was built; "
                                "nothing was loaded. Reinstall the release package",
                                meta->file, meta->revision, actual, meta->sha256)};
    }
    return Status::ok();
}

Status write_release_manifest(const std::string& dir, const std::string& release,
                              const std::vector<PluginMeta>& metas, std::string& written_path) {
    std::vector<ManifestEntry> entries;
    for (const auto& meta : metas) {
        ManifestEntry e{fs::path(meta.file).filename().string(), meta.revision, {}};
        MIG_TRY(sha256_file(meta.file, e.sha256));
        entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
    JsonOut j;
    j.begin_object().field("format", kReleaseManifestFormat).field("release", release).key("plugins").begin_array();
    for (const auto& e : entries)
        j.begin_object().field("file", e.file).field("revision", e.revision).field("sha256", e.sha256).end_object();
    j.end_array().end_object();
    written_path = (fs::path(dir) / kReleaseManifestName).string();
    const std::string tmp = written_path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
        out << j.str() << '\n';
        out.flush();
        if (!out)
            return {Code::plugin_set_invalid, fmt::format("cannot write '{}': {}", tmp, std::strerror(errno))};
    }
    ::chmod(tmp.c_str(), 0644);
    std::error_code ec;
    fs::rename(tmp, written_path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return {Code::plugin_set_invalid, fmt::format("cannot write '{}': {}", written_path, ec.message())};
    }
    return Status::ok();
}

}  // namespace migrator
