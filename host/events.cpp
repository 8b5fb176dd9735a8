#include "events.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bookkeeping.h"

namespace migrator {

Events::~Events() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

Status Events::open(const std::string& spec) {
    if (spec.empty()) return Status::ok();
    if (std::all_of(spec.begin(), spec.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        fd_ = std::stoi(spec);
        if (::fcntl(fd_, F_GETFD) < 0) {
            fd_ = -1;
            return {Code::usage, fmt::format("--events {}: file descriptor {} is not open", spec, spec)};
        }
        return Status::ok();
    }
    fd_ = ::open(spec.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
        return {Code::usage, fmt::format("--events {}: cannot open: {}", spec, std::strerror(errno))};
    owned_ = true;
    return Status::ok();
}

JsonOut Events::begin(const char* name) const {
    JsonOut j;
    j.begin_object().field("event", name).field("time", utc_now());
    return j;
}

void Events::emit(JsonOut& j) const {
    if (fd_ < 0) return;
    j.end_object();
    std::string line = j.str() + "\n";
    const char* p = line.data();
    size_t n = line.size();
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // events are best effort: the app may have closed its end
        p += w;
        n -= static_cast<size_t>(w);
    }
}

}  // namespace migrator
