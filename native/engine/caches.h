// The data-cache sizes the GEMM blocking is cut to, read from the machine
// once (Linux: /sys, else sysconf; macOS: sysctl), so that a block sized for
// one CPU does not spill on another.
#pragma once

namespace inrscape::engine {

struct CacheSizes {
  long l1d;  // bytes, per core
  long l2;   // bytes, per core (a cluster's shared L2 is divided by its cores)
  long l3;   // bytes, whole chip; 0 when there is none
};

// Read once, then the same answer for the life of the process. Sizes the
// system does not report fall back to 32 KiB L1d and 512 KiB L2, the smallest
// of the CPUs this engine targets, so a guess never overfills a cache.
const CacheSizes& cache_sizes();

}  // namespace inrscape::engine
