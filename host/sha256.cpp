#include "sha256.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace migrator {

namespace {
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string to_hex(const unsigned char* d, unsigned n) {
    static const char* kHex = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (unsigned i = 0; i < n; ++i) {
        out[2 * i] = kHex[d[i] >> 4];
        out[2 * i + 1] = kHex[d[i] & 15];
    }
    return out;
}
}  // namespace

std::string sha256_hex(std::string_view bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    // One-shot EVP_Digest cannot fail for SHA-256 on in-memory input short of allocation failure.
    if (EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
    return to_hex(md, n);
}

Status sha256_file(const std::string& path, std::string& hex_out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {Code::plugin_set_invalid, fmt::format("cannot read '{}': {}", path, std::strerror(errno))};
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
    char buf[1 << 16];
    while (in) {
        in.read(buf, sizeof buf);
        if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad()) return {Code::plugin_set_invalid, fmt::format("error reading '{}'", path)};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &n);
    hex_out = to_hex(md, n);
    return Status::ok();
}

}  // namespace migrator
