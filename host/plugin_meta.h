// What the host knows about one plugin file before (and without) loading it.
#pragma once

#include <cstdint>
#include <string>

namespace migrator {

struct PluginMeta {
    std::string file;  // absolute path
    std::string revision;
    std::string parent;  // "" for the root
    std::string checksum;
    std::string description;
    std::uint64_t flags = 0;
    std::uint32_t abi_minor = 0;
};

}  // namespace migrator
