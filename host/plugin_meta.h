// What the host knows about one plugin file before (and without) loading it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace migrator {

// A blob migration as declared in the metadata note.
struct BlobMeta {
    std::string table;
    std::string column;
    std::string model;  // "" when none
    bool operator==(const BlobMeta&) const = default;
};

struct PluginMeta {
    std::string file;  // absolute path
    std::string revision;
    std::string parent;  // "" for the root
    std::string checksum;
    std::string description;
    std::uint64_t flags = 0;
    std::uint32_t abi_minor = 0;
    std::vector<BlobMeta> blobs;  // in declaration order
    // SHA-256 the release manifest expects of `file` (manifest.h); "" when the directory has
    // no manifest. Not part of the note or the cache: set after discovery, checked before load.
    std::string sha256;
};

}  // namespace migrator
