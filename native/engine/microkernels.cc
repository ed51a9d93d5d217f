// The portable kernel set, the wide-argument sin/cos every set falls back
// to, and the choice of a set by ISA. The ISA-specific sets live in
// microkernels_x86.cc and microkernels_neon.cc.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include "sincos.h"

namespace inrscape::engine {

#if defined(__x86_64__)
namespace avx512 { const KernelSet& set(); }
namespace avx2 { const KernelSet& set(); }
#elif defined(__aarch64__)
namespace neon { const KernelSet& set(); }
#endif

void sincos_beyond(const float* x, float* s, float* c, int n) {
  for (int i = 0; i < n; i++) {
    if (!(std::fabs(x[i]) > kSinCosFastLimit)) continue;
    const double d = x[i];
    s[i] = static_cast<float>(std::sin(d));
    c[i] = static_cast<float>(std::cos(d));
  }
}

void sine_beyond(const TileArgs& t, const float* buf, int w) {
  for (int r = 0; r < t.mr; r++) {
    for (int j = 0; j < t.nr; j++) {
      float x = buf[r * w + j] * t.omega;
      float s, c;
      if (!(std::fabs(x) > kSinCosFastLimit)) continue;
      sincos_beyond(&x, &s, &c, 1);
      t.c[r * t.ldc + j] = s;
      if (t.aux) t.aux[r * t.ldaux + j] = c * t.omega;  // as the fast path: omega cos, in float
    }
  }
}

// Four-wide vectors of the compiler's vector extension (SSE2 on any x86-64,
// NEON on arm64, plain code elsewhere), separate multiply and add, and the C
// library's sinf/cosf: slow, simple, and independent of the ISA paths.
#define ISA_FN
namespace scalar {
namespace {
constexpr Isa kIsa = Isa::Scalar;
struct V {
  typedef float T __attribute__((vector_size(16)));
  static constexpr int lanes = 4, MR = 4, NVMAX = 2;
  static T zero() { return T{0.0f, 0.0f, 0.0f, 0.0f}; }
  static T set1(float x) { return T{x, x, x, x}; }
  static T bcast(float x) { return set1(x); }
  static T load(const float* p) {
    T x;
    std::memcpy(&x, p, sizeof x);
    return x;
  }
  static void store(float* p, T x) { std::memcpy(p, &x, sizeof x); }
  static void stream(float* p, T x) { store(p, x); }
  static void fence() {}
  static T load_part(const float* p, int n) {
    T x = zero();
    for (int i = 0; i < n; i++) x[i] = p[i];
    return x;
  }
  static void store_part(float* p, T x, int n) {
    for (int i = 0; i < n; i++) p[i] = x[i];
  }
  static T fma(T a, T b, T c) { return a * b + c; }
  static T add(T a, T b) { return a + b; }
  static T sub(T a, T b) { return a - b; }
  static T mul(T a, T b) { return a * b; }
  static T div(T a, T b) { return a / b; }
  static T sqrt(T a) {
    for (int i = 0; i < lanes; i++) a[i] = std::sqrt(a[i]);
    return a;
  }
  static T max_abs(T m, T) { return m; }
  static bool any_beyond(T) { return false; }  // the C library reduces any argument
  static void sincos(T x, T& s, T& c) {
    s = c = zero();
    for (int i = 0; i < lanes; i++) {
      s[i] = std::sin(x[i]);
      c[i] = std::cos(x[i]);
    }
  }
};
#include "kernel_body.inc"
}  // namespace
const KernelSet& set() { return kSet; }
}  // namespace scalar
#undef ISA_FN

const KernelSet& kernel_set(Isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::Avx512: return avx512::set();
    case Isa::Avx2: return avx2::set();
#elif defined(__aarch64__)
    case Isa::Neon: return neon::set();
#endif
    default: return scalar::set();
  }
}

}  // namespace inrscape::engine
