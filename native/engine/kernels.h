// The engine's only ISA-specific code: one register-tile GEMM micro-kernel
// with fused epilogues, per instruction set. Everything around it (blocking,
// packing, threads, the model) is portable and lives in gemm.cc / siren.cc.
//
// A tile computes C[mr x nr] = A[mr x kc] * B[kc x nr] with
//   A(r, k) = a[r * lda + k]  (a_kcontig: rows of A are contiguous in k), or
//   A(r, k) = a[k * lda + r]  (otherwise: columns of A are contiguous),
//   B(k, j) = b[k * ldb + j]  (packed weight panels have ldb = panel width),
// then applies the epilogue to each element x of the tile:
//   Store: C = x
//   Sine:  C = sin(omega x), and aux = omega cos(omega x) when aux != null
//   Gate:  C = x * aux      (the cos-gated gradient of a sine layer)
// With accumulate, the sums start from C (stored by the previous K chunk)
// instead of zero, so that an element is one fixed chain of fused
// multiply-adds over all k, whatever the tile, K chunk, thread or partition:
// results depend on the ISA only.
#pragma once
#include "isa.h"

namespace inrscape::engine {

enum class Epi : int { Store = 0, Sine = 1, Gate = 2 };

struct TileArgs {
  int kc = 0;
  const float* a = nullptr;
  long lda = 0;
  bool a_kcontig = true;
  const float* b = nullptr;
  long ldb = 0;
  float* c = nullptr;
  long ldc = 0;
  int mr = 0;  // valid rows, 1..mr of the kernel set
  int nr = 0;  // valid columns, 1..pw of the kernel set
  Epi epi = Epi::Store;
  bool accumulate = false;  // start from C instead of zero
  float omega = 1.0f;
  float* aux = nullptr;
  long ldaux = 0;
  // Write the Sine/Gate outputs with non-temporal stores where whole aligned
  // vectors allow (for outputs far larger than the caches); the caller then
  // runs store_fence() before another thread reads them.
  bool stream = false;
};

// One Adam step in float32 over n parameters (torch.optim.Adam's formula):
//   g' = g clip; m = beta1 m + (1 - beta1) g'; v = beta2 v + (1 - beta2) g'^2
//   p -= step_size m / (sqrt(v) / sqrt(bias_correction2) + eps)
struct AdamCoef {
  float clip, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps;
};

struct KernelSet {
  Isa isa;
  int mr;     // rows of a register tile
  int pw;     // columns of a register tile = width of a packed B panel
  int lanes;  // floats per vector register
  void (*tile)(const TileArgs&);
  void (*store_fence)();
  void (*adam)(float* p, float* m, float* v, const float* g, long n, const AdamCoef& c);
  // y[i] = sin(omega x[i]) and, when c != null, c[i] = omega cos(omega x[i]); for tests.
  void (*sincos)(const float* x, int n, float omega, float* s, float* c);
};

const KernelSet& kernel_set(Isa isa);

}  // namespace inrscape::engine
