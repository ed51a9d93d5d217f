#include "dicty.h"

#include <cmath>
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
}

template <class Visit>
void CellList::for_each_pair(const double* x, Visit visit) const {
  const double c2 = cutoff_ * cutoff_;
  for (int b = 0; b < bins_; b++) {
    const int b0 = start_[b], b1 = start_[b + 1];
    for (int a = b0; a < b1; a++) {
      const int i = order_[a];
      const double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
      for (int c = a + 1; c < b1; c++) {
        const int j = order_[c];
        const double dx = x[3 * j] - xi, dy = x[3 * j + 1] - yi, dz = x[3 * j + 2] - zi;
        const double r2 = dx * dx + dy * dy + dz * dz;
        if (r2 < c2) visit(i, j, dx, dy, dz, r2);
      }
    }
    for (int k = 0; k < 13; k++) {
      const int nb = nbr_[b * 13 + k];
      const int n0 = start_[nb], n1 = start_[nb + 1];
      const double* s = &shift_[(b * 13 + k) * 3];
      for (int a = b0; a < b1; a++) {
        const int i = order_[a];
        const double xi = x[3 * i] - s[0], yi = x[3 * i + 1] - s[1], zi = x[3 * i + 2] - s[2];
        for (int c = n0; c < n1; c++) {
          const int j = order_[c];
          const double dx = x[3 * j] - xi, dy = x[3 * j + 1] - yi, dz = x[3 * j + 2] - zi;
          const double r2 = dx * dx + dy * dy + dz * dz;
          if (r2 < c2) visit(i, j, dx, dy, dz, r2);
        }
      }
    }
  }
}

std::vector<int> pairs_within(const double* x, int cells, double box, double cutoff) {
  CellList list(cells, box, cutoff);
  list.build(x);
  std::vector<int> out;
  list.for_each_pair(x, [&](int i, int j, double, double, double, double) {
    out.push_back(i);
    out.push_back(j);
  });
  return out;
}

DictySim::DictySim(const DictyParams& prm, uint32_t seed, int threads)
    : prm_(prm),
      rng_(seed),
      list_(prm.cells, prm.box, std::min(prm.max_radius * 1.2, prm.box / 3)),
      h_(prm.dt / prm.substeps),
      skin_(std::min(prm.max_radius * 1.2, prm.box / 3) - prm.max_radius),
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
  v -= prm_.box * std::floor(v / prm_.box);
  return v < prm_.box ? v : 0.0;  // rounding can leave exactly box
}

static inline double min_image(double d, double box, double half) { return d > half ? d - box : d < -half ? d + box : d; }

void DictySim::rebuild_verlet() {
  verlet_.clear();
  list_.build(x_.data());
  list_.for_each_pair(x_.data(), [&](int i, int j, double, double, double, double) {
    verlet_.push_back(i);
    verlet_.push_back(j);
  });
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

void DictySim::compute_forces() {
  if (needs_rebuild()) rebuild_verlet();
  const double k_rep = prm_.k_rep, r0 = prm_.r0, k_adh = prm_.k_adh, inv_w = 1.0 / prm_.adh_width;
  const double c2 = prm_.max_radius * prm_.max_radius, box = prm_.box, half = box / 2;
  const double C = std::exp((r0 - prm_.r_on) * inv_w);
  const float r0f = static_cast<float>(r0), inv_wf = static_cast<float>(inv_w), Cf = static_cast<float>(C);
  const float k_repf = static_cast<float>(k_rep), k_adhf = static_cast<float>(k_adh);
  const double* x = x_.data();
  const int* pair = verlet_.data();
  const size_t pairs = verlet_.size() / 2, stride = x_.size();
  pool_.run([&](int tid) {
    for (int part = tid; part < kForceParts; part += pool_.size()) {
      double* f = part_force_.data() + part * stride;
      std::fill(f, f + stride, 0.0);
      const size_t q0 = pairs * part / kForceParts, q1 = pairs * (part + 1) / kForceParts;
      for (size_t q = q0; q < q1; q++) {
        const int i = pair[2 * q], j = pair[2 * q + 1];
        const double dx = min_image(x[3 * j] - x[3 * i], box, half);
        const double dy = min_image(x[3 * j + 1] - x[3 * i + 1], box, half);
        const double dz = min_image(x[3 * j + 2] - x[3 * i + 2], box, half);
        const double r2 = dx * dx + dy * dy + dz * dz;
        if (r2 >= c2 || r2 == 0) continue;  // r2 == 0: two cells on one point have no direction to push
        // The force law runs in float (its exp, sqrt and division are twice as
        // fast); positions and force sums stay double.
        const float r = std::sqrt(static_cast<float>(r2));
        // With u = exp((r - r0)/w) the two gates are u/(u + 1) and 1/(1 + C u):
        // one exp and one division per pair.
        const float u = std::exp((r - r0f) * inv_wf);
        const float den = (u + 1.0f) * (1.0f + Cf * u);
        const float rep = r < r0f ? -k_repf * (r0f - r) : 0.0f;
        const double s = (rep * den + k_adhf * (r - r0f) * u) / (r * den);
        f[3 * i] += s * dx; f[3 * i + 1] += s * dy; f[3 * i + 2] += s * dz;
        f[3 * j] -= s * dx; f[3 * j + 1] -= s * dy; f[3 * j + 2] -= s * dz;
      }
    }
  });
}

void DictySim::turn_polarity() {
  const int n = prm_.cells, nc = prm_.centres;
  const double box = prm_.box, half = box / 2, dt = prm_.dt;
  const double noise = std::sqrt(2.0 * prm_.rot_diffusion * dt);
  const double phase = t / prm_.wave_period;
  double* sig = signal_.data();
  // The signal is a pure function of positions, so cells split across threads;
  // the noise draws below stay in one stream, in cell order.
  pool_.run([&](int tid) {
    const int i0 = n * tid / pool_.size(), i1 = n * (tid + 1) / pool_.size();
    for (int i = i0; i < i1; i++) {
      double sx = 0, sy = 0, sz = 0;
      for (int c = 0; c < nc; c++) {
        const double dx = min_image(centres_[3 * c] - x_[3 * i], box, half);
        const double dy = min_image(centres_[3 * c + 1] - x_[3 * i + 1], box, half);
        const double dz = min_image(centres_[3 * c + 2] - x_[3 * i + 2], box, half);
        const double rc = std::sqrt(dx * dx + dy * dy + dz * dz) + 1e-9;
        const double w = 0.5 * (1.0 + std::cos(2.0 * M_PI * (phase - rc / prm_.wavelength)));
        const double w2 = w * w;
        const double g = (w2 * w2) / (1.0 + rc) / rc;
        // Inside a mound the pull toward the centre gives way to a swirl about the
        // centre's axis, as in rotating dicty mounds; without it the streams
        // would crush every mound into one overlapping clump.
        const double in = rc < prm_.mound_radius ? rc / prm_.mound_radius : 1.0;
        const double* a = &axes_[3 * c];
        double tx = a[1] * dz - a[2] * dy, ty = a[2] * dx - a[0] * dz, tz = a[0] * dy - a[1] * dx;
        const double tn = std::sqrt(tx * tx + ty * ty + tz * tz) + 1e-12;
        const double swirl = (1.0 - in * in) * prm_.swirl / tn;
        tx *= swirl; ty *= swirl; tz *= swirl;
        sx += g * in * dx + tx; sy += g * in * dy + ty; sz += g * in * dz + tz;
      }
      sig[3 * i] = sx; sig[3 * i + 1] = sy; sig[3 * i + 2] = sz;
    }
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
