#include "sha256.h"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <type_traits>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace migrator {

namespace {

// libcrypto is opened on first use, not linked: mapping it (shared: 0.8 ms, static: 0.2 ms of
// relocations) would cost every process, while only runs that load plugins or write
// manifests hash anything; a start-up at head never does. The prototypes come from OpenSSL's
// own headers, so a mismatch is a compile error, not a crash.
struct Crypto {
    decltype(&EVP_MD_CTX_new) ctx_new = nullptr;
    decltype(&EVP_MD_CTX_free) ctx_free = nullptr;
    decltype(&EVP_sha256) sha256 = nullptr;
    decltype(&EVP_DigestInit_ex) init = nullptr;
    decltype(&EVP_DigestUpdate) update = nullptr;
    decltype(&EVP_DigestFinal_ex) final = nullptr;
    std::string error;  // why it is unusable; "" when usable
};

const Crypto& crypto() {
    static Crypto c;
    static std::once_flag once;
    std::call_once(once, [] {
        // Never closed: the functions stay valid for the life of the process.
        void* h = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
        if (h == nullptr) {
            const char* e = ::dlerror();
            c.error = fmt::format("cannot load OpenSSL's libcrypto.so.3 to compute SHA-256 ({}); install "
                                  "the libssl3 package",
                                  e ? e : "unknown error");
            return;
        }
        auto sym = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
            if (fn == nullptr && c.error.empty()) c.error = fmt::format("libcrypto.so.3 has no {}", name);
        };
        sym(c.ctx_new, "EVP_MD_CTX_new");
        sym(c.ctx_free, "EVP_MD_CTX_free");
        sym(c.sha256, "EVP_sha256");
        sym(c.init, "EVP_DigestInit_ex");
        sym(c.update, "EVP_DigestUpdate");
        sym(c.final, "EVP_DigestFinal_ex");
    });
    return c;
}

// One digest in progress; freed on every path.
class Digest {
public:
    Status start() {
        const Crypto& c = crypto();
        if (!c.error.empty()) return {Code::plugin_set_invalid, c.error};
        ctx_ = c.ctx_new();
        const EVP_MD* md = ctx_ != nullptr ? c.sha256() : nullptr;
        if (md == nullptr || c.init(ctx_, md, nullptr) != 1)
            return {Code::plugin_set_invalid, "OpenSSL's libcrypto refused to compute SHA-256 (its configuration, "
                                              "OPENSSL_CONF, or memory); the plugins cannot be verified"};
        return Status::ok();
    }
    Status add(const void* p, std::size_t n) {
        if (crypto().update(ctx_, p, n) != 1) return {Code::plugin_set_invalid, "OpenSSL's SHA-256 update failed"};
        return Status::ok();
    }
    Status hex(std::string& out) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (crypto().final(ctx_, md, &n) != 1) return {Code::plugin_set_invalid, "OpenSSL's SHA-256 final step failed"};
        static const char* kHex = "0123456789abcdef";
        out.assign(2 * n, '0');
        for (unsigned i = 0; i < n; ++i) {
            out[2 * i] = kHex[md[i] >> 4];
            out[2 * i + 1] = kHex[md[i] & 15];
        }
        return Status::ok();
    }
    ~Digest() {
        if (ctx_ != nullptr) crypto().ctx_free(ctx_);
    }

private:
    EVP_MD_CTX* ctx_ = nullptr;
};

}  // namespace

bool is_sha256_hex(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status sha256_hex(std::string_view bytes, std::string& hex_out) {
    Digest d;
    MIG_TRY(d.start());
    MIG_TRY(d.add(bytes.data(), bytes.size()));
    return d.hex(hex_out);
}

Status sha256_file(const std::string& path, std::string& hex_out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {Code::plugin_set_invalid, fmt::format("cannot read '{}': {}", path, std::strerror(errno))};
    Digest d;
    MIG_TRY(d.start());
    char buf[1 << 16];
    while (in) {
        in.read(buf, sizeof buf);
        if (in.gcount() > 0) MIG_TRY(d.add(buf, static_cast<std::size_t>(in.gcount())));
    }
    if (in.bad()) return {Code::plugin_set_invalid, fmt::format("error reading '{}'", path)};
    return d.hex(hex_out);
}

}  // namespace migrator
