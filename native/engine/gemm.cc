#include "gemm.h"

#include <algorithm>
#include <cstring>

#include "caches.h"
#include "parallel.h"

namespace inrscape::engine {
namespace {

// How the GEMMs are cut, from this machine's caches and the kernel set's tile
// (mr x pw). Chunking K never changes a result (a tile continues its sums
// from C, so every element is one chain of FMAs in k order), so these sizes
// may follow the machine while results stay bit-identical for an ISA.
struct Blocking {
  long block_floats;  // gemm_rows: B panels that all row tiles of a thread reuse, in 5/8 of L2
  int kc;             // gemm_rows: a row tile's A micro-panel (mr x kc), in half of L1, meets every panel of a block
  // gemm_rows: K up to this stays whole (a micro-panel up to 5/4 of L1, the
  // largest measured faster whole). A split stores every tile's partial sums
  // to C and loads them back, in lines that are not cached, which costs more
  // than reading the micro-panel from L2 for each panel: K whole gained 6-8%
  // of a step at hidden 384 on a 32 KiB L1 (Zen 4, micro-panel 0.66 of L1),
  // 1-9% at hidden 768 and 1024 on a 48 KiB L1 (Zen 5, 0.9 and 1.2 of L1).
  // Where K must be split anyway, half-L1 chunks measured 2% faster than
  // 3/4-L1 ones (hidden 1024, Zen 4).
  long k_whole;
  // gemm_reduce: a B micro-panel (kc x pw) as large as L1, meeting every row
  // tile (half of L1 measured 5-10% slower at hidden 128 and 384 on a Zen 3).
  int reduce_kc;
};

Blocking blocking(const KernelSet& ks) {
  const CacheSizes& c = cache_sizes();
  const long half_l1 = c.l1d / 2 / static_cast<long>(sizeof(float));
  auto chunk = [](long floats, int per_k) { return static_cast<int>(std::clamp<long>(floats / per_k / 16 * 16, 64, 4096)); };
  return {c.l2 * 5 / 8 / static_cast<long>(sizeof(float)), chunk(half_l1, ks.mr), half_l1 * 5 / 2 / ks.mr, chunk(2 * half_l1, ks.pw)};
}

// Splits [0, n) into the fewest chunks of at most `most`, of equal size.
int even_chunk(int n, int most) {
  const int chunks = (n + most - 1) / most;
  return (n + chunks - 1) / chunks;
}
}  // namespace

void gemm_rows(const GemmContext& ctx, int M, int N, int K, MatA a, MatB b, MatC c, const EpiArgs& epi) {
  const KernelSet& ks = *ctx.ks;
  const int mr = ks.mr, pw = ks.pw;
  const long tiles = (M + mr - 1) / mr;
  const int panels = (N + pw - 1) / pw;
  // Column blocks of B (all of K) that fit the L2 cache; K is split only where
  // a row tile's A micro-panel would be over 5/4 of L1, then in chunks of half
  // of L1 (the tiles carry partial sums in C from one chunk to the next).
  const Blocking bl = blocking(ks);
  const int per_block = even_chunk(panels, static_cast<int>(std::max<long>(1, bl.block_floats / (static_cast<long>(K) * pw))));
  const int kc = K <= bl.k_whole ? K : even_chunk(K, bl.kc);
  const int T = ctx.pool->size();
  auto job = [&](int t) {
    long t0, t1;
    split(tiles, t, T, t0, t1);
    TileArgs ta;
    ta.lda = a.ld;
    ta.a_kcontig = a.kcontig;
    ta.ldb = b.ld;
    ta.ldc = c.ld;
    ta.omega = epi.omega;
    ta.ldaux = epi.ldaux;
    ta.stream = epi.stream;
    for (int p0 = 0; p0 < panels; p0 += per_block) {
      const int p1 = std::min(panels, p0 + per_block);
      for (long i = t0; i < t1; i++) {
        const long m0 = i * mr;
        ta.mr = static_cast<int>(std::min<long>(mr, M - m0));
        for (int k0 = 0; k0 < K; k0 += kc) {
          ta.kc = std::min(kc, K - k0);
          ta.accumulate = k0 > 0;
          ta.epi = k0 + ta.kc == K ? epi.kind : Epi::Store;
          ta.a = a.kcontig ? a.p + m0 * a.ld + k0 : a.p + static_cast<long>(k0) * a.ld + m0;
          for (int p = p0; p < p1; p++) {
            const int j0 = p * pw;
            ta.nr = std::min(pw, N - j0);
            ta.b = b.p + p * b.panel + static_cast<long>(k0) * b.ld;
            ta.c = c.p + m0 * c.ld + j0;
            ta.aux = epi.aux ? epi.aux + m0 * epi.ldaux + j0 : nullptr;
            ks.tile(ta);
          }
        }
      }
    }
    if (epi.stream) ks.store_fence();
  };
  parallel(*ctx.pool, job);
}

void gemm_reduce(const GemmContext& ctx, int M, int N, int K, MatA a, MatB b, MatC c) {
  const KernelSet& ks = *ctx.ks;
  const int mr = ks.mr, pw = ks.pw;
  const long tiles = (M + mr - 1) / mr;
  const long panels = (N + pw - 1) / pw;
  const int T = ctx.pool->size();
  const int chunk = blocking(ks).reduce_kc;
  // C is a layer's width. Threads take row tiles, each meeting every panel,
  // unless the last tile's few rows leave one thread more than 5% over an
  // equal share (hidden 128, mr 14: 70 against 58 rows); then they take runs
  // of (panel, row tile) pairs, panel-major so that a run shares its B
  // micro-panels, of equal work (rows times vectors). Side by side on a Zen 5
  // (shared, noisy), pairs gave a median 6.5% more steps/s at hidden 128 and
  // 3-7% fewer at hidden 384, where rows split within 4%.
  const long units = tiles * panels;
  auto rows_of = [&](long i) { return std::min<long>(mr, M - i * mr); };
  auto work = [&](long u) { return rows_of(u % tiles) * ((std::min<long>(pw, N - u / tiles * pw) + ks.lanes - 1) / ks.lanes); };
  long most_rows = 0;
  for (int t = 0; t < T; t++) {
    long i0, i1, rows = 0;
    split(tiles, t, T, i0, i1);
    for (long i = i0; i < i1; i++) rows += rows_of(i);
    most_rows = std::max(most_rows, rows);
  }
  const bool by_rows = most_rows * T * 20 <= static_cast<long>(M) * 21;
  long total = 0;
  if (!by_rows)
    for (long u = 0; u < units; u++) total += work(u);
  auto job = [&](int t) {
    long i0 = 0, i1 = tiles, u0 = 0, u1 = units;
    if (by_rows) {
      split(tiles, t, T, i0, i1);
    } else {
      // A pair belongs to the thread whose share of the work its start falls in.
      long done = 0;
      for (u0 = 0; u0 < units && done * T < total * t; u0++) done += work(u0);
      for (u1 = u0; u1 < units && done * T < total * (t + 1); u1++) done += work(u1);
    }
    if (i0 >= i1 || u0 >= u1) return;
    TileArgs ta;
    ta.lda = a.ld;
    ta.a_kcontig = a.kcontig;
    ta.ldb = b.ld;
    ta.ldc = c.ld;
    ta.epi = Epi::Store;
    for (int k0 = 0; k0 < K; k0 += chunk) {
      ta.kc = std::min(chunk, K - k0);
      ta.accumulate = k0 > 0;
      for (long p = u0 / tiles; p < panels && p * tiles < u1; p++) {
        const int j0 = static_cast<int>(p) * pw;
        ta.nr = std::min(pw, N - j0);
        ta.b = b.p + p * b.panel + static_cast<long>(k0) * b.ld;
        for (long i = std::max(i0, u0 - p * tiles); i < std::min(i1, u1 - p * tiles); i++) {
          const long m0 = i * mr;
          ta.mr = static_cast<int>(rows_of(i));
          ta.a = a.kcontig ? a.p + m0 * a.ld + k0 : a.p + static_cast<long>(k0) * a.ld + m0;
          ta.c = c.p + m0 * c.ld + j0;
          ks.tile(ta);
        }
      }
    }
  };
  parallel(*ctx.pool, job);
}

void pack_transposed(const float* src, long ld, int K, int N, int pw, float* dst, int p0, int p1) {
  constexpr int kb = 64;  // k block: a pw x kb slab of src stays in L1 while it is spread out
  for (int p = p0; p < p1; p++) {
    float* out = dst + static_cast<long>(p) * K * pw;
    const int j0 = p * pw, nj = std::min(pw, N - j0);
    for (int k0 = 0; k0 < K; k0 += kb) {
      const int k1 = std::min(K, k0 + kb);
      for (int jj = 0; jj < pw; jj++) {
        if (jj < nj) {
          const float* row = src + (j0 + jj) * ld;
          for (int k = k0; k < k1; k++) out[k * pw + jj] = row[k];
        } else {
          for (int k = k0; k < k1; k++) out[k * pw + jj] = 0.0f;
        }
      }
    }
  }
}

void pack_rows(const float* src, long ld, int K, int N, int pw, float* dst, int p0, int p1) {
  for (int p = p0; p < p1; p++) {
    float* out = dst + static_cast<long>(p) * K * pw;
    const int j0 = p * pw, nj = std::min(pw, N - j0);
    for (int k = 0; k < K; k++) {
      std::memcpy(out + k * pw, src + k * ld + j0, sizeof(float) * nj);
      std::fill(out + k * pw + nj, out + (k + 1) * pw, 0.0f);
    }
  }
}

}  // namespace inrscape::engine
