// The dicty stand-in's integrator: overdamped active cells in a periodic box.
// Deterministic: plain IEEE arithmetic, no fast-math, no contraction; the
// vector kernels give the same bits on every ISA path and thread count; and a
// counter-free xoshiro128** stream shared bit for bit with the test oracle.
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
  // The flat (i, j) pairs closer than the cut-off at the positions of the
  // last build whose i lies in bins [first_bin, end_bin), grouped by i.
  void pairs(std::vector<int>& out, int first_bin, int end_bin) const;
  // The first bin starting at or after the cell of this rank in bin order:
  // a split of the bins into runs of about equal numbers of cells.
  int bin_of_rank(int rank) const;
  int bins() const { return bins_; }
  double cutoff() const { return cutoff_; }
  int side() const { return side_; }

 private:
  int cells_, side_, bins_;
  double box_, cutoff_;
  std::vector<int> order_, start_, bin_of_, nbr_;
  std::vector<double> shift_;
  std::vector<double> sorted_;  // positions in bin order: all x, then all y, then all z
  int* near(int i, double xi, double yi, double zi, int c0, int c1, int* out) const;
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
  std::vector<std::vector<int>> verlet_parts_;  // each thread's share while rebuilding
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
