// SHA-256 of files and byte strings, for the release manifest (plugins verified before they are
// loaded) and for the frozen-schema fingerprints that head plugins declare.
//
// None of the project's libraries computes SHA-256 (Boost 1.74 ships SHA-1 only, in a detail
// header), so this wraps OpenSSL's libcrypto (Debian's libssl-dev) rather than hand-rolling a
// hash. The only file that sees OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include "status.h"

namespace migrator {

// Lower-case hex, 64 characters.
std::string sha256_hex(std::string_view bytes);

// Reads `path` in blocks. Fails with plugin_set_invalid naming the path and errno's words.
Status sha256_file(const std::string& path, std::string& hex_out);

}  // namespace migrator
