#include "caches.h"

#include <fstream>
#include <string>

#if defined(__APPLE__)
#include <sys/sysctl.h>
#else
#include <unistd.h>
#endif

namespace inrscape::engine {
namespace {

constexpr long kDefaultL1d = 32 * 1024;
constexpr long kDefaultL2 = 512 * 1024;

#if defined(__APPLE__)
long sysctl_long(const char* name) {
  long long v = 0;
  size_t n = sizeof v;
  return sysctlbyname(name, &v, &n, nullptr, 0) == 0 ? static_cast<long>(v) : 0;
}

CacheSizes read_caches() {
  // Apple silicon reports per performance level; level 0 is the fast cores.
  long l1 = sysctl_long("hw.perflevel0.l1dcachesize");
  if (l1 <= 0) l1 = sysctl_long("hw.l1dcachesize");
  long l2 = sysctl_long("hw.perflevel0.l2cachesize");
  const long sharing = sysctl_long("hw.perflevel0.cpusperl2");
  if (l2 > 0 && sharing > 1) l2 /= sharing;
  if (l2 <= 0) l2 = sysctl_long("hw.l2cachesize");
  return {l1, l2, sysctl_long("hw.l3cachesize")};
}
#else
// One /sys/devices/system/cpu/cpu0/cache/indexN entry: "32K", "1024K", "32M".
long sys_cache(int level, bool data) {
  for (int i = 0; i < 8; i++) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream lf(dir + "level"), tf(dir + "type"), sf(dir + "size");
    int lv = 0;
    std::string type, size;
    if (!(lf >> lv) || !(tf >> type) || !(sf >> size) || lv != level) continue;
    if (type == "Instruction" || (data && type != "Data" && type != "Unified")) continue;
    long v = 0;
    size_t used = 0;
    try {
      v = std::stol(size, &used);
    } catch (...) {
      continue;
    }
    const char unit = used < size.size() ? size[used] : ' ';
    return unit == 'K' ? v * 1024 : unit == 'M' ? v * 1024 * 1024 : v;
  }
  return 0;
}

CacheSizes read_caches() {
  // The kernel's view first (what lscpu shows); glibc's cpuid reading is the
  // fallback (on some virtual machines it reports the host's whole L3).
  CacheSizes c{sys_cache(1, true), sys_cache(2, true), sys_cache(3, true)};
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  if (c.l1d <= 0) c.l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  if (c.l2 <= 0) c.l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (c.l3 <= 0) c.l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
  return c;
}
#endif

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes sizes = [] {
    CacheSizes c = read_caches();
    if (c.l1d <= 0) c.l1d = kDefaultL1d;
    if (c.l2 <= 0) c.l2 = kDefaultL2;
    if (c.l3 < 0) c.l3 = 0;
    return c;
  }();
  return sizes;
}

}  // namespace inrscape::engine
