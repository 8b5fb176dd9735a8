// Reads a plugin's metadata note (see MIG_NOTE_* in plugin_api.h) from the file alone.
//
// Why not Boost.DLL's library_info: in Boost 1.74 it exposes section names but not their
// contents, finds no symbols in stripped files, and throws or attempts huge allocations on
// hostile input. This reader is bounded: it reads the ELF header, at most 256 program
// headers and at most 64 KiB of note data, with every offset checked against the file size.
// It reads the first 4 KiB in one call, which in a plugin built by migrator_add_plugin holds
// the headers and the note: one open, fstat, pread and close per file.
#pragma once

#include <sys/stat.h>

#include <string>

#include "plugin_meta.h"
#include "status.h"

namespace migrator {

// Fills meta (all but `file`) from the note of the ELF file at `path`. Failures are
// plugin_set_invalid with a message naming the file and what is wrong.
Status read_plugin_note(const std::string& path, PluginMeta& meta);
// The same; also stores the fstat() of the file actually read in *st (when not null), so a
// caller can tell whether it read the file it stat()ed before.
Status read_plugin_note(const std::string& path, PluginMeta& meta, struct stat* st);

}  // namespace migrator
