#include "dicty.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace inrscape {

static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

Xoshiro128::Xoshiro128(uint32_t seed) {
  uint32_t z = seed;
  for (auto& s : s_) {  // splitmix32
    z += 0x9e3779b9u;
    uint32_t t = z ^ (z >> 16);
    t *= 0x21f0aaadu;
    t ^= t >> 15;
    t *= 0x735a2d97u;
    s = t ^ (t >> 15);
  }
}

uint32_t Xoshiro128::next() {
  const uint32_t result = rotl(s_[1] * 5, 7) * 9;
  const uint32_t t = s_[1] << 9;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 11);
  return result;
}

double Xoshiro128::normal() {  // Box-Muller, both values used
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u = (next() + 1.0) / 4294967297.0;
  const double v = next() / 4294967296.0;
  const double r = std::sqrt(-2.0 * std::log(u));
  const double a = 2.0 * M_PI * v;
  spare_ = r * std::sin(a);
  has_spare_ = true;
  return r * std::cos(a);
}

CellList::CellList(int cells, double box, double cutoff)
    : cells_(cells), side_(static_cast<int>(std::floor(box / cutoff))), box_(box), cutoff_(cutoff) {
  if (side_ < 3) throw std::invalid_argument("the box must be at least 3 cut-offs wide");
  bins_ = side_ * side_ * side_;
  order_.resize(cells);
  bin_of_.resize(cells);
  sorted_.resize(3 * static_cast<size_t>(cells));
  start_.resize(bins_ + 1);
  nbr_.resize(bins_ * 13);
  shift_.resize(bins_ * 13 * 3);
  const int n = side_;
  for (int z = 0; z < n; z++)
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++) {
        const int b = (z * n + y) * n + x;
        int k = 0;
        // The 13 offsets that are lexicographically positive in (dz, dy, dx): one of each +/- pair.
        for (int dz = -1; dz <= 1; dz++)
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
              if (!(dz > 0 || (dz == 0 && (dy > 0 || (dy == 0 && dx > 0))))) continue;
              int c[3] = {x + dx, y + dy, z + dz};
              double s[3];
              for (int d = 0; d < 3; d++) {
                s[d] = c[d] < 0 ? -box : c[d] >= n ? box : 0.0;
                c[d] = (c[d] + n) % n;
              }
              nbr_[b * 13 + k] = (c[2] * n + c[1]) * n + c[0];
              for (int d = 0; d < 3; d++) shift_[(b * 13 + k) * 3 + d] = s[d];
              k++;
            }
      }
}

void CellList::build(const double* x) {
  const double scale = side_ / box_;
  std::fill(start_.begin(), start_.end(), 0);
  for (int i = 0; i < cells_; i++) {
    int bx = std::min(side_ - 1, static_cast<int>(x[3 * i] * scale));
    int by = std::min(side_ - 1, static_cast<int>(x[3 * i + 1] * scale));
    int bz = std::min(side_ - 1, static_cast<int>(x[3 * i + 2] * scale));
    const int b = (bz * side_ + by) * side_ + bx;
    bin_of_[i] = b;
    start_[b + 1]++;
  }
  for (int b = 0; b < bins_; b++) start_[b + 1] += start_[b];
  std::vector<int> fill(start_.begin(), start_.end() - 1);
  for (int i = 0; i < cells_; i++) order_[fill[bin_of_[i]]++] = i;
  // Positions in bin order, one array per axis, so that a bin's candidates
  // are read in a row.
  for (int a = 0; a < cells_; a++) {
    const int i = order_[a];
    sorted_[a] = x[3 * i];
    sorted_[cells_ + a] = x[3 * i + 1];
    sorted_[2 * cells_ + a] = x[3 * i + 2];
  }
}

// Writes (i, order_[c]) for each c in [c0, c1) within the cut-off of
// (xi, yi, zi), in c order. Every candidate is written and the end only moves
// past the ones that count: no branch per candidate, whose outcome is a coin
// toss near the cut-off.
int* CellList::near(int i, double xi, double yi, double zi, int c0, int c1, int* out) const {
  const double c2 = cutoff_ * cutoff_;
  const double *sx = sorted_.data(), *sy = sx + cells_, *sz = sy + cells_;
  for (int c = c0; c < c1; c++) {
    const double dx = sx[c] - xi, dy = sy[c] - yi, dz = sz[c] - zi;
    out[0] = i;
    out[1] = order_[c];
    out += 2 * static_cast<int>(dx * dx + dy * dy + dz * dz < c2);
  }
  return out;
}

int CellList::bin_of_rank(int rank) const {
  return static_cast<int>(std::lower_bound(start_.begin(), start_.end() - 1, rank) - start_.begin());
}

void CellList::pairs(std::vector<int>& out, int first_bin, int end_bin) const {
  size_t used = 0;
  for (int b = first_bin; b < end_bin; b++) {
    const int b0 = start_[b], b1 = start_[b + 1];
    int candidates = b1 - b0;
    for (int k = 0; k < 13; k++) candidates += start_[nbr_[b * 13 + k] + 1] - start_[nbr_[b * 13 + k]];
    // Each cell's pairs come out together (its own bin, then the 13
    // neighbours), so the force loop meets long runs of one first cell.
    for (int a = b0; a < b1; a++) {
      if (out.size() < used + 2 * static_cast<size_t>(candidates)) out.resize(2 * (used + 2 * candidates));
      const int i = order_[a];
      const double xi = sorted_[a], yi = sorted_[cells_ + a], zi = sorted_[2 * cells_ + a];
      int* end = near(i, xi, yi, zi, a + 1, b1, out.data() + used);
      for (int k = 0; k < 13; k++) {
        const int nb = nbr_[b * 13 + k];
        const double* s = &shift_[(b * 13 + k) * 3];
        end = near(i, xi - s[0], yi - s[1], zi - s[2], start_[nb], start_[nb + 1], end);
      }
      used = end - out.data();
    }
  }
  out.resize(used);
}

std::vector<int> pairs_within(const double* x, int cells, double box, double cutoff) {
  CellList list(cells, box, cutoff);
  list.build(x);
  std::vector<int> out;
  list.pairs(out, 0, list.bins());
  return out;
}

// The Verlet list's cut-off over the interaction cut-off. The skin between
// them trades listed pairs that are out of range (each costs the force loop a
// pair every sub-step) for rebuilds: with the default preset 1.1 lists a
// quarter fewer pairs than 1.2 and rebuilds every ~6 frames instead of ~13.
// Of 1.03, 1.05, 1.1, 1.15 and 1.2, 1.05 and 1.1 were fastest, within noise
// of each other; 1.1 rebuilds half as often.
static double list_cutoff(const DictyParams& prm) { return std::min(prm.max_radius * 1.1, prm.box / 3); }

DictySim::DictySim(const DictyParams& prm, uint32_t seed, int threads)
    : prm_(prm),
      rng_(seed),
      list_(prm.cells, prm.box, list_cutoff(prm)),
      h_(prm.dt / prm.substeps),
      skin_(list_cutoff(prm) - prm.max_radius),
      pool_(std::min(threads, kForceParts)) {
  const int n = prm.cells;
  part_force_.resize(static_cast<size_t>(kForceParts) * n * 3);
  signal_.resize(n * 3);
  x_.resize(n * 3);
  p_.resize(n * 3);
  force_.resize(n * 3);
  for (auto& v : x_) v = rng_.uniform() * prm.box;
  for (int i = 0; i < n; i++) {
    const double a = rng_.normal(), b = rng_.normal(), c = rng_.normal();
    set_unit(i, a, b, c);
  }
  centres_.resize(prm.centres * 3);
  for (auto& v : centres_) v = rng_.uniform() * prm.box;
  axes_.resize(prm.centres * 3);
  for (int c = 0; c < prm.centres; c++) {
    const double a = rng_.normal(), b = rng_.normal(), d = rng_.normal();
    const double norm = std::sqrt(a * a + b * b + d * d);
    axes_[3 * c] = a / norm;
    axes_[3 * c + 1] = b / norm;
    axes_[3 * c + 2] = d / norm;
  }
}

void DictySim::set_unit(int i, double a, double b, double c) {
  double norm = std::sqrt(a * a + b * b + c * c);
  if (norm == 0) norm = 1;
  p_[3 * i] = a / norm;
  p_[3 * i + 1] = b / norm;
  p_[3 * i + 2] = c / norm;
}

double DictySim::wrap(double v) const {
  const double box = prm_.box;
  // A sub-step moves a cell far less than a box width, and within one width
  // either way a single shift gives the bits of v - box * floor(v / box)
  // without its division.
  if (v < 0) v = v >= -box ? v + box : v - box * std::floor(v / box);
  else if (v >= box) v = v < 2 * box ? v - box : v - box * std::floor(v / box);
  return v < box ? v : 0.0;  // rounding can leave exactly box
}

// Inlined even into the run-time ISA clones below, so that they vectorise.
#define DICTY_INLINE inline __attribute__((always_inline))

// The shift is picked before it is added: GCC does not vectorise a select
// between two sums, which it takes for operations that might trap.
DICTY_INLINE double min_image(double d, double box, double half) { return d + (d > half ? -box : d < -half ? box : 0.0); }

void DictySim::rebuild_verlet() {
  list_.build(x_.data());
  // Threads take runs of bins holding about equal numbers of cells; their
  // lists joined in bin order are the one list whatever the thread count.
  const int parts = pool_.size(), cells = prm_.cells;
  verlet_parts_.resize(parts);
  pool_.run([&](int tid) {
    const int first = list_.bin_of_rank(cells * tid / parts);
    const int end = tid + 1 == parts ? list_.bins() : list_.bin_of_rank(cells * (tid + 1) / parts);
    list_.pairs(verlet_parts_[tid], first, end);
  });
  if (parts == 1) {
    verlet_.swap(verlet_parts_[0]);
  } else {
    verlet_.clear();
    for (const auto& part : verlet_parts_) verlet_.insert(verlet_.end(), part.begin(), part.end());
  }
  x_built_ = x_;
}

bool DictySim::needs_rebuild() const {
  if (x_built_.empty()) return true;
  // A pair outside the list can come within the cut-off only after the two
  // cells together moved more than the skin.
  const double box = prm_.box, half = box / 2, limit = 0.25 * skin_ * skin_;
  for (size_t i = 0; i < x_.size(); i += 3) {
    const double dx = min_image(x_[i] - x_built_[i], box, half);
    const double dy = min_image(x_[i + 1] - x_built_[i + 1], box, half);
    const double dz = min_image(x_[i + 2] - x_built_[i + 2], box, half);
    if (dx * dx + dy * dy + dz * dz > limit) return true;
  }
  return false;
}

// The pair-force kernel works on blocks of pairs: a scalar gather of the
// position differences, branch-free passes over the block that the compiler
// vectorises, and a scalar scatter in pair order. Pairs repeat cells within a
// block, so only the scatter has to stay sequential; it adds in the same order
// as a pair-by-pair loop would. Every ISA path (SSE2, AVX2, NEON; GCC or
// clang) computes the same bits: IEEE operations only, no contraction, no
// libm call, and own sqrt, exp and cos where libm's would not vectorise.
namespace {

constexpr int kPairBlock = 128;

DICTY_INLINE double bits_to_double(uint64_t i) {
  double d;
  std::memcpy(&d, &i, sizeof d);
  return d;
}

DICTY_INLINE uint64_t double_to_bits(double d) {
  uint64_t i;
  std::memcpy(&i, &d, sizeof i);
  return i;
}

DICTY_INLINE float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// sqrt(r2) rounded to float, r2 > 0 a normal double. std::sqrt does not
// vectorise while it may set errno; three Newton steps on the bit-trick
// estimate of 1/sqrt leave a relative error of about 3e-11, far below float's
// half ulp (6e-8): of 1e8 random r2 over 30 octaves, 0.012% differ from the
// correctly rounded sqrt, by one ulp. r2 = 0 gives 0.
// 1/sqrt(v) by Newton steps on the bit-trick estimate (no libm call, so the
// loops around it vectorise).
template <int kSteps>
DICTY_INLINE double rsqrt_newton(double v) {
  double y = bits_to_double(0x5fe6eb50c7b537a9 - (double_to_bits(v) >> 1));
  const double h = 0.5 * v;
  for (int i = 0; i < kSteps; i++) y = y * (1.5 - h * y * y);
  return y;
}

DICTY_INLINE float sqrt_to_float(double r2) { return static_cast<float>(r2 * rsqrt_newton<3>(r2)); }

// exp(x) in float for x in [-87, 88], where 2^k stays a normal float: round
// x/ln2 to k, a Cody-Waite reduction to |r| <= ln2/2, Cephes' degree-7
// polynomial, then 2^k from the exponent bits. Against a float64 exp, every
// float in [-13, 14] (the range (r - r0)/w spans for the default parameters)
// is within 0.99 ulp, and every 64th float in [-87, 88] within 0.98 ulp.
DICTY_INLINE float exp_float(float x) {
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float k = (x * 1.44269504f + shifter) - shifter;
  const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * bits_to_float((static_cast<int32_t>(k) + 127) << 23);
}

// The force law's constants, also the clamp of exp's argument. Kept in memory
// out of the compiler's sight: with a constant bound GCC splits the loop
// into paths per bound and no longer vectorises it.
struct ForceLaw {
  double c2, box, half, r0_squared;
  float r0, inv_w, C, k_rep, k_adh, exp_lo, exp_hi;
};

// One block of pairs on its way from positions to forces. The stages below
// are separate loops: each is a short chain of dependent operations per pair,
// so the processor overlaps many pairs; in one loop the chain (sqrt's Newton
// steps, then exp's polynomial, then the division) would leave it waiting.
struct PairBlock {
  alignas(64) double dx[kPairBlock], dy[kPairBlock], dz[kPairBlock], r2[kPairBlock];
  alignas(64) float r[kPairBlock], s[kPairBlock];
};

// The nearest images of the raw differences, in place, and their squared
// lengths. A pair out of range gets r2 = r0^2 (the float r0 squared, exact in
// double), where the force law gives exactly s = +0: it then adds +-0, which
// leaves every sum as it was. A select of s itself would not vectorise on SSE2.
DICTY_INLINE void separations(const ForceLaw& law, int n, PairBlock& b) {
  const double c2 = law.c2, box = law.box, half = law.half, r0_squared = law.r0_squared;
  double* __restrict dx = b.dx;
  double* __restrict dy = b.dy;
  double* __restrict dz = b.dz;
  double* __restrict r2 = b.r2;
  for (int k = 0; k < n; k++) {
    const double ex = min_image(dx[k], box, half);
    const double ey = min_image(dy[k], box, half);
    const double ez = min_image(dz[k], box, half);
    const double d2 = ex * ex + ey * ey + ez * ez;
    // d2 == 0: two cells on one point have no direction to push.
    const bool acts = (d2 < c2) & (d2 != 0);
    dx[k] = ex;
    dy[k] = ey;
    dz[k] = ez;
    r2[k] = acts ? d2 : r0_squared;
  }
}

DICTY_INLINE void distances(int n, PairBlock& b) {
  const double* __restrict r2 = b.r2;
  float* __restrict r = b.r;
  for (int k = 0; k < n; k++) r[k] = sqrt_to_float(r2[k]);
}

// s(r) with F(r) rhat = s(r) (dx, dy, dz). The law runs in float (twice the
// lanes); positions and force sums stay double. With u = exp((r - r0)/w) the
// two gates are u/(u + 1) and 1/(1 + C u): one exp and one division per pair.
// Every value is computed for every pair and only then selected: GCC does not
// vectorise a condition around arithmetic, which it takes for operations that
// might trap.
DICTY_INLINE void force_law(const ForceLaw& law, int n, PairBlock& b) {
  const float r0 = law.r0, inv_w = law.inv_w, C = law.C, k_rep = law.k_rep, k_adh = law.k_adh;
  const float exp_lo = law.exp_lo, exp_hi = law.exp_hi;
  const float* __restrict rs = b.r;
  float* __restrict s = b.s;
  for (int k = 0; k < n; k++) {
    const float r = rs[k];
    float arg = (r - r0) * inv_w;
    arg = arg < exp_lo ? exp_lo : arg;
    arg = arg > exp_hi ? exp_hi : arg;
    const float u = exp_float(arg);
    const float den = (u + 1.0f) * (1.0f + C * u);
    const float rep = (r < r0 ? -k_rep : 0.0f) * (r0 - r);
    s[k] = (rep * den + k_adh * (r - r0) * u) / (r * den);
  }
}

// The force each pair adds to its first cell (the second gets minus that).
DICTY_INLINE void pair_vectors(int n, PairBlock& b) {
  double* __restrict dx = b.dx;
  double* __restrict dy = b.dy;
  double* __restrict dz = b.dz;
  const float* __restrict s = b.s;
  for (int k = 0; k < n; k++) {
    const double sd = s[k];
    dx[k] *= sd;
    dy[k] *= sd;
    dz[k] *= sd;
  }
}

// Adds a block's pair forces in pair order. The list comes in runs of pairs
// with one first cell, so that cell's sum stays in registers along its run:
// the same additions in the same order, without a store and reload per pair.
DICTY_INLINE void scatter(int n, const int* __restrict pb, const double* __restrict dx, const double* __restrict dy,
                          const double* __restrict dz, double* __restrict f) {
  int run = pb[0];
  double fx = f[3 * run], fy = f[3 * run + 1], fz = f[3 * run + 2];
  for (int k = 0; k < n; k++) {
    const int i = pb[2 * k], j = pb[2 * k + 1];
    if (i != run) {
      f[3 * run] = fx; f[3 * run + 1] = fy; f[3 * run + 2] = fz;
      run = i;
      fx = f[3 * i]; fy = f[3 * i + 1]; fz = f[3 * i + 2];
    }
    fx += dx[k]; fy += dy[k]; fz += dz[k];
    f[3 * j] -= dx[k]; f[3 * j + 1] -= dy[k]; f[3 * j + 2] -= dz[k];
  }
  f[3 * run] = fx; f[3 * run + 1] = fy; f[3 * run + 2] = fz;
}

// The raw differences x_j - x_i of a block's pairs. Like the scatter, it reads
// a run's first cell once; that branch also keeps the compiler from turning
// the loop into emulated vector gathers, which are slower than plain loads.
DICTY_INLINE void gather(int n, const int* __restrict pb, const double* __restrict x, PairBlock& b) {
  int run = -1;
  double xi = 0, yi = 0, zi = 0;
  for (int k = 0; k < n; k++) {
    const int i = pb[2 * k], j = pb[2 * k + 1];
    if (i != run) {
      run = i;
      xi = x[3 * i]; yi = x[3 * i + 1]; zi = x[3 * i + 2];
    }
    b.dx[k] = x[3 * j] - xi;
    b.dy[k] = x[3 * j + 1] - yi;
    b.dz[k] = x[3 * j + 2] - zi;
  }
}

DICTY_INLINE void pair_forces_body(const ForceLaw& law, const double* __restrict x, const int* __restrict pair,
                                   size_t pairs, double* __restrict f) {
  PairBlock b;
  for (size_t q = 0; q < pairs; q += kPairBlock) {
    const int n = static_cast<int>(std::min<size_t>(kPairBlock, pairs - q));
    const int* pb = pair + 2 * q;
    gather(n, pb, x, b);
    separations(law, n, b);
    distances(n, b);
    force_law(law, n, b);
    pair_vectors(n, b);
    scatter(n, pb, b.dx, b.dy, b.dz, f);
  }
}

void pair_forces_generic(const ForceLaw& law, const double* x, const int* pair, size_t pairs, double* f) {
  pair_forces_body(law, x, pair, pairs, f);
}

// sqrt(v) for v >= 0 in double, within 3.2 ulp (four Newton steps on the
// bit-trick 1/sqrt); 0 gives 0. For the signal, where std::sqrt would not
// vectorise.
DICTY_INLINE double sqrt_double(double v) { return v * rsqrt_newton<4>(v); }

// cos(2 pi y) for |y| < 2^50, a phase in turns. Subtracting the nearest half
// turn n/2 is exact, so only |2 pi f| <= pi/2 meets the polynomial (Taylor to
// degree 22, truncation below 1e-19) and the sign is (-1)^n, both without a
// select, which would stop GCC vectorising. Against a long double cos, the
// absolute error stays below 4e-16 (5e7 random phases), where libm's
// cos(2 * M_PI * y) loses up to 6e-15 in rounding the product.
DICTY_INLINE double cos_turns(double y) {
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double n = (2.0 * y + shifter) - shifter;
  const double f = y - 0.5 * n;
  const double odd = n - 2.0 * ((0.5 * n + shifter) - shifter);  // -1, 0 or 1
  const double t = f * 6.283185307179586232;
  const double z = t * t;
  double p = -8.8967913924505741e-22;
  p = p * z + 4.1103176233121648e-19;
  p = p * z + -1.5619206968586225e-16;
  p = p * z + 4.7794773323873853e-14;
  p = p * z + -1.1470745597729725e-11;
  p = p * z + 2.08767569878681e-09;
  p = p * z + -2.7557319223985888e-07;
  p = p * z + 2.4801587301587302e-05;
  p = p * z + -0.0013888888888888889;
  p = p * z + 0.041666666666666664;
  p = p * z + -0.5;
  p = p * z + 1.0;
  return (1.0 - 2.0 * odd * odd) * p;
}

struct WaveField {
  double box, half, phase, wavelength, mound_radius, swirl;
};

// Adds one aggregation centre's pull (and swirl) to the signal of cells
// [i0, i1); each cell's sum runs over the centres in order.
DICTY_INLINE void centre_signal_body(const WaveField& wf, const double* centre, const double* axis,
                                     const double* __restrict x, int i0, int i1, double* __restrict sig) {
  const double box = wf.box, half = wf.half, phase = wf.phase, wavelength = wf.wavelength;
  const double mound_radius = wf.mound_radius, swirl_strength = wf.swirl;
  const double cx = centre[0], cy = centre[1], cz = centre[2], ax = axis[0], ay = axis[1], az = axis[2];
  for (int i = i0; i < i1; i++) {
    const double dx = min_image(cx - x[3 * i], box, half);
    const double dy = min_image(cy - x[3 * i + 1], box, half);
    const double dz = min_image(cz - x[3 * i + 2], box, half);
    const double rc = sqrt_double(dx * dx + dy * dy + dz * dz) + 1e-9;
    const double w = 0.5 * (1.0 + cos_turns(phase - rc / wavelength));
    const double w2 = w * w;
    const double g = (w2 * w2) / (1.0 + rc) / rc;
    // Inside a mound the pull toward the centre gives way to a swirl about the
    // centre's axis, as in rotating dicty mounds; without it the streams
    // would crush every mound into one overlapping clump.
    const double in = (rc < mound_radius ? rc : mound_radius) / mound_radius;
    double tx = ay * dz - az * dy, ty = az * dx - ax * dz, tz = ax * dy - ay * dx;
    const double tn = sqrt_double(tx * tx + ty * ty + tz * tz) + 1e-12;
    const double swirl = (1.0 - in * in) * swirl_strength / tn;
    tx *= swirl; ty *= swirl; tz *= swirl;
    sig[3 * i] += g * in * dx + tx;
    sig[3 * i + 1] += g * in * dy + ty;
    sig[3 * i + 2] += g * in * dz + tz;
  }
}

void centre_signal_generic(const WaveField& wf, const double* centre, const double* axis, const double* x, int i0,
                           int i1, double* sig) {
  centre_signal_body(wf, centre, axis, x, i0, i1, sig);
}

#if defined(__x86_64__)
// The same bodies with 256-bit vectors, chosen at run time: the baseline
// x86-64 build only has SSE2's two doubles per register.
__attribute__((target("avx2"))) void pair_forces_avx2(const ForceLaw& law, const double* x, const int* pair,
                                                      size_t pairs, double* f) {
  pair_forces_body(law, x, pair, pairs, f);
}

__attribute__((target("avx2"))) void centre_signal_avx2(const WaveField& wf, const double* centre, const double* axis,
                                                        const double* x, int i0, int i1, double* sig) {
  centre_signal_body(wf, centre, axis, x, i0, i1, sig);
}
#endif

// The kernels this CPU runs best; every choice computes the same bits.
struct Kernels {
  void (*pair_forces)(const ForceLaw&, const double*, const int*, size_t, double*);
  void (*centre_signal)(const WaveField&, const double*, const double*, const double*, int, int, double*);
};

Kernels best_kernels() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return {pair_forces_avx2, centre_signal_avx2};
#endif
  return {pair_forces_generic, centre_signal_generic};
}

const Kernels& kernels() {
  static const Kernels k = best_kernels();
  return k;
}

}  // namespace

void DictySim::compute_forces() {
  if (needs_rebuild()) rebuild_verlet();
  const auto pair_forces = kernels().pair_forces;
  ForceLaw law;
  law.c2 = prm_.max_radius * prm_.max_radius;
  law.box = prm_.box;
  law.half = prm_.box / 2;
  law.r0 = static_cast<float>(prm_.r0);
  law.r0_squared = static_cast<double>(law.r0) * law.r0;
  const double inv_w = 1.0 / prm_.adh_width;
  law.inv_w = static_cast<float>(inv_w);
  law.C = static_cast<float>(std::exp((prm_.r0 - prm_.r_on) * inv_w));
  law.k_rep = static_cast<float>(prm_.k_rep);
  law.k_adh = static_cast<float>(prm_.k_adh);
  // Beyond these the gates are saturated (u below 2^-125 or above 2^127).
  law.exp_lo = -87.0f;
  law.exp_hi = 88.0f;
  const double* x = x_.data();
  const int* pair = verlet_.data();
  const size_t pairs = verlet_.size() / 2, stride = x_.size();
  pool_.run([&](int tid) {
    for (int part = tid; part < kForceParts; part += pool_.size()) {
      double* f = part_force_.data() + part * stride;
      std::fill(f, f + stride, 0.0);
      const size_t q0 = pairs * part / kForceParts, q1 = pairs * (part + 1) / kForceParts;
      pair_forces(law, x, pair + 2 * q0, q1 - q0, f);
    }
  });
}

void DictySim::turn_polarity() {
  const int n = prm_.cells, nc = prm_.centres;
  const double box = prm_.box, half = box / 2, dt = prm_.dt;
  const double noise = std::sqrt(2.0 * prm_.rot_diffusion * dt);
  const double phase = t / prm_.wave_period;
  double* sig = signal_.data();
  WaveField wf;
  wf.box = box;
  wf.half = half;
  wf.phase = phase;
  wf.wavelength = prm_.wavelength;
  wf.mound_radius = prm_.mound_radius;
  wf.swirl = prm_.swirl;
  const auto centre_signal = kernels().centre_signal;
  // The signal is a pure function of positions, so cells split across threads;
  // the noise draws below stay in one stream, in cell order.
  pool_.run([&](int tid) {
    const int i0 = n * tid / pool_.size(), i1 = n * (tid + 1) / pool_.size();
    std::fill(sig + 3 * i0, sig + 3 * i1, 0.0);
    for (int c = 0; c < nc; c++) centre_signal(wf, &centres_[3 * c], &axes_[3 * c], x_.data(), i0, i1, sig);
  });
  for (int i = 0; i < n; i++) {
    const double sx = sig[3 * i], sy = sig[3 * i + 1], sz = sig[3 * i + 2];
    const double px = p_[3 * i], py = p_[3 * i + 1], pz = p_[3 * i + 2];
    // Only the signal's component across p turns the polarity.
    const double along = sx * px + sy * py + sz * pz;
    const double qx = px + prm_.turn_rate * (sx - along * px) * dt + noise * rng_.normal();
    const double qy = py + prm_.turn_rate * (sy - along * py) * dt + noise * rng_.normal();
    const double qz = pz + prm_.turn_rate * (sz - along * pz) * dt + noise * rng_.normal();
    set_unit(i, qx, qy, qz);
  }
}

void DictySim::substep() {
  compute_forces();
  const double h = h_, v0 = prm_.v0, mu = prm_.mu;
  const size_t stride = x_.size();
  pool_.run([&](int tid) {
    const size_t k0 = stride * tid / pool_.size(), k1 = stride * (tid + 1) / pool_.size();
    for (size_t k = k0; k < k1; k++) {
      double sum = 0;  // parts summed in one fixed order whatever the thread count
      for (int part = 0; part < kForceParts; part++) sum += part_force_[part * stride + k];
      force_[k] = sum;
      x_[k] = wrap(x_[k] + h * (v0 * p_[k] + mu * sum));
    }
  });
  t += h;
}

void DictySim::frame() {
  turn_polarity();
  for (int s = 0; s < prm_.substeps; s++) substep();
}

void DictySim::warmup(int frames) {
  for (int s = 0; s < frames; s++) frame();
  t = 0;  // wave phases count from the first stored frame
}

void DictySim::record(int count, float* pos, float* polarity, float* pair_force) {
  const size_t stride = static_cast<size_t>(prm_.cells) * 3;
  for (int f = 0; f < count; f++) {
    float* po = pos + f * stride;
    for (size_t k = 0; k < stride; k++) {
      const float u = static_cast<float>(x_[k] / prm_.box);
      po[k] = u < 1.0f ? u : 0.0f;  // float rounding can reach 1 just below the box edge
    }
    turn_polarity();
    if (polarity)
      for (size_t k = 0; k < stride; k++) polarity[f * stride + k] = static_cast<float>(p_[k]);
    for (int s = 0; s < prm_.substeps; s++) {
      substep();
      // The force recorded for a frame is the one that moved the cells out of it.
      if (s == 0 && pair_force)
        for (size_t k = 0; k < stride; k++) pair_force[f * stride + k] = static_cast<float>(force_[k]);
    }
  }
}

}  // namespace inrscape
