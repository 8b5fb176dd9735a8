// Header-only C++ SDK for writing migrator plugins (C++17 or later).
//
// A whole plugin:
//
//   #include <migrator/plugin.hpp>
//
//   static void up(migrator::Host& db) {
//       db.exec("ALTER TABLE task ADD COLUMN priority INTEGER NOT NULL DEFAULT 0");
//   }
//   static void down(migrator::Host& db) {
//       db.exec("ALTER TABLE task DROP COLUMN priority");
//   }
//   MIGRATOR_PLUGIN("0002_task_priority", "0001_initial", "task priority", 0, up, down)
//
// built with migrator_add_plugin(...) from MigratorPlugin.cmake, which supplies the source
// checksum and the link flags. Everything here is a thin layer over plugin_api.h, which
// remains the contract.
#ifndef MIGRATOR_PLUGIN_HPP
#define MIGRATOR_PLUGIN_HPP

#include <migrator/plugin_api.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace migrator {

// Thrown to fail a revision with a message; any std::exception works the same way.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// Thrown by Host::progress when the operator cancelled; mapped to MIG_CANCELLED.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled by the operator") {}
};
// Thrown by generated stubs; mapped to MIG_NOT_IMPLEMENTED.
class NotImplemented : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
// A failed host call as an exception: a cancel stays a cancel (MIG_CANCELLED), not an error.
[[noreturn]] inline void throw_status(mig_status s, const char* msg) {
    if (s == MIG_CANCELLED) throw Cancelled();
    throw Error(msg != nullptr ? msg : "host call failed");
}
// Copies msg into the host's buffer, truncating on a UTF-8 boundary so the host never sees
// half a code point, and always NUL-terminating.
inline void write_error(mig_error_buf* err, std::string_view msg) noexcept {
    if (err == nullptr || err->data == nullptr || err->cap == 0) return;
    std::size_t n = msg.size();
    if (n > err->cap - 1) {
        n = err->cap - 1;
        while (n > 0 && (static_cast<unsigned char>(msg[n]) & 0xC0u) == 0x80u) --n;
    }
    std::memcpy(err->data, msg.data(), n);
    err->data[n] = '\0';
}
}  // namespace detail

// The one place where C++ exceptions become C status codes. Every function a plugin hands to
// the host runs inside it, so no exception ever crosses the boundary.
template <class F>
mig_status guard(mig_error_buf* err, F&& body) noexcept {
    try {
        std::forward<F>(body)();
        return MIG_OK;
    } catch (const Cancelled& e) {
        detail::write_error(err, e.what());
        return MIG_CANCELLED;
    } catch (const NotImplemented& e) {
        detail::write_error(err, e.what());
        return MIG_NOT_IMPLEMENTED;
    } catch (const std::exception& e) {
        detail::write_error(err, e.what());
        return MIG_ERROR;
    } catch (...) {
        detail::write_error(err, "unknown exception (not derived from std::exception)");
        return MIG_ERROR;
    }
}

class Host;

// A prepared statement, finalized when it goes out of scope.
class Statement {
public:
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement(Statement&& o) noexcept : host_(o.host_), stmt_(std::exchange(o.stmt_, nullptr)) {}
    Statement& operator=(Statement&& o) noexcept {
        if (this != &o) {
            close();
            host_ = o.host_;
            stmt_ = std::exchange(o.stmt_, nullptr);
        }
        return *this;
    }
    ~Statement() { close(); }

    Statement& bind(int index, std::nullptr_t) { return check(host_->bind_null(stmt_, index)); }
    Statement& bind(int index, std::int64_t v) { return check(host_->bind_int64(stmt_, index, v)); }
    Statement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
    Statement& bind(int index, double v) { return check(host_->bind_double(stmt_, index, v)); }
    Statement& bind(int index, std::string_view v) {
        return check(host_->bind_text(stmt_, index, v.data(), v.size()));
    }
    Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
    Statement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }

    // Binds every argument in order, starting at parameter 1.
    template <class... Args>
    Statement& bind_all(Args&&... args) {
        int i = 0;
        (bind(++i, std::forward<Args>(args)), ...);
        return *this;
    }

    // True when a row is available, false when done; throws on error.
    bool step() {
        mig_status s = host_->step(stmt_);
        if (s == MIG_ROW) return true;
        if (s == MIG_DONE) return false;
        detail::throw_status(s, host_->errmsg(host_->ctx));
    }
    // Runs the statement to completion, ignoring rows.
    void run() {
        while (step()) {
        }
    }
    void reset() { check(host_->reset(stmt_)); }

    int columns() const { return host_->column_count(stmt_); }
    int type(int col) const { return host_->column_type(stmt_, col); }
    bool is_null(int col) const { return type(col) == MIG_TYPE_NULL; }
    std::int64_t int64(int col) const { return host_->column_int64(stmt_, col); }
    double real(int col) const { return host_->column_double(stmt_, col); }
    // Valid until the next step/reset of this statement.
    std::string_view text(int col) const {
        std::size_t len = 0;
        const char* p = host_->column_text(stmt_, col, &len);
        return p ? std::string_view(p, len) : std::string_view();
    }

private:
    friend class Host;
    Statement(const mig_host_v1* host, mig_stmt* stmt) : host_(host), stmt_(stmt) {}
    Statement& check(mig_status s) {
        if (s != MIG_OK) detail::throw_status(s, host_->errmsg(host_->ctx));
        return *this;
    }
    void close() noexcept {
        if (stmt_ != nullptr) host_->finalize(stmt_);
        stmt_ = nullptr;
    }
    const mig_host_v1* host_;
    mig_stmt* stmt_;
};

// The database as a plugin sees it during up/down. Valid only during that call.
class Host {
public:
    explicit Host(const mig_host_v1* h) : h_(h) {}

    // "sqlite" or, later, "postgresql".
    std::string_view dialect() const { return h_->dialect ? h_->dialect : ""; }

    // Runs one or more ;-separated statements; throws migrator::Error on failure.
    void exec(const char* sql) {
        if (mig_status s = h_->exec(h_->ctx, sql); s != MIG_OK) detail::throw_status(s, h_->errmsg(h_->ctx));
    }
    void exec(const std::string& sql) { exec(sql.c_str()); }

    Statement prepare(std::string_view sql) {
        mig_stmt* s = nullptr;
        if (mig_status rc = h_->prepare(h_->ctx, sql.data(), sql.size(), &s); rc != MIG_OK)
            detail::throw_status(rc, h_->errmsg(h_->ctx));
        return Statement(h_, s);
    }

    // Prepares, binds and runs a statement; returns the rows it changed.
    template <class... Args>
    std::int64_t run(std::string_view sql, Args&&... args) {
        Statement st = prepare(sql);
        st.bind_all(std::forward<Args>(args)...);
        st.run();
        return changes();
    }

    std::int64_t changes() const { return h_->changes(h_->ctx); }

    void log(int level, const std::string& msg) const { h_->log(h_->ctx, level, msg.c_str()); }
    void info(const std::string& msg) const { log(MIG_LOG_INFO, msg); }
    void warn(const std::string& msg) const { log(MIG_LOG_WARN, msg); }

    // Reports progress; throws migrator::Cancelled when the operator asked to stop.
    void progress(std::uint64_t done, std::uint64_t total) const {
        if (h_->progress(h_->ctx, done, total) != 0) throw Cancelled();
    }

    const mig_host_v1* raw() const { return h_; }

private:
    const mig_host_v1* h_;
};

// A revision step that does nothing: for revisions that only migrate blobs.
inline void no_sql(Host&) {}

// What a blob transform body reports; a row error may also be thrown (any std::exception).
enum class BlobResult { changed, unchanged, error };
// A blob transform body: reads `in`, writes the new value to `out` (cleared before the call,
// reused across rows by the same thread), or a message to `err` and returns error.
using BlobBody = BlobResult (*)(std::string_view in, std::string& out, std::string& err);

// One blob migration, for MIGRATOR_PLUGIN_BLOBS:
//   constexpr migrator::Blob kBlobs[] = {
//       migrator::blob<up_fn, down_fn>("saved_agent_message", "data", "SavedAgentMessage")};
struct Blob {
    const char* table;
    const char* column;
    const char* model;
    mig_blob_fn up;
    mig_blob_fn down;
};

namespace detail {
using StepBody = void (*)(Host&);

template <StepBody F>
mig_status trampoline(const mig_host_v1* host, mig_error_buf* err) {
    return guard(err, [&] {
        Host h(host);
        F(h);
    });
}

template <auto F>
constexpr mig_step_fn make_step() {
    if constexpr (std::is_same_v<decltype(F), std::nullptr_t>) {
        return nullptr;
    } else {
        return &trampoline<F>;
    }
}

template <BlobBody F>
mig_status blob_trampoline(const char* in, size_t in_len, const mig_sink* sink,
                           mig_error_buf* err) {
    // Per-thread scratch: no allocation per row once the buffers have grown.
    thread_local std::string out;
    thread_local std::string msg;
    out.clear();
    msg.clear();
    BlobResult r = BlobResult::error;
    mig_status st = guard(err, [&] { r = F(std::string_view(in, in_len), out, msg); });
    if (st != MIG_OK) return st;
    if (r == BlobResult::unchanged) return MIG_BLOB_UNCHANGED;
    if (r == BlobResult::error) {
        write_error(err, msg.empty() ? std::string_view("row error (no message)") : msg);
        return MIG_ERROR;
    }
    if (sink->write(sink->ctx, out.data(), out.size()) != MIG_OK) {
        write_error(err, "the host refused the output (value too large)");
        return MIG_ERROR;
    }
    return MIG_BLOB_CHANGED;
}

template <auto F>
constexpr mig_blob_fn make_blob_fn() {
    if constexpr (std::is_same_v<decltype(F), std::nullptr_t>) {
        return nullptr;
    } else {
        return &blob_trampoline<F>;
    }
}

constexpr std::size_t cstrlen(const char* s) {
    std::size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}
constexpr std::size_t pad4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Size of the note's string area (see MIG_NOTE_* in plugin_api.h), padded to 4.
constexpr std::size_t note_strings_size(const char* rev, const char* parent, const char* sum,
                                        const char* desc, const Blob* blobs, std::size_t n) {
    std::size_t size = cstrlen(rev) + cstrlen(parent) + cstrlen(sum) + cstrlen(desc) + 4;
    for (std::size_t i = 0; i < n; ++i)
        size += cstrlen(blobs[i].table) + cstrlen(blobs[i].column) + cstrlen(blobs[i].model) + 3;
    return pad4(size + 1);  // + the empty table name that ends the blob list
}

template <std::size_t Size>
constexpr std::array<char, Size> note_strings(const char* rev, const char* parent, const char* sum,
                                              const char* desc, const Blob* blobs, std::size_t n) {
    std::array<char, Size> out{};
    std::size_t pos = 0;
    auto put = [&](const char* s) {
        while (*s != '\0') out[pos++] = *s++;
        out[pos++] = '\0';
    };
    put(rev);
    put(parent);
    put(sum);
    put(desc);
    for (std::size_t i = 0; i < n; ++i) {
        put(blobs[i].table);
        put(blobs[i].column);
        put(blobs[i].model);
    }
    return out;
}

template <std::size_t N>
constexpr std::array<mig_blob_migration_v1, N> blob_descs(const Blob* blobs) {
    std::array<mig_blob_migration_v1, N> out{};
    for (std::size_t i = 0; i < N; ++i)
        out[i] = {static_cast<std::uint32_t>(sizeof(mig_blob_migration_v1)), MIG_ABI_MAJOR,
                  MIG_ABI_MINOR, blobs[i].table, blobs[i].column, blobs[i].model,
                  blobs[i].up, blobs[i].down};
    return out;
}

template <std::size_t N, std::size_t... I>
constexpr std::array<const mig_blob_migration_v1*, N> blob_ptrs_impl(
    const std::array<mig_blob_migration_v1, N>& d, std::index_sequence<I...>) {
    return {{&d[I]...}};
}
template <std::size_t N>
constexpr std::array<const mig_blob_migration_v1*, N> blob_ptrs(
    const std::array<mig_blob_migration_v1, N>& d) {
    return blob_ptrs_impl(d, std::make_index_sequence<N>{});
}

// The rules plugin_api.h gives mig_plugin_v1.frozen_schemas, checked when the plugin
// compiles, so that a declaration `check` cannot read never ships.
constexpr bool frozen_model_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}
constexpr bool frozen_schemas_valid(const char* s) {
    if (s == nullptr || *s == '\0') return true;
    const char* prev = nullptr;  // the previous line's model, for the order
    std::size_t prev_len = 0;
    while (*s != '\0') {
        const char* model = s;
        std::size_t len = 0;
        while (frozen_model_char(s[len])) ++len;
        if (len == 0 || len > 128) return false;
        if (prev != nullptr) {  // strictly increasing in byte order: sorted, no duplicates
            std::size_t i = 0;
            while (i < len && i < prev_len && model[i] == prev[i]) ++i;
            const bool greater = i < len && i < prev_len
                                     ? static_cast<unsigned char>(model[i]) > static_cast<unsigned char>(prev[i])
                                     : len > prev_len;
            if (!greater) return false;
        }
        s += len;
        for (const char* p = " sha256:"; *p != '\0'; ++p, ++s)
            if (*s != *p) return false;
        for (int i = 0; i < 64; ++i, ++s)
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
        if (*s == '\n') ++s;
        else if (*s != '\0') return false;
        prev = model;
        prev_len = len;
    }
    return true;
}

constexpr bool blobs_reversible(const Blob* blobs, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (blobs[i].down == nullptr) return false;
    return true;
}
constexpr bool blobs_complete(const Blob* blobs, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (blobs[i].up == nullptr || blobs[i].table == nullptr || blobs[i].column == nullptr ||
            blobs[i].model == nullptr || blobs[i].table[0] == '\0' || blobs[i].column[0] == '\0')
            return false;
    return true;
}
}  // namespace detail

// Declares a blob migration: UP and DOWN are BlobBody functions (DOWN may be nullptr in an
// irreversible revision); MODEL names the frozen JSON Schema the output follows, or "".
template <auto Up, auto Down>
constexpr Blob blob(const char* table, const char* column, const char* model) {
    return Blob{table, column, model, detail::make_blob_fn<Up>(), detail::make_blob_fn<Down>()};
}
}  // namespace migrator

// Defaults that MIGRATOR_PLUGIN finds when the plugin declares nothing: its unqualified lookup
// starts in the plugin's anonymous namespace, where MIGRATOR_FROZEN_SCHEMAS declares the real
// ones, and only then reaches these.
inline constexpr const char* migrator_frozen_schemas_ = nullptr;
[[maybe_unused]] inline constexpr bool migrator_plugin_emitted_ = false;

#ifndef MIGRATOR_SOURCE_CHECKSUM
#error "MIGRATOR_SOURCE_CHECKSUM is not defined: build plugins with migrator_add_plugin() from MigratorPlugin.cmake, which defines it from the source's SHA-256"
#endif

// Emits the plugin's descriptor, its entry point and its metadata note from the same
// constants, so the two can never disagree. REVISION, PARENT and DESCRIPTION are string
// constants; FLAGS an integer constant (MIG_FLAG_* bits); UP a `void(migrator::Host&)`
// function (migrator::no_sql for none); DOWN the same, or nullptr exactly when FLAGS has
// MIG_FLAG_IRREVERSIBLE. Use once per plugin, at namespace scope.
// Declares the fingerprints of the frozen JSON Schemas that the chain has been written up to
// once this revision is applied (mig_plugin_v1.frozen_schemas, ABI 1.1): a string constant of
// lines "<Model> sha256:<64 hex>", sorted by model, separated by '\n', as printed by
// `migrator fingerprints schemas/frozen` (`migrator new` writes it for you). `migrator check`
// fails when the head revision's declaration differs from the frozen schemas. Use at most
// once, at namespace scope, before MIGRATOR_PLUGIN / MIGRATOR_PLUGIN_BLOBS.
#define MIGRATOR_FROZEN_SCHEMAS(DECLARATION)                                                      \
    namespace {                                                                                 \
    static_assert(!migrator_plugin_emitted_,                                                    \
                  "MIGRATOR_FROZEN_SCHEMAS must come before MIGRATOR_PLUGIN(_BLOBS)");          \
    constexpr const char* migrator_frozen_schemas_ = DECLARATION;                               \
    static_assert(::migrator::detail::frozen_schemas_valid(migrator_frozen_schemas_),           \
                  "MIGRATOR_FROZEN_SCHEMAS: expected lines \"<Model> sha256:<64 lowercase hex>\" " \
                  "separated by '\\n', sorted by model, each model once; copy them from "       \
                  "`migrator fingerprints DIR`");                                               \
    }

#define MIGRATOR_PLUGIN(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN) \
    MIGRATOR_PLUGIN_IMPL_(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN, nullptr, 0)

// The same, for a revision with blob migrations: BLOBS is a constexpr array of migrator::Blob
// (see migrator::blob). They run after UP (and before DOWN), in the same transaction.
#define MIGRATOR_PLUGIN_BLOBS(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN, BLOBS) \
    MIGRATOR_PLUGIN_IMPL_(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN, BLOBS,      \
                          (sizeof(BLOBS) / sizeof(::migrator::Blob)))

#define MIGRATOR_PLUGIN_IMPL_(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN, BLOBS_PTR, NBLOBS) \
    namespace {                                                                                 \
    constexpr std::size_t migrator_note_size_ = ::migrator::detail::note_strings_size(          \
        REVISION, PARENT, MIGRATOR_SOURCE_CHECKSUM, DESCRIPTION, BLOBS_PTR, NBLOBS);            \
    struct migrator_note_t {                                                                    \
        std::uint32_t namesz, descsz, type;                                                     \
        char name[12];                                                                          \
        std::uint32_t format, abi_minor, flags_lo, flags_hi;                                    \
        std::array<char, migrator_note_size_> strings;                                          \
    };                                                                                          \
    __attribute__((section(MIG_NOTE_SECTION), used, aligned(4))) const migrator_note_t          \
        migrator_note_ = {                                                                      \
            sizeof(MIG_NOTE_NAME),                                                              \
            static_cast<std::uint32_t>(16 + migrator_note_size_),                               \
            MIG_NOTE_TYPE_V1,                                                                   \
            MIG_NOTE_NAME,                                                                      \
            MIG_NOTE_FORMAT_V1,                                                                 \
            MIG_ABI_MINOR,                                                                      \
            static_cast<std::uint32_t>(static_cast<std::uint64_t>(FLAGS) & 0xffffffffu),        \
            static_cast<std::uint32_t>(static_cast<std::uint64_t>(FLAGS) >> 32),                \
            ::migrator::detail::note_strings<migrator_note_size_>(                              \
                REVISION, PARENT, MIGRATOR_SOURCE_CHECKSUM, DESCRIPTION, BLOBS_PTR, NBLOBS)};   \
    constexpr auto migrator_blob_descs_ = ::migrator::detail::blob_descs<NBLOBS>(BLOBS_PTR);    \
    constexpr auto migrator_blob_ptrs_ = ::migrator::detail::blob_ptrs(migrator_blob_descs_);   \
    constexpr mig_plugin_v1 migrator_descriptor_ = {                                            \
        static_cast<std::uint32_t>(sizeof(mig_plugin_v1)),                                      \
        MIG_ABI_MAJOR,                                                                          \
        MIG_ABI_MINOR,                                                                          \
        REVISION,                                                                               \
        PARENT,                                                                                 \
        DESCRIPTION,                                                                            \
        MIGRATOR_SOURCE_CHECKSUM,                                                               \
        static_cast<std::uint64_t>(FLAGS),                                                      \
        ::migrator::detail::make_step<UP>(),                                                    \
        ::migrator::detail::make_step<DOWN>(),                                                  \
        static_cast<std::uint32_t>(NBLOBS),                                                     \
        (NBLOBS) > 0 ? migrator_blob_ptrs_.data() : nullptr,                                    \
        migrator_frozen_schemas_};                                                              \
    [[maybe_unused]] constexpr bool migrator_plugin_emitted_ = true;                            \
    static_assert(::migrator::detail::make_step<UP>() != nullptr,                               \
                  "UP must be a function (migrator::no_sql for none)");                         \
    static_assert((::migrator::detail::make_step<DOWN>() == nullptr) ==                         \
                      ((static_cast<std::uint64_t>(FLAGS) & MIG_FLAG_IRREVERSIBLE) != 0),       \
                  "DOWN is nullptr exactly when FLAGS has MIG_FLAG_IRREVERSIBLE");              \
    static_assert(::migrator::detail::blobs_complete(BLOBS_PTR, NBLOBS),                        \
                  "every blob migration needs a table, a column, a model (\"\" for none) and UP"); \
    static_assert(::migrator::detail::blobs_reversible(BLOBS_PTR, NBLOBS) ||                    \
                      (static_cast<std::uint64_t>(FLAGS) & MIG_FLAG_IRREVERSIBLE) != 0,         \
                  "a blob migration without DOWN needs MIG_FLAG_IRREVERSIBLE");                 \
    }                                                                                           \
    extern "C" __attribute__((visibility("default"))) const mig_plugin_v1* mig_get_plugin_v1(   \
        std::uint32_t host_abi_major, std::uint32_t /*host_abi_minor*/) {                       \
        return host_abi_major == MIG_ABI_MAJOR ? &migrator_descriptor_ : nullptr;               \
    }

#endif  // MIGRATOR_PLUGIN_HPP
