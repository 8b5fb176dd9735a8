// Logging: spdlog, behind the handful of calls the host makes.
//
// Why a facade: spdlog is used header-only. Its shared library cost every process about
// 1,200 dynamic symbol lookups at load, 0.3 ms of a 4 ms start-up at head; header-only, its
// implementation would be compiled into every file that includes it. Behind this header it is
// compiled once, in log.cpp. A message is formatted only when its level is enabled.
//
// Logs go to stderr as "<level>: <message>"; results go to stdout, never through here.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace migrator {

// spdlog's levels, in its order.
enum class LogLevel : int { trace = 0, debug, info, warn, error, critical, off };

// Installs the stderr logger at `level`. Before it, messages go to spdlog's default logger.
void log_init(LogLevel level);
LogLevel log_level();
void log_set_level(LogLevel level);
inline bool log_enabled(LogLevel l) { return l >= log_level(); }
void log_write(LogLevel l, std::string_view message);
// Flushes and drops the loggers: for a child about to _exit().
void log_shutdown();

template <class... A>
void log_at(LogLevel l, fmt::format_string<A...> f, A&&... a) {
    if (log_enabled(l)) log_write(l, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void log_trace(fmt::format_string<A...> f, A&&... a) { log_at(LogLevel::trace, f, std::forward<A>(a)...); }
template <class... A>
void log_debug(fmt::format_string<A...> f, A&&... a) { log_at(LogLevel::debug, f, std::forward<A>(a)...); }
template <class... A>
void log_info(fmt::format_string<A...> f, A&&... a) { log_at(LogLevel::info, f, std::forward<A>(a)...); }
template <class... A>
void log_warn(fmt::format_string<A...> f, A&&... a) { log_at(LogLevel::warn, f, std::forward<A>(a)...); }
template <class... A>
void log_error(fmt::format_string<A...> f, A&&... a) { log_at(LogLevel::error, f, std::forward<A>(a)...); }

}  // namespace migrator
