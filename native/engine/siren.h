// The SIREN model of the CPU engine: parameters, Adam moments, and every
// buffer a step needs, allocated once for `max_points` points. A step is
// forward (fused GEMM + sin, keeping omega cos for backward), MSE, backward
// (cos-gated GEMMs and weight-gradient GEMMs), global-norm clipping and a
// fused Adam update; nothing is allocated after construction.
//
// Inside, each layer's weight and bias are one augmented [out][in + 1] matrix
// (the bias is the last column) and every activation buffer carries a column
// of ones after its last feature, so the bias rides in the GEMMs. The public
// parameter layout is the reference's: parameterTensors order, weights
// [out][in], then the bias.
#pragma once
#include <memory>
#include <vector>

#include "../thread_pool.h"
#include "buffer.h"
#include "gemm.h"
#include "isa.h"

namespace inrscape::engine {

struct SirenShape {
  int inputs;
  int hidden;
  int layers;  // hidden sine layers after the first
  int outputs;
  float omega;
};

// As the caller gives them (float64); the update itself runs in float32 with
// coefficients such as 1 - beta2 formed in float64 first, as PyTorch does.
struct AdamArgs {
  double lr, beta1, beta2, eps, clip_norm;
};

struct StepStats {
  double loss;
  double grad_norm;
};

// A cell series held by the caller (positions and velocities, (frames, cells,
// 3) float32) with the run's input scaling. A step's points are every cell of
// each of its frames, frame by frame in the order given:
//   t = f32(f32(frame / frames) / t_period),  xyz = pos / xy_period (float32),
// the same float32 arithmetic as the reference's tensors.
struct SeriesView {
  const float* pos = nullptr;
  const float* vel = nullptr;
  int frames = 0;
  int cells = 0;
  float t_period = 1.0f;
  float xy_period = 1.0f;
};

class SirenModel {
 public:
  SirenModel(const SirenShape& shape, int max_points, Isa isa, std::shared_ptr<ThreadPool> pool);

  const SirenShape& shape() const { return shape_; }
  int max_points() const { return max_points_; }
  long parameter_count() const { return count_; }
  long step() const { return step_; }

  // Flat arrays of parameter_count() floats in the public layout.
  void set_parameters(const float* ext);
  void get_parameters(float* ext) const;
  void set_optimizer_state(long step, const float* m_ext, const float* v_ext);
  void get_optimizer_state(float* m_ext, float* v_ext) const;

  // One step on every cell of frames ids[0..count): count * cells <= max_points.
  StepStats train_frames(const SeriesView& s, const int* ids, int count, const AdamArgs& adam);
  // out: (n, outputs); any n >= 0, taken max_points at a time.
  void predict(const float* x, long n, float* out);

 private:
  struct Layer {
    int in, out;
    long off;      // internal offset of the [out][in + 1] matrix
    long ext_w;    // public offsets of the weight and the bias
    long ext_b;
    FloatBuffer fwd;   // B = W^T (k < in + 1, j < out), packed panels
    FloatBuffer back;  // B = W (k < out, j < in), packed panels; unused for layer 0
    int fwd_panels = 0, back_panels = 0;
  };

  GemmContext ctx() const { return {ks_, pool_.get()}; }
  void to_internal(const float* ext, float* in) const;
  void to_external(const float* in, float* ext) const;
  void load_inputs(const float* x, int n);
  int load_frames(const SeriesView& s, const int* ids, int count);
  void pack_weights();
  void forward(int n, bool train, float* y, long ldy);
  double loss_and_output_gradient(const float* target, int n);
  void backward(int n);
  double gradient_norm();
  void adam_update(const AdamArgs& adam, float clip);

  SirenShape shape_;
  int max_points_;
  const KernelSet* ks_;
  std::shared_ptr<ThreadPool> pool_;
  long ldx_, ldh_;
  long count_ = 0;
  long step_ = 0;
  bool packed_ = false;
  std::vector<Layer> layers_;  // layers + 2: first sine, hidden sines, output
  FloatBuffer params_, grads_, m_, v_;
  FloatBuffer x_;                  // (max_points, ldx): inputs, a one, zeros
  std::vector<FloatBuffer> act_;   // act_[l], l >= 1: output of layer l - 1, with a ones column
  std::vector<FloatBuffer> gcos_;  // gcos_[l]: omega cos(omega z) of sine layer l
  FloatBuffer dz_[2];              // ping-pong of cos-gated gradients
  FloatBuffer y_, dy_, target_;    // (max_points, outputs)
  std::vector<double> loss_parts_, norm_parts_;
};

}  // namespace inrscape::engine
