// Status: the one error value inside the host. Every stage returns one; main() turns it into
// a process exit code in exactly one place (exit_code()).
#pragma once

#include <string>
#include <utility>

namespace migrator {

// Each code is a documented process exit code (see docs/operations.md and `migrator --help`).
enum class Code : int {
    ok = 0,
    migration_failed = 1,    // a revision failed; the transaction was rolled back
    usage = 2,               // bad command line
    plugin_set_invalid = 3,  // bad/duplicate/missing/unsafe plugin, broken chain, checksum drift
    db_newer_than_app = 4,   // the DB is at a revision this plugin set does not know
    db_busy = 5,             // another process holds the DB past the wait
    db_error = 6,            // cannot open/read/write the DB (missing, read-only, corrupt, I/O)
    not_at_head = 7,         // `verify`: the DB is valid but has pending revisions
    reset_performed = 8,     // `start`: migration failed, DB backed up and reset; usable, at head
    killed = 9,              // the migration process was SIGKILLed (OOM killer, operator); rolled back
    cancelled = 130,         // interrupted (SIGINT/SIGTERM); rolled back
};

class Status {
public:
    Status() = default;
    Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }

    bool is_ok() const { return code_ == Code::ok; }
    explicit operator bool() const { return is_ok(); }
    Code code() const { return code_; }
    const std::string& message() const { return message_; }

    // Prefixes context ("while applying 0003_x: ") keeping the code.
    Status with_context(const std::string& ctx) const {
        return is_ok() ? *this : Status(code_, ctx + message_);
    }

private:
    Code code_ = Code::ok;
    std::string message_;
};

inline int exit_code(Code c) { return static_cast<int>(c); }
const char* code_name(Code c);

}  // namespace migrator

// Returns early from the enclosing function when a Status-returning expression fails.
#define MIG_TRY(expr)                                  \
    do {                                               \
        ::migrator::Status mig_try_status_ = (expr);   \
        if (!mig_try_status_.is_ok()) return mig_try_status_; \
    } while (0)
