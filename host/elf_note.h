// Reads a plugin's metadata note (see MIG_NOTE_* in plugin_api.h) from the file alone.
//
// Why not Boost.DLL's library_info: in Boost 1.74 it exposes section names but not their
// contents, finds no symbols in stripped files, and throws or attempts huge allocations on
// hostile input. This reader is bounded: it reads the ELF header, at most 256 program
// headers and at most 64 KiB of note data, with every offset checked against the file size.
#pragma once

#include <string>

#include "plugin_meta.h"
#include "status.h"

namespace migrator {

// Fills meta (all but `file`) from the note of the ELF file at `path`. Failures are
// plugin_set_invalid with a message naming the file and what is wrong.
Status read_plugin_note(const std::string& path, PluginMeta& meta);

}  // namespace migrator
