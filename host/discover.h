// Stage 1: find the plugin files in one directory and read their metadata without loading
// any of them.
#pragma once

#include <string>
#include <vector>

#include "plugin_meta.h"
#include "status.h"

namespace migrator {

// Lists regular `*.so` files of `dir` (sorted by name) and reads each one's metadata note.
// Refuses, with plugin_set_invalid and a message naming the path and the fix:
// - a directory or plugin file that is group- or world-writable (anyone who can write there
//   can run code as the migrating user);
// - a symlink that resolves outside `dir`, or a `*.so` entry that is not a regular file;
// - a file without a valid metadata note, or with an invalid revision id or unknown flags.
//
// cache_path: a metadata cache file (see plugin_cache.h; PluginCache::path_for_db gives the
// default). When not empty, a file whose (dev, inode, size, mtime, ctime) matches its cache
// entry is not opened; every check above still runs on every file. A missing or bad cache is
// rebuilt; failing to write it is not an error.
Status discover(const std::string& dir, std::vector<PluginMeta>& out,
                const std::string& cache_path = std::string());

// True when `id` is a valid revision id: 1..128 bytes of [A-Za-z0-9_.-].
bool valid_revision_id(const std::string& id);

}  // namespace migrator
