#include "worker_pool.h"

namespace migrator {

WorkerPool::WorkerPool(unsigned threads) {
    if (threads == 0) threads = 1;
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lk(m_);
        stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void WorkerPool::start(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lk(m_);
        job_ = std::move(job);
        running_ = static_cast<unsigned>(threads_.size());
        ++round_;
    }
    start_cv_.notify_all();
}

void WorkerPool::wait() {
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [this] { return running_ == 0; });
}

void WorkerPool::loop() {
    std::uint64_t seen = 0;
    while (true) {
        std::function<void()>* job = nullptr;
        {
            std::unique_lock<std::mutex> lk(m_);
            start_cv_.wait(lk, [&] { return stop_ || round_ != seen; });
            if (stop_) return;
            seen = round_;
            job = &job_;
        }
        (*job)();
        {
            std::lock_guard<std::mutex> lk(m_);
            if (--running_ == 0) done_cv_.notify_all();
        }
    }
}

}  // namespace migrator
