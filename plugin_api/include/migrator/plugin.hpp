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
        throw Error(host_->errmsg(host_->ctx));
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
        if (s != MIG_OK) throw Error(host_->errmsg(host_->ctx));
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
        if (h_->exec(h_->ctx, sql) != MIG_OK) throw Error(h_->errmsg(h_->ctx));
    }
    void exec(const std::string& sql) { exec(sql.c_str()); }

    Statement prepare(std::string_view sql) {
        mig_stmt* s = nullptr;
        if (h_->prepare(h_->ctx, sql.data(), sql.size(), &s) != MIG_OK)
            throw Error(h_->errmsg(h_->ctx));
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

constexpr std::uint32_t pad4(std::size_t n) { return static_cast<std::uint32_t>((n + 3) & ~std::size_t{3}); }
}  // namespace detail
}  // namespace migrator

#ifndef MIGRATOR_SOURCE_CHECKSUM
#error "MIGRATOR_SOURCE_CHECKSUM is not defined: build plugins with migrator_add_plugin() from MigratorPlugin.cmake, which defines it from the source's SHA-256"
#endif

// Emits the plugin's descriptor, its entry point and its metadata note from the same
// literals. REVISION, PARENT and DESCRIPTION must be string literals; FLAGS an integer
// constant (MIG_FLAG_* bits); UP a `void(migrator::Host&)` function; DOWN the same or nullptr
// (then FLAGS must include MIG_FLAG_IRREVERSIBLE). Use once per plugin, at namespace scope.
#define MIGRATOR_PLUGIN(REVISION, PARENT, DESCRIPTION, FLAGS, UP, DOWN)                        \
    namespace {                                                                               \
    constexpr char migrator_note_strings_[] =                                                 \
        REVISION "\0" PARENT "\0" MIGRATOR_SOURCE_CHECKSUM "\0" DESCRIPTION;                  \
    struct migrator_note_t {                                                                  \
        std::uint32_t namesz, descsz, type;                                                   \
        char name[12];                                                                        \
        std::uint32_t format, abi_minor, flags_lo, flags_hi;                                  \
        char strings[::migrator::detail::pad4(sizeof(migrator_note_strings_))];               \
    };                                                                                        \
    __attribute__((section(MIG_NOTE_SECTION), used, aligned(4))) const migrator_note_t        \
        migrator_note_ = {                                                                    \
            sizeof(MIG_NOTE_NAME),                                                            \
            static_cast<std::uint32_t>(16 + sizeof(migrator_note_t::strings)),                \
            MIG_NOTE_TYPE_V1,                                                                 \
            MIG_NOTE_NAME,                                                                    \
            MIG_NOTE_FORMAT_V1,                                                               \
            MIG_ABI_MINOR,                                                                    \
            static_cast<std::uint32_t>(static_cast<std::uint64_t>(FLAGS) & 0xffffffffu),      \
            static_cast<std::uint32_t>(static_cast<std::uint64_t>(FLAGS) >> 32),              \
            REVISION "\0" PARENT "\0" MIGRATOR_SOURCE_CHECKSUM "\0" DESCRIPTION};             \
    constexpr mig_plugin_v1 migrator_descriptor_ = {                                          \
        static_cast<std::uint32_t>(sizeof(mig_plugin_v1)),                                    \
        MIG_ABI_MAJOR,                                                                        \
        MIG_ABI_MINOR,                                                                        \
        REVISION,                                                                             \
        PARENT,                                                                               \
        DESCRIPTION,                                                                          \
        MIGRATOR_SOURCE_CHECKSUM,                                                             \
        static_cast<std::uint64_t>(FLAGS),                                                    \
        ::migrator::detail::make_step<UP>(),                                                  \
        ::migrator::detail::make_step<DOWN>()};                                               \
    static_assert(::migrator::detail::make_step<UP>() != nullptr, "UP must be a function");   \
    static_assert((::migrator::detail::make_step<DOWN>() == nullptr) ==                       \
                      ((static_cast<std::uint64_t>(FLAGS) & MIG_FLAG_IRREVERSIBLE) != 0),     \
                  "DOWN is nullptr exactly when FLAGS has MIG_FLAG_IRREVERSIBLE");            \
    }                                                                                         \
    extern "C" __attribute__((visibility("default"))) const mig_plugin_v1* mig_get_plugin_v1( \
        std::uint32_t host_abi_major, std::uint32_t /*host_abi_minor*/) {                     \
        return host_abi_major == MIG_ABI_MAJOR ? &migrator_descriptor_ : nullptr;             \
    }

#endif  // MIGRATOR_PLUGIN_HPP
