// Stage 3: load the plugins a plan will run, and check them against their notes.
#pragma once

#include <vector>

#include "migrator/plugin_api.h"
#include "plugin_meta.h"
#include "status.h"

namespace migrator {

struct LoadedPlugin {
    // The plugin's descriptor as this host knows it: at most struct_size bytes copied,
    // the rest zero. The strings and functions point into the plugin, which stays loaded.
    mig_plugin_v1 desc{};
    // Copies of the blob migration descriptors (same rule: at most struct_size, rest zero).
    std::vector<mig_blob_migration_v1> blobs;
    const PluginMeta* meta = nullptr;
};

// dlopen()s meta.file with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE (never unloaded), calls
// mig_get_plugin_v1 and validates the descriptor: ABI major, struct size, non-NULL fields,
// up/down vs the irreversible flag, blob migrations, and equality with the metadata note. Every refusal is
// plugin_set_invalid and names the file, the field, the expected and the actual value.
Status load_plugin(const PluginMeta& meta, LoadedPlugin& out);

}  // namespace migrator
