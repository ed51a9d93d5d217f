// The dicty stand-in's integrator: overdamped active cells in a periodic box.
// Deterministic for a given build: plain IEEE double arithmetic, no fast-math,
// and a counter-free xoshiro128** stream shared bit for bit with the test oracle.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "thread_pool.h"

namespace inrscape {

struct DictyParams {
  int cells;
  double box, dt;
  int substeps;
  double v0, mu, k_rep, r0, k_adh, r_on, adh_width, max_radius;
  int centres;
  double wave_period, wavelength, turn_rate, rot_diffusion, mound_radius, swirl;
};

class Xoshiro128 {
 public:
  explicit Xoshiro128(uint32_t seed);
  uint32_t next();
  double uniform() { return next() / 4294967296.0; }
  double normal();

 private:
  uint32_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// Periodic cell list with a half shell of 13 neighbour bins: each pair once.
class CellList {
 public:
  CellList(int cells, double box, double cutoff);
  void build(const double* x);
  template <class Visit> void for_each_pair(const double* x, Visit visit) const;
  double cutoff() const { return cutoff_; }
  int side() const { return side_; }

 private:
  int cells_, side_, bins_;
  double box_, cutoff_;
  std::vector<int> order_, start_, bin_of_, nbr_;
  std::vector<double> shift_;
};

// Splits each frame in two time scales: the polarity (turning time ~0.5,
// rotational diffusion time ~3) moves once per frame of length dt, while the
// stiff contact springs are integrated in `substeps` sub-steps. Pairs come from
// a Verlet list (cut-off + skin) rebuilt from the cell list only when some cell
// has moved half a skin, so most sub-steps touch only near pairs.
class DictySim {
 public:
  // `threads` only changes the speed: the pair list is always cut into
  // kForceParts parts summed in one order, so every thread count gives the same bits.
  static constexpr int kForceParts = 2;
  DictySim(const DictyParams& params, uint32_t seed, int threads);
  void frame();  // one frame: polarity update, then the sub-steps
  void substep();
  void compute_forces();
  // Record frames [0, count) into (count, cells, 3) float32 arrays; each frame
  // is the state before that frame's sub-steps, positions in the unit box.
  void record(int count, float* pos, float* polarity, float* pair_force);
  void warmup(int frames);
  const std::vector<double>& x() const { return x_; }
  const std::vector<double>& p() const { return p_; }
  const std::vector<double>& force() const { return force_; }
  const std::vector<double>& centres() const { return centres_; }
  double t = 0;

 private:
  DictyParams prm_;
  Xoshiro128 rng_;
  CellList list_;
  std::vector<double> x_, p_, force_, centres_, axes_;
  double h_;
  double skin_;
  ThreadPool pool_;
  std::vector<double> part_force_;  // kForceParts x cells x 3
  std::vector<double> signal_;      // chemotactic signal per cell
  std::vector<int> verlet_;       // flat (i, j) pairs within cut-off + skin
  std::vector<double> x_built_;   // positions when the list was built
  void rebuild_verlet();
  bool needs_rebuild() const;
  void turn_polarity();
  void set_unit(int i, double a, double b, double c);
  double wrap(double v) const;
};

// All pairs (i < j not guaranteed) closer than cutoff, as a flat list; for tests.
std::vector<int> pairs_within(const double* x, int cells, double box, double cutoff);

}  // namespace inrscape
