// The AArch64 kernel set: an Advanced SIMD (NEON) vector type for the one
// kernel body (kernel_body.inc). NEON is part of every AArch64 CPU, so no
// target attribute is needed. Compiled to nothing on other architectures.
//
// Tile: 6 rows x 16 columns (4 vectors), 24 accumulators + 4 B vectors + 1
// broadcast A of the 32 vector registers. A 16-wide panel leaves no padding
// on the widths a SIREN uses (multiples of 16).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>

#include "kernels.h"
#include "sincos.h"

namespace inrscape::engine {

#define ISA_FN
namespace neon {
namespace {
constexpr Isa kIsa = Isa::Neon;
struct V {
  using T = float32x4_t;
  static constexpr int lanes = 4, MR = 6, NVMAX = 4;
  static T zero() { return vdupq_n_f32(0.0f); }
  static T set1(float x) { return vdupq_n_f32(x); }
  static T bcast(float x) { return vdupq_n_f32(x); }
  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T x) { vst1q_f32(p, x); }
  // No streaming store worth having here: plain stores, and nothing to fence.
  static void stream(float* p, T x) { vst1q_f32(p, x); }
  static void fence() {}
  static T load_part(const float* p, int n) {
    if (n == lanes) return load(p);
    float b[lanes] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; i++) b[i] = p[i];
    return vld1q_f32(b);
  }
  static void store_part(float* p, T x, int n) {
    if (n == lanes) return store(p, x);
    float b[lanes];
    vst1q_f32(b, x);
    for (int i = 0; i < n; i++) p[i] = b[i];
  }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }  // c + a b, one rounding
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T div(T a, T b) { return vdivq_f32(a, b); }
  static T sqrt(T a) { return vsqrtq_f32(a); }
  static T max_abs(T m, T x) { return vmaxnmq_f32(vabsq_f32(x), m); }  // a NaN x leaves m
  static bool any_beyond(T x) { return vmaxvq_u32(vcagtq_f32(x, set1(kSinCosFastLimit))) != 0; }
  // The same operations, in the same order, as the x86 paths (sincos.h).
  static void sincos(T x, T& s, T& c) {
    const T j = vrndnq_f32(vmulq_f32(x, set1(kTwoOverPi)));
    const int32x4_t q = vcvtq_s32_f32(j);
    T r = vfmsq_f32(x, j, set1(kP1));  // x - j P1, one rounding
    r = vfmsq_f32(r, j, set1(kP2));
    r = vfmsq_f32(r, j, set1(kP3));
    const T z = vmulq_f32(r, r);
    T ps = vfmaq_f32(set1(kS2), z, set1(kS3));
    ps = vfmaq_f32(set1(kS1), z, ps);
    const T sr = vfmaq_f32(r, vmulq_f32(r, z), ps);
    T pc = vfmaq_f32(set1(kC2), z, set1(kC3));
    pc = vfmaq_f32(set1(kC1), z, pc);
    const T cr = vfmaq_f32(vfmsq_f32(set1(1.0f), set1(0.5f), z), vmulq_f32(z, z), pc);
    const uint32x4_t odd = vtstq_s32(q, vdupq_n_s32(1));
    const uint32x4_t sflip = vshlq_n_u32(vreinterpretq_u32_s32(vandq_s32(q, vdupq_n_s32(2))), 30);
    const uint32x4_t cflip = vshlq_n_u32(vreinterpretq_u32_s32(vandq_s32(vaddq_s32(q, vdupq_n_s32(1)), vdupq_n_s32(2))), 30);
    s = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(vbslq_f32(odd, cr, sr)), sflip));
    c = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(vbslq_f32(odd, sr, cr)), cflip));
  }
};
#include "kernel_body.inc"
}  // namespace
const KernelSet& set() { return kSet; }
}  // namespace neon
#undef ISA_FN

}  // namespace inrscape::engine
#endif
