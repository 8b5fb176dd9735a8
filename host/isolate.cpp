#include "isolate.h"
#include "log.h"

#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace migrator {
namespace {

void write_all(int fd, const std::string& s) {
    const char* p = s.data();
    size_t n = s.size();
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= static_cast<size_t>(w);
    }
}

// The child being waited for: SIGINT/SIGTERM sent to the parent (a service manager stopping the
// server, an operator) are passed on to it, so that it cancels and rolls back (exit 130)
// instead of being orphaned and committing after the parent is gone.
volatile sig_atomic_t g_child = 0;
extern "C" void forward_signal(int sig) {
    if (g_child > 0) ::kill(static_cast<pid_t>(g_child), sig);
}

// Forwards SIGINT and SIGTERM to the child while it lives.
class ForwardSignals {
public:
    explicit ForwardSignals(pid_t child) {
        g_child = child;
        struct sigaction sa {};
        sa.sa_handler = forward_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~ForwardSignals() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
        g_child = 0;
    }
    ForwardSignals(const ForwardSignals&) = delete;
    ForwardSignals& operator=(const ForwardSignals&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

}  // namespace

// SIGINT/SIGTERM stay blocked from before fork() until each side is ready for them: the parent
// until it forwards them, the child until its handlers are back to the defaults. A signal in
// between is held, not lost, and not handled by the wrong handler.
class BlockStopSignals {
public:
    BlockStopSignals() {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGINT);
        sigaddset(&s, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &s, &old_);
    }
    ~BlockStopSignals() { release(); }
    void release() {
        if (released_) return;
        released_ = true;
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    BlockStopSignals(const BlockStopSignals&) = delete;
    BlockStopSignals& operator=(const BlockStopSignals&) = delete;

private:
    sigset_t old_;
    bool released_ = false;
};

ChildOutcome run_isolated(const std::function<Status()>& work) {
    ChildOutcome out;
    int fds[2];
    BlockStopSignals blocked;
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        out.status = {Code::db_error, fmt::format("cannot create a pipe: {}", std::strerror(errno))};
        return out;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        out.status = {Code::db_error, fmt::format("cannot fork: {}", std::strerror(errno))};
        return out;
    }
    if (pid == 0) {
        ::close(fds[0]);
        // A parent's forwarding handler must not run here; the work installs its own
        // cancel-on-signal handling around the migration.
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        blocked.release();
        Status st;
        try {
            st = work();
        } catch (const std::exception& e) {
            // A host bug or an exhausted resource, not the migration's failure: reported as an
            // environment problem (never answered with a reset); the transaction died with it.
            // Words only if they can be allocated: this may be bad_alloc.
            st = {Code::db_error, std::string()};
            try {
                st = {Code::db_error,
                      fmt::format("internal error in the migration process: {}; nothing was committed", e.what())};
            } catch (...) {
            }
        } catch (...) {
            st = {Code::db_error, std::string()};
        }
        // "<exit code>\n<message>": the code carries the failure class. If even that cannot be
        // built, the bare exit code tells the parent the class.
        try {
            write_all(fds[1], fmt::format("{}\n{}", exit_code(st.code()),
                                          st.message().empty() && st.code() == Code::db_error
                                              ? "internal error in the migration process; nothing was committed"
                                              : st.message()));
        } catch (...) {
            ::_exit(exit_code(Code::db_error));
        }
        ::close(fds[1]);
        std::fflush(stdout);
        std::fflush(stderr);
        log_shutdown();
        ::_exit(exit_code(st.code()));
    }
    ::close(fds[1]);
    ForwardSignals forward(pid);
    blocked.release();  // a signal held since fork() is forwarded now
    std::string msg;
    char buf[4096];
    while (true) {
        ssize_t r = ::read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        msg.append(buf, static_cast<size_t>(r));
    }
    ::close(fds[0]);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(wstatus)) {
        out.signal = WTERMSIG(wstatus);
        // SIGKILL comes from outside (the OOM killer, an operator), not from the plugin's own
        // bug: an environment problem the next start retries, with its own exit code.
        // SIGINT/SIGTERM (ours, forwarded, before the work's own cancel handling was in place):
        // a cancel, rolled back like one; never a crash, which `start` would answer with a reset.
        if (out.signal == SIGINT || out.signal == SIGTERM) {
            out.signal = 0;
            out.status = {Code::cancelled, fmt::format("cancelled by signal {} ({}) before the migration could handle it; "
                                                       "rolled back",
                                                       WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)))};
            return out;
        }
        if (out.signal == SIGKILL)
            out.status = {Code::killed,
                          fmt::format("the migration process was killed by signal {} ({}: out of memory, "
                                      "or stopped by an operator); rolled back, the next start retries",
                                      out.signal, strsignal(out.signal))};
        else
            out.status = {Code::migration_failed,
                          fmt::format("the migration process was killed by signal {} ({})", out.signal,
                                      strsignal(out.signal))};
        return out;
    }
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
    size_t nl = msg.find('\n');
    // Only a child that wrote "<its exit code>\n" finished the work: anything else exited from
    // inside it (a plugin or a library calling exit(), whatever code it chose).
    if (nl == std::string::npos || msg.substr(0, nl) != std::to_string(code)) {
        if (msg.empty() && code == exit_code(Code::db_error)) {
            out.status = {Code::db_error, "internal error in the migration process; nothing was committed"};
            return out;
        }
        out.status = {Code::migration_failed,
                      fmt::format("the migration process exited (code {}) before the migration finished, "
                                  "without reporting a result: a plugin, or a library it uses, called exit(); "
                                  "nothing was committed",
                                  code)};
        return out;
    }
    std::string text = msg.substr(nl + 1);
    out.status = code == 0 ? Status::ok() : Status(static_cast<Code>(code), text);
    return out;
}

}  // namespace migrator
