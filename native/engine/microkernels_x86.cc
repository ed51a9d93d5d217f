// The x86 kernel sets: AVX-512 and AVX2 + FMA vector types for the one
// kernel body (kernel_body.inc). Each function carries its ISA as a target
// attribute, so the library itself stays baseline x86-64: nothing here runs
// at load time (the tables are constant-initialised), and kernel_set() is only
// asked for a path that resolve_isa() found the CPU able to run. Compiled to
// nothing on other architectures.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels.h"
#include "sincos.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own avx512fintrin.h trips this warning (_mm512_undefined_epi32).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace inrscape::engine {

// ---------------------------------------------------------------- AVX-512
#define ISA_FN __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
namespace avx512 {
namespace {
constexpr Isa kIsa = Isa::Avx512;
struct V {
  using T = __m512;
  static constexpr int lanes = 16, MR = 14, NVMAX = 2;
  ISA_FN static T zero() { return _mm512_setzero_ps(); }
  ISA_FN static T set1(float x) { return _mm512_set1_ps(x); }
  ISA_FN static T bcast(float x) { return _mm512_set1_ps(x); }
  ISA_FN static T load(const float* p) { return _mm512_loadu_ps(p); }
  ISA_FN static void store(float* p, T x) { _mm512_storeu_ps(p, x); }
  ISA_FN static void stream(float* p, T x) { _mm512_stream_ps(p, x); }  // p 64-byte aligned
  ISA_FN static void fence() { _mm_sfence(); }
  ISA_FN static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  ISA_FN static T load_part(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  ISA_FN static void store_part(float* p, T x, int n) { _mm512_mask_storeu_ps(p, mask(n), x); }
  ISA_FN static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  ISA_FN static T add(T a, T b) { return _mm512_add_ps(a, b); }
  ISA_FN static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  ISA_FN static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  ISA_FN static T div(T a, T b) { return _mm512_div_ps(a, b); }
  ISA_FN static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  // max(|x|, m); a NaN x leaves m (the fast path turns NaN into NaN itself).
  ISA_FN static T max_abs(T m, T x) { return _mm512_max_ps(_mm512_abs_ps(x), m); }
  ISA_FN static bool any_beyond(T x) { return _mm512_cmp_ps_mask(_mm512_abs_ps(x), set1(kSinCosFastLimit), _CMP_GT_OQ) != 0; }
  ISA_FN static void sincos(T x, T& s, T& c) {
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
#undef ISA_FN

// ---------------------------------------------------------------- AVX2 + FMA
#define ISA_FN __attribute__((target("avx2,fma")))
namespace avx2 {
namespace {
constexpr Isa kIsa = Isa::Avx2;
struct V {
  using T = __m256;
  static constexpr int lanes = 8, MR = 6, NVMAX = 2;
  ISA_FN static T zero() { return _mm256_setzero_ps(); }
  ISA_FN static T set1(float x) { return _mm256_set1_ps(x); }
  ISA_FN static T bcast(float x) { return _mm256_set1_ps(x); }
  ISA_FN static T load(const float* p) { return _mm256_loadu_ps(p); }
  ISA_FN static void store(float* p, T x) { _mm256_storeu_ps(p, x); }
  ISA_FN static void stream(float* p, T x) { _mm256_stream_ps(p, x); }  // p 32-byte aligned
  ISA_FN static void fence() { _mm_sfence(); }
  ISA_FN static __m256i mask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  ISA_FN static T load_part(const float* p, int n) { return n == lanes ? load(p) : _mm256_maskload_ps(p, mask(n)); }
  ISA_FN static void store_part(float* p, T x, int n) {
    if (n == lanes) store(p, x);
    else _mm256_maskstore_ps(p, mask(n), x);
  }
  ISA_FN static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  ISA_FN static T add(T a, T b) { return _mm256_add_ps(a, b); }
  ISA_FN static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  ISA_FN static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  ISA_FN static T div(T a, T b) { return _mm256_div_ps(a, b); }
  ISA_FN static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  ISA_FN static T max_abs(T m, T x) { return _mm256_max_ps(_mm256_andnot_ps(set1(-0.0f), x), m); }
  ISA_FN static bool any_beyond(T x) {
    const T abs = _mm256_andnot_ps(set1(-0.0f), x);
    return _mm256_movemask_ps(_mm256_cmp_ps(abs, set1(kSinCosFastLimit), _CMP_GT_OQ)) != 0;
  }
  ISA_FN static void sincos(T x, T& s, T& c) {
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
#undef ISA_FN

}  // namespace inrscape::engine
#endif
