#include "isa.h"

#include <cstdlib>
#include <stdexcept>

namespace inrscape::engine {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

Isa best_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

Isa resolve_isa(const std::string& request) {
  std::string name = request;
  if (name.empty()) {
    const char* env = std::getenv("INRSCAPE_ISA");
    name = env ? env : "";
  }
  const Isa best = best_isa();
  if (name.empty() || name == "auto") return best;
  Isa want;
  if (name == "avx512") want = Isa::Avx512;
  else if (name == "avx2") want = Isa::Avx2;
  else if (name == "scalar") want = Isa::Scalar;
  else throw std::invalid_argument("unknown ISA '" + name + "' (allowed: avx512, avx2, scalar, auto)");
  if (static_cast<int>(want) > static_cast<int>(best))
    throw std::invalid_argument(std::string("this CPU cannot run the ") + isa_name(want) + " path (best: " + isa_name(best) + ")");
  return want;
}

}  // namespace inrscape::engine
