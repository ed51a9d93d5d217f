// All of the engine's intrinsics: one vector type per instruction set
// (AVX-512, AVX2 + FMA, and a portable 4-wide fallback), each giving the
// register-tile kernel of kernel_body.inc its loads, stores, FMAs and a
// vectorised sin/cos. The AVX code sits in `#pragma GCC target` regions so
// that the baseline build runs on any x86-64 CPU: nothing here runs at load
// time (the tables are constant-initialised), and kernel_set() is only asked
// for a path that resolve_isa() found the CPU able to run.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.h"

// GCC 12's own avx512fintrin.h trips this warning (_mm512_undefined_epi32).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace inrscape::engine {
namespace {

// sin/cos: x = j (pi/2) + r with |r| <= pi/4 (Cody-Waite, pi/2 split in three
// floats, fused so that j * P1 is exact), then minimax polynomials (Cephes)
// for sin r and cos r, and the quadrant j picks and signs them.
constexpr float kTwoOverPi = 0.636619772367581343f;
constexpr float kP1 = 1.5707963705062866f;
constexpr float kP2 = -4.371138828673793e-08f;
constexpr float kP3 = -1.7151245100058819e-15f;
constexpr float kS1 = -1.6666654611e-1f, kS2 = 8.3321608736e-3f, kS3 = -1.9515295891e-4f;
constexpr float kC1 = 4.166664568298827e-2f, kC2 = -1.388731625493765e-3f, kC3 = 2.443315711809948e-5f;

}  // namespace

// ---------------------------------------------------------------- AVX-512
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace avx512 {
namespace {
constexpr Isa kIsa = Isa::Avx512;
constexpr int kKc = 1536;
struct V {
  using T = __m512;
  static constexpr int lanes = 16, MR = 14, NVMAX = 2;
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T bcast(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T x) { _mm512_storeu_ps(p, x); }
  static void stream(float* p, T x) { _mm512_stream_ps(p, x); }  // p 64-byte aligned
  static void fence() { _mm_sfence(); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static T load_part(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_part(float* p, T x, int n) { _mm512_mask_storeu_ps(p, mask(n), x); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  static void sincos(T x, T& s, T& c) {
    const T j = _mm512_roundscale_ps(_mm512_mul_ps(x, set1(kTwoOverPi)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q = _mm512_cvtps_epi32(j);
    T r = _mm512_fnmadd_ps(j, set1(kP1), x);
    r = _mm512_fnmadd_ps(j, set1(kP2), r);
    r = _mm512_fnmadd_ps(j, set1(kP3), r);
    const T z = _mm512_mul_ps(r, r);
    T ps = _mm512_fmadd_ps(z, set1(kS3), set1(kS2));
    ps = _mm512_fmadd_ps(z, ps, set1(kS1));
    const T sr = _mm512_fmadd_ps(_mm512_mul_ps(r, z), ps, r);
    T pc = _mm512_fmadd_ps(z, set1(kC3), set1(kC2));
    pc = _mm512_fmadd_ps(z, pc, set1(kC1));
    const T cr = _mm512_fmadd_ps(_mm512_mul_ps(z, z), pc, _mm512_fnmadd_ps(set1(0.5f), z, set1(1.0f)));
    const __mmask16 odd = _mm512_test_epi32_mask(q, _mm512_set1_epi32(1));
    const __m512i sflip = _mm512_slli_epi32(_mm512_and_si512(q, _mm512_set1_epi32(2)), 30);
    const __m512i cflip = _mm512_slli_epi32(_mm512_and_si512(_mm512_add_epi32(q, _mm512_set1_epi32(1)), _mm512_set1_epi32(2)), 30);
    s = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mask_blend_ps(odd, sr, cr)), sflip));
    c = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mask_blend_ps(odd, cr, sr)), cflip));
  }
};
#include "kernel_body.inc"
}  // namespace
const KernelSet& set() { return kSet; }
}  // namespace avx512
#pragma GCC pop_options

// ---------------------------------------------------------------- AVX2 + FMA
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
namespace {
constexpr Isa kIsa = Isa::Avx2;
constexpr int kKc = 1536;
struct V {
  using T = __m256;
  static constexpr int lanes = 8, MR = 6, NVMAX = 2;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T bcast(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T x) { _mm256_storeu_ps(p, x); }
  static void stream(float* p, T x) { _mm256_stream_ps(p, x); }  // p 32-byte aligned
  static void fence() { _mm_sfence(); }
  static __m256i mask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static T load_part(const float* p, int n) { return n == lanes ? load(p) : _mm256_maskload_ps(p, mask(n)); }
  static void store_part(float* p, T x, int n) {
    if (n == lanes) store(p, x);
    else _mm256_maskstore_ps(p, mask(n), x);
  }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  static void sincos(T x, T& s, T& c) {
    const T j = _mm256_round_ps(_mm256_mul_ps(x, set1(kTwoOverPi)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i q = _mm256_cvtps_epi32(j);
    T r = _mm256_fnmadd_ps(j, set1(kP1), x);
    r = _mm256_fnmadd_ps(j, set1(kP2), r);
    r = _mm256_fnmadd_ps(j, set1(kP3), r);
    const T z = _mm256_mul_ps(r, r);
    T ps = _mm256_fmadd_ps(z, set1(kS3), set1(kS2));
    ps = _mm256_fmadd_ps(z, ps, set1(kS1));
    const T sr = _mm256_fmadd_ps(_mm256_mul_ps(r, z), ps, r);
    T pc = _mm256_fmadd_ps(z, set1(kC3), set1(kC2));
    pc = _mm256_fmadd_ps(z, pc, set1(kC1));
    const T cr = _mm256_fmadd_ps(_mm256_mul_ps(z, z), pc, _mm256_fnmadd_ps(set1(0.5f), z, set1(1.0f)));
    const T odd = _mm256_castsi256_ps(_mm256_slli_epi32(q, 31));
    const __m256i sflip = _mm256_slli_epi32(_mm256_and_si256(q, _mm256_set1_epi32(2)), 30);
    const __m256i cflip = _mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(q, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), 30);
    s = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(_mm256_blendv_ps(sr, cr, odd)), sflip));
    c = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(_mm256_blendv_ps(cr, sr, odd)), cflip));
  }
};
#include "kernel_body.inc"
}  // namespace
const KernelSet& set() { return kSet; }
}  // namespace avx2
#pragma GCC pop_options

// ---------------------------------------------------------------- portable
// Four-wide GCC vectors (SSE2 on any x86-64), separate multiply and add, and
// the C library's sinf/cosf: slow, simple, and independent of the AVX code.
namespace scalar {
namespace {
constexpr Isa kIsa = Isa::Scalar;
constexpr int kKc = 1536;
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
  static void sincos(T x, T& s, T& c) {
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

const KernelSet& kernel_set(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512::set();
    case Isa::Avx2: return avx2::set();
    default: return scalar::set();
  }
}

}  // namespace inrscape::engine
