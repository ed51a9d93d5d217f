// A persistent pool: workers live as long as the pool and wait for the next
// job by spinning briefly, then sleeping, so that the thousands of short
// parallel sections per second of a training loop or a simulation cost
// microseconds each, not a thread start.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace inrscape {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs job(t) for every t in [0, size()), the caller as t = 0, and returns
  // when all have finished. Not reentrant.
  void run(const std::function<void(int)>& job);

  static int hardware_threads();

 private:
  void worker_loop(int t);

  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace inrscape
