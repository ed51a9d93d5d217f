// Which instruction-set path the engine's kernels take. Chosen once per model:
// the best the CPU supports, lowered by INRSCAPE_ISA (or an explicit request)
// so that tests can exercise the other paths on any machine.
#pragma once
#include <string>
#include <vector>

namespace inrscape::engine {

// Neon is AArch64's Advanced SIMD (always present there); Avx2 needs FMA too;
// Avx512 needs F/DQ/BW/VL. Scalar is the portable path every CPU runs.
enum class Isa { Scalar, Avx2, Avx512, Neon };

const char* isa_name(Isa isa);

// Every path this CPU runs, best first; the last one is always Scalar.
std::vector<Isa> supported_isas();

Isa best_isa();

// `request` ("" = none): a path's name or "auto". An empty request falls back
// to the INRSCAPE_ISA environment variable. Throws std::invalid_argument for
// an unknown name or a path this CPU cannot run.
Isa resolve_isa(const std::string& request);

}  // namespace inrscape::engine
