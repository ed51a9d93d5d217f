// The vectorised sin/cos of every kernel set: x = j (pi/2) + r with
// |r| <= pi/4 (Cody-Waite, pi/2 split in three floats, fused so that j * P1
// is exact), then minimax polynomials (Cephes) for sin r and cos r, and the
// quadrant j picks and signs them. One set of constants for all ISAs, so that
// the paths differ only in how they apply them.
#pragma once
#include "kernels.h"

namespace inrscape::engine {

constexpr float kTwoOverPi = 0.636619772367581343f;
constexpr float kP1 = 1.5707963705062866f;
constexpr float kP2 = -4.371138828673793e-08f;
constexpr float kP3 = -1.7151245100058819e-15f;
constexpr float kS1 = -1.6666654611e-1f, kS2 = 8.3321608736e-3f, kS3 = -1.9515295891e-4f;
constexpr float kC1 = 4.166664568298827e-2f, kC2 = -1.388731625493765e-3f, kC3 = 2.443315711809948e-5f;

// Measured against float64 on the AVX2 path: the three-float reduction is
// within 1.0e-7 of sin and cos up to |x| = 2^19; beyond, the rounding of
// j * P2 grows with j (3e-7 at 2^20, 3e-2 at 2^24), and from 2^25 on the
// results are finite garbage (errors of 15 at 2^25, 4e37 at 2^40). A SIREN's
// omega x stays within a few hundred; only a diverging run gets this far, and
// lanes above this limit (2^18, a factor 2 of margin) take sincos_beyond.
constexpr float kSinCosFastLimit = 262144.0f;

// Recomputes lanes with |x| > kSinCosFastLimit in float64 through the C
// library's full range reduction (accurate for any finite x; NaN for an
// infinity), so that no argument gives an inaccurate finite value. Plain
// code on purpose: it runs only for diverging runs.
void sincos_beyond(const float* x, float* s, float* c, int n);

// The same for a Sine tile's epilogue (kernels.h): rewrites C and aux where
// |omega x| of the tile's sums in buf (row stride w) is beyond the limit.
void sine_beyond(const TileArgs& t, const float* buf, int w);

}  // namespace inrscape::engine
