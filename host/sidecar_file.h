// The small private files the host keeps next to a database to skip work it has already
// done (the plugin metadata cache, the head verdict), and how it knows that a file it judged
// earlier is still the same file.
//
// Trust model shared by every sidecar: it is read only when it is a regular file owned by this
// user and not group- or world-writable (opened O_NOFOLLOW | O_NONBLOCK: a symlink or FIFO
// planted under its name is ignored, never followed or waited on); anything else reads as
// absent. Whoever can write it can also write the database beside it, so its content is
// trusted as much as the database, and checked only for bit rot. It is replaced through a
// private temporary file (mode 0600) and rename(): readers see the old or the new file, never
// a torn one. No fsync: after a crash it is at worst short or empty, which reads as absent.
// A sidecar is only ever a shortcut: losing it costs time, never correctness.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace migrator {

// A file's identity and version as the kernel reports them. st_ctim cannot be set by a user
// (any write, chmod, rename or utimensat moves it to "now"), so an edited, replaced, chmod-ed
// or re-touched file always gets a new key.
struct FileKey {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    static FileKey of(const struct stat& st);
    bool operator==(const FileKey& o) const {
        return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns &&
               ctime_ns == o.ctime_ns;
    }
    bool operator!=(const FileKey& o) const { return !(*this == o); }
};

// CLOCK_REALTIME in nanoseconds: the clock file timestamps come from.
std::int64_t realtime_ns();

// "Racily clean" (git's term): a file changed within one timestamp tick of the moment it was
// stat()ed may change again in that same tick without its key changing. A judgement about such
// a file must not be stored. The tick: timestamps with a zero nanosecond part may come from a
// filesystem with 1-2 s granularity (FAT, ext3, small-inode ext4), which gets kCoarseMarginNs;
// any other timestamp comes from the kernel's coarse clock, one jiffy (at most 10 ms) or finer,
// which gets kFineMarginNs. A clock that moved backwards counts as racy.
constexpr std::int64_t kCoarseMarginNs = 3'000'000'000;
constexpr std::int64_t kFineMarginNs = 50'000'000;
bool settled(const FileKey& k, std::int64_t now_ns);

// Reads the whole sidecar at `path` into `out` when it is safe to trust (see above) and its
// size is within [min_size, max_size]. False, with `out` empty, otherwise.
bool read_sidecar(const std::string& path, std::size_t min_size, std::size_t max_size,
                  std::string& out);

// Replaces the sidecar at `path` with `data` atomically (see above). False when it could not
// (a read-only directory, a full disk): the caller carries on without it.
bool replace_sidecar(const std::string& path, std::string_view data);

}  // namespace migrator
