// The plugin archive next to the database, `<db>.plugin-archive/`: a copy of every plugin that
// was applied to it, so that an operator can still revert revisions that an older app (after a
// downgrade) no longer ships: `migrator down --to REV` falls back to the archive for the
// revisions the plugin directory lacks.
//
// Integrity: each copy is named like its plugin (the name holds the source checksum) and
// listed with its size and SHA-256 in `MANIFEST.sha256` (and with an FNV-1a hash in
// `MANIFEST`, the list older hosts read); a copy that does not match is refused by name, and
// checked again right before it is loaded. Whoever can write next to the database can write
// the database too, so this guards against truncation, bit rot and mix-ups, not an attacker
// with the user's rights. The loader still cross-checks every descriptor against its metadata
// note, and the applied checksum recorded in the database must match, as for any plugin.
#pragma once

#include <string>
#include <vector>

#include "plan.h"
#include "plugin_meta.h"
#include "status.h"

namespace migrator {

std::string archive_dir_for(const std::string& db_path);

// Copies the plugin files of `metas` into the archive (those already there are kept).
// Failing to archive is logged, never fatal: the migration itself succeeded.
void archive_plugins(const std::string& db_path, const std::vector<const PluginMeta*>& metas);

// `chain` extended with archived revisions it does not have, when the archive holds them
// and they form one chain with it. Leaves `chain` as it is when there is no archive.
Status extend_with_archive(const std::string& db_path, const std::string& plugins_dir, Chain& chain);

}  // namespace migrator
