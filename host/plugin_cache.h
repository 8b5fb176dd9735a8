// A cache of plugin metadata notes, so that a start-up with N plugins costs N stat calls and
// one small file read instead of N opens and ELF parses (GStreamer-registry style).
//
// Trust model
// - An entry is used only when its key matches the file as stat()ed on this start: the plugin
//   file name in the directory and (st_dev, st_ino, st_size, st_mtim, st_ctim) of the file
//   whose note would be read (the symlink target for a symlink). st_ctim cannot be set by a
//   user (any write, chmod, rename or utimensat moves it to "now"), so an edited, replaced
//   or re-touched plugin always misses.
// - "Racily clean" files (see settled() in sidecar_file.h) are never stored: their note is read
//   from the file every time until they are older.
// - The cache only ever stands in for the note reader. Every safety check of discover() (mode
//   bits, symlink escape, regular file, revision id syntax, known flags) still runs on every
//   start, on cached metadata too, and the loader cross-checks a loaded plugin's descriptor
//   against the metadata, so a wrong entry can never make the host run other code.
// - A truncated, corrupt (checksum) or foreign (other format version, other plugin directory)
//   file is ignored as if absent, and replaced on save; so is one the sidecar rules
//   (sidecar_file.h) do not trust. Never an error. A failure to save is ignored.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "plugin_meta.h"
#include "sidecar_file.h"

namespace migrator {

class PluginCache {
public:
    // An empty cache that will save to `path` (empty path: never saves) for plugin directory
    // `dir` (its real path).
    PluginCache(std::string path, std::string dir);

    // Reads the cache file. Anything wrong with it leaves the cache empty (see above).
    // Returns true when entries were loaded.
    bool load();

    // The cached metadata (all but `file`) of `name`, if its key matches; nullptr otherwise.
    // A hit is kept for the next save.
    const PluginMeta* lookup(const std::string& name, const FileKey& key);
    // Records freshly read metadata for the next save (unless the file is racily clean,
    // judged against `now_ns`, CLOCK_REALTIME).
    void store(const std::string& name, const FileKey& key, const PluginMeta& meta,
               std::int64_t now_ns);

    // Writes the cache when it differs from what load() read (atomically; see above).
    // Returns true when nothing needed writing or the write succeeded; failures are not errors.
    bool save();

    // The default location of the cache of the database at `db`: "<db>.plugin-cache", next to
    // the database it serves. Empty (no cache) when `db` is empty or does not exist yet.
    static std::string path_for_db(const std::string& db);

    const std::string& path() const { return path_; }
    std::size_t loaded_entries() const { return loaded_.size(); }

private:
    struct Entry {
        FileKey key;
        PluginMeta meta;
        bool used = false;  // looked up with a matching key on this start
    };
    std::string path_;
    std::string dir_;
    std::unordered_map<std::string, Entry> loaded_;
    std::unordered_map<std::string, Entry> next_;
    std::size_t hits_ = 0;
};

}  // namespace migrator
