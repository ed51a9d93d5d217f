// Cache-blocked GEMM drivers around the register-tile kernel (kernels.h), in
// the BLIS manner: portable loops, blocking and thread partitioning here; the
// few intrinsics in microkernels.cc. Work is split into fixed tiles whose
// every element is computed the same way whichever thread takes it, so results
// do not depend on the thread count.
#pragma once
#include "../thread_pool.h"
#include "kernels.h"

namespace inrscape::engine {

// A(m, k): a[m * ld + k] when kcontig, else a[k * ld + m].
struct MatA {
  const float* p;
  long ld;
  bool kcontig;
};

// B(k, j) = p[(j / pw) * panel + k * ld + j % pw]: packed panels of width pw
// (ld = pw, panel = K * pw), or a plain row-major matrix (ld = row stride,
// panel = pw). Reads may run up to the end of the last panel (or 15 floats
// past column j of a row-major matrix rounded up to whole vectors): callers
// keep that memory readable.
struct MatB {
  const float* p;
  long ld;
  long panel;
};

struct MatC {
  float* p;
  long ld;
};

struct EpiArgs {
  Epi kind = Epi::Store;
  float omega = 1.0f;
  float* aux = nullptr;  // Sine: omega cos output (nullable); Gate: the gate
  long ldaux = 0;
  // Non-temporal stores for C and aux (outputs much larger than the caches);
  // C, aux and their leading dimensions must then be vector-aligned.
  bool stream = false;
};

struct GemmContext {
  const KernelSet* ks;
  ThreadPool* pool;
};

// C = epilogue(A B) for M rows of points (M large), K and N small enough to
// be a layer's width: threads take contiguous ranges of row tiles, B is read
// in column blocks that fit the L2 cache.
void gemm_rows(const GemmContext& ctx, int M, int N, int K, MatA a, MatB b, MatC c, const EpiArgs& epi);

// C = A B with K = points (large), M and N a layer's width (weight
// gradients): K is taken in chunks, threads take disjoint blocks of C.
void gemm_reduce(const GemmContext& ctx, int M, int N, int K, MatA a, MatB b, MatC c);

// Packs B(k, j) = src[j * ld + k] (the transpose of a row-major N x K
// matrix, e.g. a weight [out][in] for the forward pass) into panels of width
// pw, zero-padded: dst needs ceil(N / pw) * K * pw floats.
// Only panels [p0, p1) are written, so that threads can share the work.
void pack_transposed(const float* src, long ld, int K, int N, int pw, float* dst, int p0, int p1);

// Packs B(k, j) = src[k * ld + j] (a row-major K x N matrix) into zero-padded
// panels of width pw.
void pack_rows(const float* src, long ld, int K, int N, int pw, float* dst, int p0, int p1);

inline long packed_size(int K, int N, int pw) { return static_cast<long>((N + pw - 1) / pw) * K * pw; }

}  // namespace inrscape::engine
