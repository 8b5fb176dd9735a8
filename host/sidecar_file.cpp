#include "sidecar_file.h"
#include "log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>


namespace migrator {
namespace {

std::int64_t ns_of(const struct timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t r = ::write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

FileKey FileKey::of(const struct stat& st) {
    FileKey k;
    k.dev = static_cast<std::uint64_t>(st.st_dev);
    k.ino = static_cast<std::uint64_t>(st.st_ino);
    k.size = static_cast<std::uint64_t>(st.st_size);
    k.mtime_ns = ns_of(st.st_mtim);
    k.ctime_ns = ns_of(st.st_ctim);
    return k;
}

std::int64_t realtime_ns() {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return ns_of(now);
}

bool settled(const FileKey& k, std::int64_t now_ns) {
    constexpr std::int64_t kSecond = 1'000'000'000;
    const bool coarse = k.mtime_ns % kSecond == 0 || k.ctime_ns % kSecond == 0;
    const std::int64_t margin = coarse ? kCoarseMarginNs : kFineMarginNs;
    return now_ns - std::max(k.mtime_ns, k.ctime_ns) >= margin;
}

bool read_sidecar(const std::string& path, std::size_t min_size, std::size_t max_size,
                  std::string& out) {
    out.clear();
    if (path.empty()) return false;
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (f.fd < 0) return false;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) || st.st_size < 0 ||
        static_cast<std::uint64_t>(st.st_size) < min_size ||
        static_cast<std::uint64_t>(st.st_size) > max_size) {
        log_debug("'{}': not a private regular file of a plausible size; ignored", path);
        return false;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t r = ::read(f.fd, out.data() + got, out.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            out.clear();
            return false;
        }
        got += static_cast<std::size_t>(r);
    }
    return true;
}

bool replace_sidecar(const std::string& path, std::string_view data) {
    std::string tmp = path + ".tmp-XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) {
        log_debug("'{}': cannot create a temporary file ({}); not saved", path, std::strerror(errno));
        return false;
    }
    bool ok = write_all(fd, data.data(), data.size());
    ok = (::close(fd) == 0) && ok;
    ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) {
        log_debug("'{}': cannot write ({}); not saved", path, std::strerror(errno));
        ::unlink(tmp.c_str());
    }
    return ok;
}

}  // namespace migrator
