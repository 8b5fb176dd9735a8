#include "discover.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "elf_note.h"
#include "log.h"
#include "migrator/plugin_api.h"
#include "plugin_cache.h"

namespace migrator {
namespace {

struct DirCloser {
    void operator()(DIR* d) const noexcept { ::closedir(d); }
};

struct Fd {
    int fd = -1;
    Fd() = default;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Status invalid(std::string msg) { return {Code::plugin_set_invalid, std::move(msg)}; }

bool ends_with(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

Status check_not_writable_by_others(const std::string& path, const struct stat& st,
                                    const char* what) {
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return invalid(fmt::format(
            "{} '{}' is group- or world-writable (mode {:04o}): anyone who can write there can "
            "run code as this user. Fix: chmod go-w '{}'",
            what, path, st.st_mode & 07777, path));
    // Its owner can make it writable again (or rewrite it): only root and this user may own it.
    const uid_t me = ::geteuid();
    if (st.st_uid != 0 && st.st_uid != me)
        return invalid(fmt::format(
            "{} '{}' is owned by user {}, neither root nor this user ({}): its owner can change it "
            "and so run code as this user. Fix: chown root (or the user running migrator) '{}', or "
            "run migrator as its owner",
            what, path, st.st_uid, me, path));
    return Status::ok();
}

}  // namespace

bool valid_revision_id(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
}

Status discover(const std::string& dir_arg, std::vector<PluginMeta>& out,
                const std::string& cache_path) {
    out.clear();
    const std::string dir = real_path(dir_arg);
    if (dir.empty())
        return invalid(fmt::format("plugin directory '{}' does not exist ({}); pass --plugins DIR",
                                   dir_arg, std::strerror(errno)));
    // The checks apply to the directory actually listed: fstat of the open descriptor, and
    // every entry is looked up relative to it.
    Fd dfd;
    dfd.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd.fd < 0 && errno == ENOTDIR)
        return invalid(fmt::format("plugin directory '{}' is not a directory", dir_arg));
    struct stat dst {};
    if (dfd.fd < 0 || ::fstat(dfd.fd, &dst) != 0)
        return invalid(fmt::format("cannot read plugin directory '{}': {}", dir, std::strerror(errno)));
    if (!S_ISDIR(dst.st_mode))
        return invalid(fmt::format("plugin directory '{}' is not a directory", dir_arg));
    MIG_TRY(check_not_writable_by_others(dir, dst, "plugin directory"));

    // fdopendir takes ownership of a duplicate, so dfd stays valid for fstatat.
    int lfd = ::fcntl(dfd.fd, F_DUPFD_CLOEXEC, 0);
    std::unique_ptr<DIR, DirCloser> d(lfd >= 0 ? ::fdopendir(lfd) : nullptr);
    if (!d) {
        int err = errno;
        if (lfd >= 0) ::close(lfd);
        return invalid(fmt::format("cannot read plugin directory '{}': {}", dir, std::strerror(err)));
    }

    std::vector<std::string> names;
    while (dirent* e = ::readdir(d.get())) {
        std::string name = e->d_name;
        if (name.size() > 3 && ends_with(name, ".so") && name[0] != '.') names.push_back(name);
    }
    std::sort(names.begin(), names.end());

    PluginCache cache(cache_path, dir);
    cache.load();
    const std::int64_t now_ns = realtime_ns();
    size_t hits = 0;

    out.reserve(names.size());
    for (const auto& name : names) {
        std::string path = dir + "/" + name;
        struct stat lst {};
        if (::fstatat(dfd.fd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0)
            return invalid(fmt::format("cannot stat plugin '{}': {}", path, std::strerror(errno)));
        std::string target = path;
        if (S_ISLNK(lst.st_mode)) {
            target = real_path(path);
            std::string prefix = dir + "/";
            if (target.empty())
                return invalid(fmt::format("plugin '{}' is a dangling symlink; remove it", path));
            if (target.compare(0, prefix.size(), prefix) != 0 ||
                target.find('/', prefix.size()) != std::string::npos)
                return invalid(fmt::format(
                    "plugin '{}' is a symlink to '{}', outside the plugin directory; copy the "
                    "file into '{}' instead",
                    path, target, dir));
            if (::stat(target.c_str(), &lst) != 0)
                return invalid(fmt::format("cannot stat plugin '{}': {}", target, std::strerror(errno)));
        }
        if (!S_ISREG(lst.st_mode))
            return invalid(fmt::format("plugin '{}' is not a regular file; remove it from the plugin "
                                       "directory",
                                       path));
        MIG_TRY(check_not_writable_by_others(path, lst, "plugin file"));

        // The metadata: from the cache when the file is exactly the one it describes,
        // otherwise from the file's note. Either way it is validated below.
        const FileKey key = FileKey::of(lst);
        PluginMeta m;
        if (const PluginMeta* cached = cache.lookup(name, key)) {
            m = *cached;
            ++hits;
        } else {
            struct stat read_st {};
            MIG_TRY(read_plugin_note(target, m, &read_st));
            // Cache it only if the file read is the file stat()ed and checked above.
            if (FileKey::of(read_st) == key) cache.store(name, key, m, now_ns);
        }
        m.file = path;
        if (!valid_revision_id(m.revision))
            return invalid(fmt::format("plugin '{}': revision id '{}' is invalid (expected 1-128 "
                                       "characters of [A-Za-z0-9_.-])",
                                       path, m.revision));
        if (!m.parent.empty() && !valid_revision_id(m.parent))
            return invalid(fmt::format("plugin '{}': parent id '{}' is invalid", path, m.parent));
        if (m.flags & ~MIG_FLAGS_KNOWN_V1_0)
            return invalid(fmt::format(
                "plugin '{}' ({}): flags {:#x} include bits this host does not know ({:#x}); "
                "upgrade migrator",
                path, m.revision, m.flags, m.flags & ~MIG_FLAGS_KNOWN_V1_0));
        out.push_back(std::move(m));
    }
    if (!cache_path.empty()) {
        log_debug("plugin cache '{}': {} of {} plugin notes from the cache", cache_path, hits,
                  names.size());
        cache.save();
    }
    return Status::ok();
}

}  // namespace migrator
