#pragma once
namespace migrator {
// Set by CMake from project(VERSION); recorded in every history row.
inline constexpr const char* kVersion = MIGRATOR_VERSION;
}  // namespace migrator
