#include "loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

namespace migrator {
namespace {

// Loaded libraries live until the process exits; RTLD_NODELETE keeps them mapped even then,
// so a plugin's thread_local or atexit state can never outlive its code.
std::vector<boost::dll::shared_library>& registry() {
    static std::vector<boost::dll::shared_library> libs;
    return libs;
}

Status refuse(const PluginMeta& m, const std::string& what) {
    return {Code::plugin_set_invalid, fmt::format("plugin '{}' ({}): {}", m.file, m.revision, what)};
}

Status same(const PluginMeta& m, const char* field, const std::string& note, const char* actual) {
    if (actual == nullptr) return refuse(m, fmt::format("descriptor field '{}' is NULL", field));
    if (note != actual)
        return refuse(m, fmt::format("descriptor field '{}' is '{}' but the metadata note says '{}'; "
                                     "the file was not built by the SDK macro, or was tampered with",
                                     field, actual, note));
    return Status::ok();
}

constexpr std::uint32_t kMaxBlobs = 1024;

Status same_blob_field(const PluginMeta& m, std::uint32_t i, const char* field,
                       const std::string& note, const char* actual) {
    if (actual == nullptr)
        return refuse(m, fmt::format("blob migration #{}: field '{}' is NULL", i, field));
    if (note != actual)
        return refuse(m, fmt::format("blob migration #{}: field '{}' is '{}' but the metadata note "
                                     "says '{}'",
                                     i, field, actual, note));
    return Status::ok();
}

Status load_blobs(const PluginMeta& meta, const mig_plugin_v1& d, std::vector<mig_blob_migration_v1>& out) {
    out.clear();
    if (d.blob_count != meta.blobs.size())
        return refuse(meta, fmt::format("descriptor declares {} blob migration(s) but the metadata "
                                        "note lists {}",
                                        d.blob_count, meta.blobs.size()));
    if (d.blob_count == 0) return Status::ok();
    if (d.blob_count > kMaxBlobs || d.blobs == nullptr)
        return refuse(meta, fmt::format("descriptor field 'blobs' is {} with blob_count {}",
                                        d.blobs ? "set" : "NULL", d.blob_count));
    if (d.flags & MIG_FLAG_NO_TRANSACTION)
        return refuse(meta, "blob migrations cannot run in a MIG_FLAG_NO_TRANSACTION revision");
    const bool irreversible = (d.flags & MIG_FLAG_IRREVERSIBLE) != 0;
    for (std::uint32_t i = 0; i < d.blob_count; ++i) {
        const mig_blob_migration_v1* b = d.blobs[i];
        if (b == nullptr) return refuse(meta, fmt::format("blob migration #{} is NULL", i));
        std::uint32_t size = 0;
        std::memcpy(&size, b, sizeof size);
        if (size < MIG_BLOB_MIGRATION_V1_0_SIZE)
            return refuse(meta, fmt::format("blob migration #{}: struct_size {} is smaller than the "
                                            "ABI 1.0 size {}",
                                            i, size, MIG_BLOB_MIGRATION_V1_0_SIZE));
        mig_blob_migration_v1 c{};
        std::memcpy(&c, b, std::min<std::size_t>(size, sizeof c));
        if (c.abi_major != MIG_ABI_MAJOR)
            return refuse(meta, fmt::format("blob migration #{}: abi_major is {}, expected {}", i,
                                            c.abi_major, MIG_ABI_MAJOR));
        const BlobMeta& n = meta.blobs[i];
        MIG_TRY(same_blob_field(meta, i, "table", n.table, c.table));
        MIG_TRY(same_blob_field(meta, i, "column", n.column, c.column));
        MIG_TRY(same_blob_field(meta, i, "model", n.model, c.model));
        if (c.up == nullptr) return refuse(meta, fmt::format("blob migration #{}: 'up' is NULL", i));
        if (c.down == nullptr && !irreversible)
            return refuse(meta, fmt::format("blob migration #{} ({}.{}): 'down' is NULL but the "
                                            "revision is not flagged MIG_FLAG_IRREVERSIBLE",
                                            i, n.table, n.column));
        out.push_back(c);
    }
    return Status::ok();
}

}  // namespace

Status load_plugin(const PluginMeta& meta, LoadedPlugin& out) {
    namespace dll = boost::dll;
    const auto mode = dll::load_mode::rtld_now | dll::load_mode::rtld_local |
                      static_cast<dll::load_mode::type>(RTLD_NODELETE);
    boost::dll::fs::error_code ec;
    dll::shared_library lib(meta.file, mode, ec);
    if (ec || !lib.is_loaded()) {
        const char* why = dlerror();
        return refuse(meta, fmt::format("cannot load: {} (an undefined symbol means the plugin was "
                                        "linked without a library it needs; rebuild it with "
                                        "migrator_add_plugin, which links with -z defs)",
                                        why ? why : ec.message()));
    }
    if (!lib.has(MIG_ENTRY_SYMBOL_V1))
        return refuse(meta, fmt::format("no entry symbol '{}': not a migrator ABI v1 plugin (built "
                                        "for another ABI major, or without the SDK macro)",
                                        MIG_ENTRY_SYMBOL_V1));
    auto entry = lib.get<const mig_plugin_v1*(std::uint32_t, std::uint32_t)>(MIG_ENTRY_SYMBOL_V1);
    const mig_plugin_v1* d = entry(MIG_ABI_MAJOR, MIG_ABI_MINOR);
    registry().push_back(std::move(lib));
    if (d == nullptr)
        return refuse(meta, fmt::format("{} returned NULL: the plugin cannot serve host ABI {}.{} "
                                        "(it needs a newer migrator)",
                                        MIG_ENTRY_SYMBOL_V1, MIG_ABI_MAJOR, MIG_ABI_MINOR));
    std::uint32_t size = 0;
    std::memcpy(&size, d, sizeof size);
    if (size < MIG_PLUGIN_V1_0_SIZE)
        return refuse(meta, fmt::format("descriptor struct_size is {}, smaller than the ABI 1.0 "
                                        "size {}: corrupt or not built against plugin_api.h",
                                        size, MIG_PLUGIN_V1_0_SIZE));
    mig_plugin_v1 copy{};
    std::memcpy(&copy, d, std::min<std::size_t>(size, sizeof copy));
    if (copy.abi_major != MIG_ABI_MAJOR)
        return refuse(meta, fmt::format("descriptor abi_major is {}, expected {}", copy.abi_major,
                                        MIG_ABI_MAJOR));
    MIG_TRY(same(meta, "revision", meta.revision, copy.revision));
    MIG_TRY(same(meta, "parent", meta.parent, copy.parent));
    MIG_TRY(same(meta, "checksum", meta.checksum, copy.checksum));
    MIG_TRY(same(meta, "description", meta.description, copy.description));
    if (copy.flags != meta.flags)
        return refuse(meta, fmt::format("descriptor flags {:#x} differ from the metadata note's {:#x}",
                                        copy.flags, meta.flags));
    if (copy.abi_minor != meta.abi_minor)
        return refuse(meta, fmt::format("descriptor abi_minor {} differs from the metadata note's {}",
                                        copy.abi_minor, meta.abi_minor));
    if (copy.up == nullptr) return refuse(meta, "descriptor field 'up' is NULL");
    const bool irreversible = (copy.flags & MIG_FLAG_IRREVERSIBLE) != 0;
    if ((copy.down == nullptr) != irreversible)
        return refuse(meta, irreversible ? "flagged irreversible but has a 'down' step"
                                         : "'down' is NULL but the revision is not flagged "
                                           "MIG_FLAG_IRREVERSIBLE");
    MIG_TRY(load_blobs(meta, copy, out.blobs));
    out.desc = copy;
    out.meta = &meta;
    return Status::ok();
}

}  // namespace migrator
