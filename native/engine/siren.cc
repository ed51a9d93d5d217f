#include "siren.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "parallel.h"

namespace inrscape::engine {
namespace {

constexpr int kLossBlock = 64;      // points per float64 partial sum of the loss
constexpr long kNormChunk = 16384;  // parameters per float64 partial sum of the norm
constexpr long kStreamFloats = 1L << 20;  // outputs above 4 MB bypass the caches

// Leading dimension of an activation row: room for the ones column, whole
// vectors, and an odd number of cache lines so that rows spread over L1 sets.
long activation_ld(int width) {
  long ld = (width + 1 + 15) / 16 * 16;
  if ((ld / 16) % 2 == 0) ld += 16;
  return ld;
}

}  // namespace

SirenModel::SirenModel(const SirenShape& shape, int max_points, Isa isa, std::shared_ptr<ThreadPool> pool)
    : shape_(shape), max_points_(max_points), ks_(&kernel_set(isa)), pool_(std::move(pool)) {
  if (shape.inputs < 1 || shape.hidden < 1 || shape.layers < 0 || shape.outputs < 1)
    throw std::invalid_argument("SIREN shape: inputs, hidden and outputs must be >= 1 and layers >= 0");
  if (!std::isfinite(shape.omega)) throw std::invalid_argument("SIREN shape: omega must be finite");
  if (max_points < 1) throw std::invalid_argument("maxPoints must be >= 1");
  const int L = shape.layers, h = shape.hidden, pw = ks_->pw;
  ldx_ = (shape.inputs + 1 + 7) / 8 * 8;
  ldh_ = activation_ld(h);
  layers_.resize(L + 2);
  long off = 0;
  for (int l = 0; l < L + 2; l++) {
    Layer& ly = layers_[l];
    ly.in = l == 0 ? shape.inputs : h;
    ly.out = l == L + 1 ? shape.outputs : h;
    ly.off = off;
    ly.ext_w = off;
    ly.ext_b = off + static_cast<long>(ly.out) * ly.in;
    off += static_cast<long>(ly.out) * (ly.in + 1);
    ly.fwd_panels = (ly.out + pw - 1) / pw;
    ly.fwd = FloatBuffer(packed_size(ly.in + 1, ly.out, pw));
    if (l > 0) {
      ly.back_panels = (ly.in + pw - 1) / pw;
      ly.back = FloatBuffer(packed_size(ly.out, ly.in, pw));
    }
  }
  count_ = off;
  params_ = FloatBuffer(count_);
  grads_ = FloatBuffer(count_);
  m_ = FloatBuffer(count_);
  v_ = FloatBuffer(count_);

  const long P = max_points;
  x_ = FloatBuffer(P * ldx_);
  for (long n = 0; n < P; n++) x_[n * ldx_ + shape.inputs] = 1.0f;
  act_.resize(L + 2);
  gcos_.resize(L + 1);
  for (int l = 1; l < L + 2; l++) {
    act_[l] = FloatBuffer(P * ldh_);
    for (long n = 0; n < P; n++) act_[l][n * ldh_ + h] = 1.0f;
  }
  for (int l = 0; l < L + 1; l++) gcos_[l] = FloatBuffer(P * ldh_);
  dz_[0] = FloatBuffer(P * ldh_);
  dz_[1] = FloatBuffer(P * ldh_);
  y_ = FloatBuffer(P * shape.outputs);
  dy_ = FloatBuffer(P * shape.outputs);
  target_ = FloatBuffer(P * shape.outputs);
  loss_parts_.assign((P + kLossBlock - 1) / kLossBlock, 0.0);
  norm_parts_.assign((count_ + kNormChunk - 1) / kNormChunk, 0.0);
}

void SirenModel::to_internal(const float* ext, float* in) const {
  for (const Layer& ly : layers_) {
    for (int o = 0; o < ly.out; o++) {
      float* row = in + ly.off + static_cast<long>(o) * (ly.in + 1);
      std::copy(ext + ly.ext_w + static_cast<long>(o) * ly.in, ext + ly.ext_w + static_cast<long>(o + 1) * ly.in, row);
      row[ly.in] = ext[ly.ext_b + o];
    }
  }
}

void SirenModel::to_external(const float* in, float* ext) const {
  for (const Layer& ly : layers_) {
    for (int o = 0; o < ly.out; o++) {
      const float* row = in + ly.off + static_cast<long>(o) * (ly.in + 1);
      std::copy(row, row + ly.in, ext + ly.ext_w + static_cast<long>(o) * ly.in);
      ext[ly.ext_b + o] = row[ly.in];
    }
  }
}

void SirenModel::set_parameters(const float* ext) {
  to_internal(ext, params_.data());
  packed_ = false;
}

void SirenModel::get_parameters(float* ext) const { to_external(params_.data(), ext); }

void SirenModel::set_optimizer_state(long step, const float* m_ext, const float* v_ext) {
  if (step < 0) throw std::invalid_argument("optimizer step must be >= 0");
  step_ = step;
  to_internal(m_ext, m_.data());
  to_internal(v_ext, v_.data());
}

void SirenModel::get_optimizer_state(float* m_ext, float* v_ext) const {
  to_external(m_.data(), m_ext);
  to_external(v_.data(), v_ext);
}

void SirenModel::load_inputs(const float* x, int n) {
  const int nin = shape_.inputs;
  for (long p = 0; p < n; p++) std::copy(x + p * nin, x + (p + 1) * nin, x_.data() + p * ldx_);
}

// Writes the inputs of every cell of the given frames into x_ and their
// velocities into target_; returns the number of points.
int SirenModel::load_frames(const SeriesView& s, const int* ids, int count) {
  if (shape_.inputs != 4 || shape_.outputs != 3) throw std::invalid_argument("frame steps need a (t, x, y, z) -> 3 model");
  if (count < 1 || static_cast<long>(count) * s.cells > max_points_) throw std::out_of_range("frames * cells must be in [1, maxPoints]");
  const long stride = static_cast<long>(s.cells) * 3;
  long p = 0;
  for (int b = 0; b < count; b++) {
    const int f = ids[b];
    if (f < 0 || f >= s.frames) throw std::out_of_range("frame index outside the series");
    const float t = static_cast<float>(static_cast<double>(f) / s.frames) / s.t_period;
    const float* pos = s.pos + f * stride;
    const float* vel = s.vel + f * stride;
    for (int c = 0; c < s.cells; c++, p++) {
      float* x = x_.data() + p * ldx_;
      x[0] = t;
      x[1] = pos[3 * c] / s.xy_period;
      x[2] = pos[3 * c + 1] / s.xy_period;
      x[3] = pos[3 * c + 2] / s.xy_period;
      std::copy(vel + 3 * c, vel + 3 * c + 3, target_.data() + p * 3);
    }
  }
  return static_cast<int>(p);
}

// Repacks every layer's weights into the forward (W^T) and backward (W)
// panels, all panels of all layers split evenly over the threads.
void SirenModel::pack_weights() {
  long total = 0;
  for (const Layer& ly : layers_) total += ly.fwd_panels + ly.back_panels;
  const int T = pool_->size(), pw = ks_->pw;
  auto job = [&](int t) {
    long g0, g1;
    split(total, t, T, g0, g1);
    long base = 0;
    for (Layer& ly : layers_) {
      const float* w = params_.data() + ly.off;
      const long ld = ly.in + 1;
      const long f0 = std::max(g0, base), f1 = std::min(g1, base + ly.fwd_panels);
      if (f0 < f1) pack_transposed(w, ld, ly.in + 1, ly.out, pw, ly.fwd.data(), int(f0 - base), int(f1 - base));
      base += ly.fwd_panels;
      const long b0 = std::max(g0, base), b1 = std::min(g1, base + ly.back_panels);
      if (b0 < b1) pack_rows(w, ld, ly.out, ly.in, pw, ly.back.data(), int(b0 - base), int(b1 - base));
      base += ly.back_panels;
    }
  };
  parallel(*pool_, job);
  packed_ = true;
}

void SirenModel::forward(int n, bool train, float* y, long ldy) {
  if (!packed_) pack_weights();
  const int L = shape_.layers, h = shape_.hidden, pw = ks_->pw;
  const GemmContext c = ctx();
  for (int l = 0; l <= L; l++) {
    const Layer& ly = layers_[l];
    const MatA a = l == 0 ? MatA{x_.data(), ldx_, true} : MatA{act_[l].data(), ldh_, true};
    EpiArgs epi;
    epi.kind = Epi::Sine;
    epi.omega = shape_.omega;
    epi.aux = train ? gcos_[l].data() : nullptr;
    epi.ldaux = ldh_;
    epi.stream = n * ldh_ >= kStreamFloats;
    gemm_rows(c, n, h, ly.in + 1, a, MatB{ly.fwd.data(), pw, static_cast<long>(ly.in + 1) * pw}, MatC{act_[l + 1].data(), ldh_}, epi);
  }
  const Layer& head = layers_[L + 1];
  gemm_rows(c, n, head.out, head.in + 1, MatA{act_[L + 1].data(), ldh_, true},
            MatB{head.fwd.data(), pw, static_cast<long>(head.in + 1) * pw}, MatC{y, ldy}, EpiArgs{});
}

// Sum of squared errors over all points and components (float64, in fixed
// blocks summed in order), and dy = d loss / d y = 2 (y - target) / (n outputs).
double SirenModel::loss_and_output_gradient(const float* target, int n) {
  const int no = shape_.outputs;
  const long blocks = (n + kLossBlock - 1) / kLossBlock;
  const double scale = 2.0 / (static_cast<double>(n) * no);
  const float* y = y_.data();
  float* dy = dy_.data();
  const int T = pool_->size();
  auto job = [&](int t) {
    long b0, b1;
    split(blocks, t, T, b0, b1);
    for (long b = b0; b < b1; b++) {
      const long i0 = b * kLossBlock * no, i1 = std::min<long>(n, (b + 1) * kLossBlock) * no;
      double s = 0.0;
      for (long i = i0; i < i1; i++) {
        const double e = static_cast<double>(y[i]) - static_cast<double>(target[i]);
        s += e * e;
        dy[i] = static_cast<float>(scale * e);
      }
      loss_parts_[b] = s;
    }
  };
  parallel(*pool_, job);
  double sse = 0.0;
  for (long b = 0; b < blocks; b++) sse += loss_parts_[b];
  return sse;
}

void SirenModel::backward(int n) {
  const int L = shape_.layers, pw = ks_->pw;
  const GemmContext c = ctx();
  // The gradient flowing into layer l's output: dy for the head, else dz_[cur].
  const float* g = dy_.data();
  long ldg = shape_.outputs;
  int cur = 0;
  for (int l = L + 1; l >= 0; l--) {
    const Layer& ly = layers_[l];
    const MatB input = l == 0 ? MatB{x_.data(), ldx_, pw} : MatB{act_[l].data(), ldh_, pw};
    // Weight and bias gradients: [out][in + 1] = g^T [input | 1].
    gemm_reduce(c, ly.out, ly.in + 1, n, MatA{g, ldg, false}, input, MatC{grads_.data() + ly.off, ly.in + 1});
    if (l == 0) break;
    // Gradient of the previous sine layer's pre-activation: (g W) * omega cos(omega z).
    EpiArgs epi;
    epi.kind = Epi::Gate;
    epi.aux = gcos_[l - 1].data();
    epi.ldaux = ldh_;
    epi.stream = n * ldh_ >= kStreamFloats;
    gemm_rows(c, n, ly.in, ly.out, MatA{g, ldg, true}, MatB{ly.back.data(), pw, static_cast<long>(ly.out) * pw},
              MatC{dz_[cur].data(), ldh_}, epi);
    g = dz_[cur].data();
    ldg = ldh_;
    cur ^= 1;
  }
}

double SirenModel::gradient_norm() {
  const long chunks = static_cast<long>(norm_parts_.size());
  const float* g = grads_.data();
  const int T = pool_->size();
  auto job = [&](int t) {
    long c0, c1;
    split(chunks, t, T, c0, c1);
    for (long ch = c0; ch < c1; ch++) {
      const long i1 = std::min(count_, (ch + 1) * kNormChunk);
      double s = 0.0;
      for (long i = ch * kNormChunk; i < i1; i++) s += static_cast<double>(g[i]) * g[i];
      norm_parts_[ch] = s;
    }
  };
  parallel(*pool_, job);
  double s = 0.0;
  for (long ch = 0; ch < chunks; ch++) s += norm_parts_[ch];
  return std::sqrt(s);
}

// torch.optim.Adam (no weight decay, no amsgrad) on gradients scaled by clip.
void SirenModel::adam_update(const AdamArgs& adam, float clip) {
  step_++;
  const double bc1 = 1.0 - std::pow(adam.beta1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(adam.beta2, static_cast<double>(step_));
  const float step_size = static_cast<float>(adam.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  AdamCoef coef;
  coef.clip = clip;
  coef.beta1 = static_cast<float>(adam.beta1);
  coef.one_minus_beta1 = static_cast<float>(1.0 - adam.beta1);
  coef.beta2 = static_cast<float>(adam.beta2);
  coef.one_minus_beta2 = static_cast<float>(1.0 - adam.beta2);
  coef.step_size = step_size;
  coef.bc2_sqrt = bc2_sqrt;
  coef.eps = static_cast<float>(adam.eps);
  const long chunks = static_cast<long>(norm_parts_.size());
  const int T = pool_->size();
  auto job = [&](int t) {
    long c0, c1;
    split(chunks, t, T, c0, c1);
    const long i0 = c0 * kNormChunk, i1 = std::min(count_, c1 * kNormChunk);
    if (i0 < i1) ks_->adam(params_.data() + i0, m_.data() + i0, v_.data() + i0, grads_.data() + i0, i1 - i0, coef);
  };
  parallel(*pool_, job);
  packed_ = false;
}

StepStats SirenModel::train_frames(const SeriesView& series, const int* ids, int count, const AdamArgs& adam) {
  const int n = load_frames(series, ids, count);
  forward(n, true, y_.data(), shape_.outputs);
  const double sse = loss_and_output_gradient(target_.data(), n);
  backward(n);
  const double norm = gradient_norm();
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6), at most 1 (NaN stays NaN).
  const double coef = adam.clip_norm / (norm + 1e-6);
  const float clip = static_cast<float>(std::isnan(coef) ? coef : std::min(1.0, coef));
  adam_update(adam, clip);
  if (!packed_) pack_weights();  // ready for the next forward, outside its timing
  return {sse / (static_cast<double>(n) * shape_.outputs), norm};
}

void SirenModel::predict(const float* x, long n, float* out) {
  for (long p0 = 0; p0 < n; p0 += max_points_) {
    const int cn = static_cast<int>(std::min<long>(max_points_, n - p0));
    load_inputs(x + p0 * shape_.inputs, cn);
    forward(cn, false, out + p0 * shape_.outputs, shape_.outputs);
  }
}

}  // namespace inrscape::engine
