// The release manifest: `MANIFEST.json` in a plugin directory lists every plugin file of one
// app release with its revision id and the SHA-256 of its bytes. The host checks the listing
// at discovery (no unlisted file, no missing file, revisions agree with the notes) and the
// hashes of the files it is about to load, all of them before the first dlopen.
//
// What it protects against: a stray plugin left by another release or copied in by hand, a
// partial or corrupted install, a file modified after the release was built. What it cannot
// protect against: whoever may write the plugin directory may rewrite the manifest too (the
// directory permission check in discover.h is the boundary; a signature would be the next
// step). A file swapped between its hash and its dlopen is the same attacker.
//
// Format (written by `migrator manifest`, read with simdjson):
//   {"format": "migrator-release-manifest/1", "release": "<free text, may be empty>",
//    "plugins": [{"file": "<name>.so", "revision": "<id>", "sha256": "<64 lower-case hex>"}]}
#pragma once

#include <string>
#include <vector>

#include "plugin_meta.h"
#include "status.h"

namespace migrator {

inline constexpr const char* kReleaseManifestName = "MANIFEST.json";
inline constexpr const char* kReleaseManifestFormat = "migrator-release-manifest/1";

struct ManifestEntry {
    std::string file;  // file name inside the plugin directory, no '/'
    std::string revision;
    std::string sha256;
};

struct ReleaseManifest {
    std::string path;
    std::string release;
    std::vector<ManifestEntry> entries;  // sorted by file name
};

// Reads `<dir>/MANIFEST.json`. found = false (and ok) when there is none. A manifest that
// cannot be read or parsed, or has a bad entry, fails with plugin_set_invalid naming the path,
// the entry and the fix.
Status read_release_manifest(const std::string& dir, ReleaseManifest& out, bool& found);

// Checks the discovered plugins of `dir` (as discover() returns them: sorted by file name)
// against its manifest and sets each meta's expected sha256. Refuses (plugin_set_invalid, naming the file) an unlisted file, a listed file that
// is missing, and a revision that disagrees with the file's note. Without a manifest: ok, or
// plugin_set_invalid when `required`.
Status apply_release_manifest(const std::string& dir, bool required, std::vector<PluginMeta>& metas);

// Hashes every plugin file in `metas` that carries an expected sha256 and refuses the first
// that differs, naming the file, both hashes and the fix. Call before loading any of them.
Status verify_plugin_files(const std::vector<const PluginMeta*>& metas);

// Writes `<dir>/MANIFEST.json` for `metas` (all plugins of `dir`), atomically, mode 0644.
Status write_release_manifest(const std::string& dir, const std::string& release,
                              const std::vector<PluginMeta>& metas, std::string& written_path);

}  // namespace migrator
