#include "isa.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace inrscape::engine {
namespace {
constexpr Isa kAll[] = {Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Scalar};
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
    default: return "scalar";
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    out.push_back(Isa::Avx512);
  if (avx2) out.push_back(Isa::Avx2);
#elif defined(__aarch64__)
  out.push_back(Isa::Neon);
#endif
  out.push_back(Isa::Scalar);
  return out;
}

Isa best_isa() { return supported_isas().front(); }

Isa resolve_isa(const std::string& request) {
  std::string name = request;
  if (name.empty()) {
    const char* env = std::getenv("INRSCAPE_ISA");
    name = env ? env : "";
  }
  const std::vector<Isa> here = supported_isas();
  if (name.empty() || name == "auto") return here.front();
  const Isa* want = std::find_if(std::begin(kAll), std::end(kAll), [&](Isa i) { return name == isa_name(i); });
  if (want == std::end(kAll)) throw std::invalid_argument("unknown ISA '" + name + "' (allowed: avx512, avx2, neon, scalar, auto)");
  if (std::find(here.begin(), here.end(), *want) == here.end())
    throw std::invalid_argument(std::string("this CPU cannot run the ") + isa_name(*want) + " path (best: " + isa_name(here.front()) + ")");
  return *want;
}

}  // namespace inrscape::engine
