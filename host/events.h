// JSON-lines event stream for the app (--events FILE|FD): one object per line, each written
// with a single write() so lines from the parent and the isolated child never interleave.
// Every event has "event" and "time"; see docs/operations.md for the list.
#pragma once

#include <string>

#include "json_out.h"
#include "status.h"

namespace migrator {

class Events {
public:
    Events() = default;
    ~Events();
    Events(const Events&) = delete;
    Events& operator=(const Events&) = delete;

    // spec: a file path (appended to, created 0600) or a file descriptor number.
    Status open(const std::string& spec);
    bool enabled() const { return fd_ >= 0; }

    // Starts an event object with "event" and "time" set; finish it with emit().
    JsonOut begin(const char* name) const;
    void emit(JsonOut& j) const;

private:
    int fd_ = -1;
    bool owned_ = false;
};

}  // namespace migrator
