// Runs a callable on every thread of a pool without a heap allocation: the
// std::function holds only a reference to it.
#pragma once
#include <functional>

#include "../thread_pool.h"

namespace inrscape::engine {

template <class F>
void parallel(ThreadPool& pool, const F& f) {
  const std::function<void(int)> fn(std::cref(f));
  pool.run(fn);
}

// [begin, end) of n items for thread t of T, contiguous and balanced.
inline void split(long n, int t, int T, long& begin, long& end) {
  begin = n * t / T;
  end = n * (t + 1) / T;
}

}  // namespace inrscape::engine
