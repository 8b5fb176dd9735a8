#include "lock.h"
#include "log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace migrator {

MigrationLock::~MigrationLock() {
    if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

Status MigrationLock::acquire(const std::string& db_path, int timeout_ms) {
    const std::string path = path_for(db_path);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return {Code::db_error,
                fmt::format("cannot create the lock file '{}': {}; the database's directory must be "
                            "writable",
                            path, std::strerror(errno))};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool told = false;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            ::close(fd);
            return {Code::db_error, fmt::format("cannot lock '{}': {}", path, std::strerror(e))};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::close(fd);
            return {Code::db_busy,
                    fmt::format("another migrator process holds '{}' (waited {} ms); nothing was "
                                "changed. Try again when it has finished, or raise --lock-timeout",
                                path, timeout_ms)};
        }
        if (!told) {
            log_info("waiting for another migrator process to finish with {}", db_path);
            told = true;
        }
        waited_ = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fd_ = fd;
    return Status::ok();
}

}  // namespace migrator
