// Node-API wrappers of the CPU engine: CpuEngine (a thread pool and the ISA
// path) and SirenCpuModel (one model). Typed in src/native/addon.ts.
#include "addon_siren.h"

#include <memory>
#include <stdexcept>
#include <string>

#include "engine/isa.h"
#include "engine/kernels.h"
#include "engine/siren.h"
#include "thread_pool.h"

namespace inrscape {
namespace {

using engine::Isa;
using engine::SirenModel;

template <class T>
T* typed_array(const Napi::Value& v, const char* what, size_t min_len) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a typed array");
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (arr.ElementLength() < min_len)
    throw Napi::RangeError::New(v.Env(), std::string(what) + " is too short (" + std::to_string(arr.ElementLength()) + " < " +
                                             std::to_string(min_len) + ")");
  return arr.Data();
}

double number(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

class CpuEngineWrap : public Napi::ObjectWrap<CpuEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CpuEngine",
                       {InstanceAccessor<&CpuEngineWrap::Threads>("threads"), InstanceAccessor<&CpuEngineWrap::IsaName>("isa")});
  }

  // new CpuEngine(threads?: number, isa?: string)
  explicit CpuEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CpuEngineWrap>(info) {
    int threads = ThreadPool::hardware_threads();
    if (info.Length() > 0 && !info[0].IsUndefined()) threads = static_cast<int>(number(info[0], "threads"));
    if (threads < 1 || threads > 1024) throw Napi::RangeError::New(info.Env(), "threads must be in [1, 1024]");
    std::string request;
    if (info.Length() > 1 && info[1].IsString()) request = info[1].As<Napi::String>().Utf8Value();
    try {
      isa_ = engine::resolve_isa(request);
    } catch (const std::exception& e) {
      throw Napi::RangeError::New(info.Env(), e.what());
    }
    pool_ = std::make_shared<ThreadPool>(threads);
  }

  std::shared_ptr<ThreadPool> pool() const { return pool_; }
  Isa isa() const { return isa_; }

 private:
  Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_->size()); }
  Napi::Value IsaName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), engine::isa_name(isa_)); }

  std::shared_ptr<ThreadPool> pool_;
  Isa isa_ = Isa::Scalar;
};

class SirenWrap : public Napi::ObjectWrap<SirenWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SirenCpuModel",
                       {InstanceAccessor<&SirenWrap::ParameterCount>("parameterCount"),
                        InstanceMethod<&SirenWrap::TrainStep>("trainStep"), InstanceMethod<&SirenWrap::Gradients>("gradients"),
                        InstanceMethod<&SirenWrap::Predict>("predict"), InstanceMethod<&SirenWrap::GetParameters>("getParameters"),
                        InstanceMethod<&SirenWrap::SetParameters>("setParameters"),
                        InstanceMethod<&SirenWrap::GetOptimizerState>("getOptimizerState"),
                        InstanceMethod<&SirenWrap::SetOptimizerState>("setOptimizerState"),
                        InstanceMethod<&SirenWrap::Dispose>("dispose")});
  }

  // new SirenCpuModel(engine, {inputs, hidden, layers, outputs, omega}, maxPoints)
  explicit SirenWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SirenWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsObject())
      throw Napi::TypeError::New(env, "SirenCpuModel(engine, shape, maxPoints)");
    CpuEngineWrap* eng = CpuEngineWrap::Unwrap(info[0].As<Napi::Object>());
    Napi::Object s = info[1].As<Napi::Object>();
    engine::SirenShape shape{};
    shape.inputs = static_cast<int>(number(s.Get("inputs"), "inputs"));
    shape.hidden = static_cast<int>(number(s.Get("hidden"), "hidden"));
    shape.layers = static_cast<int>(number(s.Get("layers"), "layers"));
    shape.outputs = static_cast<int>(number(s.Get("outputs"), "outputs"));
    shape.omega = static_cast<float>(number(s.Get("omega"), "omega"));
    const int max_points = static_cast<int>(number(info[2], "maxPoints"));
    try {
      model_ = std::make_unique<SirenModel>(shape, max_points, eng->isa(), eng->pool());
    } catch (const std::bad_alloc&) {
      throw Napi::RangeError::New(env, "not enough memory for this model and maxPoints");
    } catch (const std::exception& e) {
      throw Napi::RangeError::New(env, e.what());
    }
  }

 private:
  SirenModel& model(const Napi::CallbackInfo& info) {
    if (!model_) throw Napi::Error::New(info.Env(), "the model was disposed");
    return *model_;
  }

  int points(const Napi::CallbackInfo& info, const Napi::Value& v, long max) {
    const double n = number(v, "points");
    if (!(n >= 1 && n <= static_cast<double>(max)) || n != static_cast<long>(n))
      throw Napi::RangeError::New(info.Env(), "points must be an integer in [1, " + std::to_string(max) + "]");
    return static_cast<int>(n);
  }

  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(model(info).parameter_count()));
  }

  // trainStep(x, y, points, lr, beta1, beta2, eps, clipNorm, out: Float64Array[2] <- loss, gradNorm)
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    const auto& sh = m.shape();
    const int n = points(info, info[2], m.max_points());
    const float* x = typed_array<float>(info[0], "inputs", static_cast<size_t>(n) * sh.inputs);
    const float* y = typed_array<float>(info[1], "targets", static_cast<size_t>(n) * sh.outputs);
    const engine::AdamArgs adam{number(info[3], "lr"), number(info[4], "beta1"), number(info[5], "beta2"), number(info[6], "eps"),
                                number(info[7], "clipNorm")};
    double* out = typed_array<double>(info[8], "out", 2);
    const engine::StepStats st = m.train_step(x, y, n, adam);
    out[0] = st.loss;
    out[1] = st.grad_norm;
    return info.Env().Undefined();
  }

  // gradients(x, y, points, grads: Float32Array[parameterCount]) -> loss
  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    const auto& sh = m.shape();
    const int n = points(info, info[2], m.max_points());
    const float* x = typed_array<float>(info[0], "inputs", static_cast<size_t>(n) * sh.inputs);
    const float* y = typed_array<float>(info[1], "targets", static_cast<size_t>(n) * sh.outputs);
    float* g = typed_array<float>(info[3], "grads", m.parameter_count());
    return Napi::Number::New(info.Env(), m.gradients(x, y, n, g));
  }

  // predict(x, points, out)
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    const auto& sh = m.shape();
    const double nd = number(info[1], "points");
    if (!(nd >= 0) || nd != static_cast<double>(static_cast<long>(nd)))
      throw Napi::RangeError::New(info.Env(), "points must be a non-negative integer");
    const long n = static_cast<long>(nd);
    const float* x = typed_array<float>(info[0], "inputs", static_cast<size_t>(n) * sh.inputs);
    float* out = typed_array<float>(info[2], "out", static_cast<size_t>(n) * sh.outputs);
    if (n > 0) m.predict(x, n, out);
    return info.Env().Undefined();
  }

  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    m.get_parameters(typed_array<float>(info[0], "out", m.parameter_count()));
    return info.Env().Undefined();
  }

  Napi::Value SetParameters(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    m.set_parameters(typed_array<float>(info[0], "params", m.parameter_count()));
    return info.Env().Undefined();
  }

  // getOptimizerState(m, v) -> step
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    m.get_optimizer_state(typed_array<float>(info[0], "m", m.parameter_count()), typed_array<float>(info[1], "v", m.parameter_count()));
    return Napi::Number::New(info.Env(), static_cast<double>(m.step()));
  }

  // setOptimizerState(step, m, v)
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    const double step = number(info[0], "step");
    if (!(step >= 0) || step != static_cast<double>(static_cast<long>(step)))
      throw Napi::RangeError::New(info.Env(), "step must be a non-negative integer");
    m.set_optimizer_state(static_cast<long>(step), typed_array<float>(info[1], "m", m.parameter_count()),
                          typed_array<float>(info[2], "v", m.parameter_count()));
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<SirenModel> model_;
};

// sincos(isa, x, omega, s, c): the kernel set's vectorised sin/cos, for tests.
Napi::Value SinCos(const Napi::CallbackInfo& info) {
  Isa isa;
  try {
    isa = engine::resolve_isa(info[0].As<Napi::String>().Utf8Value());
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
  auto x = info[1].As<Napi::Float32Array>();
  const size_t n = x.ElementLength();
  float* s = typed_array<float>(info[3], "s", n);
  float* c = typed_array<float>(info[4], "c", n);
  engine::kernel_set(isa).sincos(x.Data(), static_cast<int>(n), static_cast<float>(number(info[2], "omega")), s, c);
  return info.Env().Undefined();
}

}  // namespace

void RegisterSiren(Napi::Env env, Napi::Object exports) {
  exports.Set("CpuEngine", CpuEngineWrap::Define(env));
  exports.Set("SirenCpuModel", SirenWrap::Define(env));
  exports.Set("sincos", Napi::Function::New(env, SinCos));
  exports.Set("bestIsa", Napi::String::New(env, engine::isa_name(engine::best_isa())));
}

}  // namespace inrscape
