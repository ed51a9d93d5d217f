// Which instruction-set path the engine's kernels take. Chosen once per model:
// the best the CPU supports, lowered by INRSCAPE_ISA=avx2|scalar (or an
// explicit request) so that tests can exercise the fallbacks on any machine.
#pragma once
#include <string>

namespace inrscape::engine {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);

// The best path this CPU runs (AVX-512 needs F/DQ/BW/VL; AVX2 needs FMA too).
Isa best_isa();

// `request` ("" = none): "avx512" | "avx2" | "scalar" | "auto". An empty
// request falls back to the INRSCAPE_ISA environment variable. Throws
// std::invalid_argument for an unknown name or a path this CPU cannot run.
Isa resolve_isa(const std::string& request);

}  // namespace inrscape::engine
