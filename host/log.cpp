// The only file that compiles spdlog (header-only; see log.h).
#include "log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace migrator {

void log_init(LogLevel level) {
    auto logger = spdlog::stderr_color_mt("migrator");
    logger->set_pattern("%^%l%$: %v");
    spdlog::set_default_logger(logger);
    log_set_level(level);
}

LogLevel log_level() { return static_cast<LogLevel>(spdlog::get_level()); }

void log_set_level(LogLevel level) {
    spdlog::set_level(static_cast<spdlog::level::level_enum>(level));
}

void log_write(LogLevel l, std::string_view message) {
    spdlog::log(static_cast<spdlog::level::level_enum>(l), "{}", message);
}

void log_shutdown() { spdlog::shutdown(); }

static_assert(static_cast<int>(LogLevel::trace) == spdlog::level::trace &&
              static_cast<int>(LogLevel::debug) == spdlog::level::debug &&
              static_cast<int>(LogLevel::info) == spdlog::level::info &&
              static_cast<int>(LogLevel::warn) == spdlog::level::warn &&
              static_cast<int>(LogLevel::error) == spdlog::level::err &&
              static_cast<int>(LogLevel::critical) == spdlog::level::critical &&
              static_cast<int>(LogLevel::off) == spdlog::level::off);

}  // namespace migrator
