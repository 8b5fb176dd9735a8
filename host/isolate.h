// Crash isolation: runs a piece of work in a forked child, so that a plugin that crashes
// (SIGSEGV, SIGABRT, ...) or exhausts memory takes down the child only. The parent learns the
// child's Status through a pipe, or the signal that killed it.
#pragma once

#include <functional>
#include <string>

#include "status.h"

namespace migrator {

struct ChildOutcome {
    Status status;       // the child's Status (when it exited), or a synthesized one
    int signal = 0;      // nonzero when the child was killed by a signal
    bool crashed() const { return signal != 0; }
};

// Forks; the child runs `work` and exits with its Status. Call only while the process has
// no other threads, and with no SQLite connection open in the parent (a connection must not
// cross a fork).
ChildOutcome run_isolated(const std::function<Status()>& work);

}  // namespace migrator
