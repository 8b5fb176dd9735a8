// SHA-256 of files and byte strings, for the release manifest (plugins verified before they are
// loaded) and for the frozen-schema fingerprints that head plugins declare.
//
// None of the project's libraries computes SHA-256 (Boost 1.74 ships SHA-1 only, in a detail
// header), so this wraps OpenSSL's libcrypto (Debian's libssl3) rather than hand-rolling a
// hash. The only file that sees OpenSSL; it opens libcrypto on first use (see sha256.cpp).
#pragma once

#include <string>
#include <string_view>

#include "status.h"

namespace migrator {

// Lower-case hex, 64 characters. Fails with plugin_set_invalid (never throws) when libcrypto
// cannot be loaded or refuses the digest, naming why: a plugin set that cannot be verified.
Status sha256_hex(std::string_view bytes, std::string& hex_out);

// True for what sha256_hex produces: exactly 64 lower-case hex digits.
bool is_sha256_hex(std::string_view s);

// Reads `path` in blocks. Fails like sha256_hex, or naming the path and errno's words.
Status sha256_file(const std::string& path, std::string& hex_out);

}  // namespace migrator
