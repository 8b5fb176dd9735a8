// A fixed set of threads that all run the same job once per round; the job pulls its work
// items from a shared counter. Used by the blob engine to transform a batch of rows in
// parallel while the main thread does the SQLite I/O.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace migrator {

class WorkerPool {
public:
    explicit WorkerPool(unsigned threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Starts a round: every thread calls job() once. Returns at once.
    void start(std::function<void()> job);
    // Waits for the round started last.
    void wait();
    unsigned size() const { return static_cast<unsigned>(threads_.size()); }

private:
    void loop();
    std::vector<std::thread> threads_;
    std::mutex m_;
    std::condition_variable start_cv_;
    std::condition_variable done_cv_;
    std::function<void()> job_;
    std::uint64_t round_ = 0;
    unsigned running_ = 0;
    bool stop_ = false;
};

}  // namespace migrator
