// Node-API wrappers of the CPU engine: CpuEngine (a thread pool and the ISA
// path) and SirenCpuModel (one model). Typed in src/native/addon.ts.
#include "addon_siren.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/caches.h"
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

// Work off the JavaScript thread (the engine's own pool computes; this thread
// only waits), settling a Promise. `keep` holds the objects whose memory the
// work reads or writes, so that none is collected while it runs.
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<void()> work, std::vector<Napi::Object> keep)
      : Napi::AsyncWorker(env, "inrscape-engine"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& o : keep) keep_.push_back(Napi::Persistent(o));
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<void()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> keep_;
};

Napi::Promise Queue(Napi::Env env, std::function<void()> work, std::vector<Napi::Object> keep) {
  auto* job = new Job(env, std::move(work), std::move(keep));
  Napi::Promise p = job->Promise();
  job->Queue();
  return p;
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
                        InstanceMethod<&SirenWrap::SetSeries>("setSeries"),
                        InstanceMethod<&SirenWrap::TrainChunk>("trainChunk"), InstanceMethod<&SirenWrap::Predict>("predict"), InstanceMethod<&SirenWrap::GetParameters>("getParameters"),
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

  // setSeries(pos, vel, frames, cells, tPeriod, xyPeriod): the run's data, kept (not copied) until the next call.
  Napi::Value SetSeries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double frames = number(info[2], "frames"), cells = number(info[3], "cells");
    if (!(frames >= 1 && cells >= 1) || frames != static_cast<int>(frames) || cells != static_cast<int>(cells))
      throw Napi::RangeError::New(env, "frames and cells must be positive integers");
    const size_t values = static_cast<size_t>(frames) * static_cast<size_t>(cells) * 3;
    engine::SeriesView s;
    s.pos = typed_array<float>(info[0], "pos", values);
    s.vel = typed_array<float>(info[1], "vel", values);
    s.frames = static_cast<int>(frames);
    s.cells = static_cast<int>(cells);
    s.t_period = static_cast<float>(number(info[4], "tPeriod"));
    s.xy_period = static_cast<float>(number(info[5], "xyPeriod"));
    pos_ = Napi::Persistent(info[0].As<Napi::Object>());
    vel_ = Napi::Persistent(info[1].As<Napi::Object>());
    series_ = s;
    return env.Undefined();
  }

  // trainChunk(frameIds: Int32Array[n * batch], batch, lrs: Float64Array[n], beta1, beta2, eps, clipNorm,
  //            losses: Float64Array[n], gradNorms: Float64Array[n]) -> Promise<void>: n steps in a row.
  Napi::Value TrainChunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SirenModel& m = model(info);
    if (series_.pos == nullptr) throw Napi::Error::New(env, "trainChunk before setSeries");
    const double batch = number(info[1], "batch");
    if (!(batch >= 1) || batch != static_cast<int>(batch)) throw Napi::RangeError::New(env, "batch must be a positive integer");
    if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "lrs must be a typed array");
    const size_t n = info[2].As<Napi::Float64Array>().ElementLength();
    const int b = static_cast<int>(batch);
    const int* ids = typed_array<int32_t>(info[0], "frameIds", n * b);
    const double* lrs = typed_array<double>(info[2], "lrs", n);
    double* losses = typed_array<double>(info[7], "losses", n);
    double* norms = typed_array<double>(info[8], "gradNorms", n);
    engine::AdamArgs adam{0.0, number(info[3], "beta1"), number(info[4], "beta2"), number(info[5], "eps"), number(info[6], "clipNorm")};
    const engine::SeriesView series = series_;
    return Queue(
        env,
        [&m, series, ids, lrs, losses, norms, n, b, adam]() mutable {
          for (size_t k = 0; k < n; k++) {
            adam.lr = lrs[k];
            const engine::StepStats st = m.train_frames(series, ids + k * b, b, adam);
            losses[k] = st.loss;
            norms[k] = st.grad_norm;
          }
        },
        {info.This().As<Napi::Object>(), info[0].As<Napi::Object>(), info[2].As<Napi::Object>(), info[7].As<Napi::Object>(),
         info[8].As<Napi::Object>(), pos_.Value(), vel_.Value()});
  }

  // predict(x, points, out) -> Promise<void>
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    SirenModel& m = model(info);
    const auto& sh = m.shape();
    const double nd = number(info[1], "points");
    if (!(nd >= 0) || nd != static_cast<double>(static_cast<long>(nd)))
      throw Napi::RangeError::New(info.Env(), "points must be a non-negative integer");
    const long n = static_cast<long>(nd);
    const float* x = typed_array<float>(info[0], "inputs", static_cast<size_t>(n) * sh.inputs);
    float* out = typed_array<float>(info[2], "out", static_cast<size_t>(n) * sh.outputs);
    return Queue(
        info.Env(), [&m, x, n, out]() { if (n > 0) m.predict(x, n, out); },
        {info.This().As<Napi::Object>(), info[0].As<Napi::Object>(), info[2].As<Napi::Object>()});
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
  engine::SeriesView series_;
  Napi::ObjectReference pos_, vel_;
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
  const std::vector<Isa> isas = engine::supported_isas();
  Napi::Array names = Napi::Array::New(env, isas.size());
  for (size_t i = 0; i < isas.size(); i++) names.Set(static_cast<uint32_t>(i), engine::isa_name(isas[i]));
  exports.Set("isas", names);
  const engine::CacheSizes caches = engine::cache_sizes();
  Napi::Object cache = Napi::Object::New(env);
  cache.Set("l1d", static_cast<double>(caches.l1d));
  cache.Set("l2", static_cast<double>(caches.l2));
  cache.Set("l3", static_cast<double>(caches.l3));
  exports.Set("caches", cache);
}

}  // namespace inrscape
