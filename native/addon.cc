// The one Node-API surface of inrscape's native code. TypeScript reaches it
// only through src/native/addon.ts, which gives every export its types.
#include <napi.h>

#include "addon_siren.h"
#include "dicty.h"

namespace inrscape {
namespace {

double num(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("dicty parameter ") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

template <class T>
T* typed(const Napi::Value& v, const char* what, size_t min_len) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (arr.ElementLength() < min_len) throw Napi::RangeError::New(v.Env(), std::string(what) + " is too short");
  return arr.Data();
}

Napi::Object DictyState(Napi::Env env, const DictySim& sim) {
  auto copy = [&](const std::vector<double>& v) {
    auto out = Napi::Float64Array::New(env, v.size());
    std::copy(v.begin(), v.end(), out.Data());
    return out;
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("x", copy(sim.x()));
  o.Set("p", copy(sim.p()));
  o.Set("force", copy(sim.force()));
  o.Set("centres", copy(sim.centres()));
  o.Set("t", sim.t);
  return o;
}

class DictyWrap : public Napi::ObjectWrap<DictyWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DictySim",
                       {InstanceMethod("warmup", &DictyWrap::Warmup), InstanceMethod("frames", &DictyWrap::Frames),
                        InstanceMethod("record", &DictyWrap::Record), InstanceMethod("state", &DictyWrap::State)});
  }

  explicit DictyWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DictyWrap>(info) {
    Napi::Object o = info[0].As<Napi::Object>();
    DictyParams prm{};
    prm.cells = static_cast<int>(num(o, "cells"));
    prm.box = num(o, "box");
    prm.dt = num(o, "dt");
    prm.substeps = static_cast<int>(num(o, "substeps"));
    prm.v0 = num(o, "v0");
    prm.mu = num(o, "mu");
    prm.k_rep = num(o, "k_rep");
    prm.r0 = num(o, "r0");
    prm.k_adh = num(o, "k_adh");
    prm.r_on = num(o, "r_on");
    prm.adh_width = num(o, "adh_width");
    prm.max_radius = num(o, "max_radius");
    prm.centres = static_cast<int>(num(o, "centres"));
    prm.wave_period = num(o, "wave_period");
    prm.wavelength = num(o, "wavelength");
    prm.turn_rate = num(o, "turn_rate");
    prm.rot_diffusion = num(o, "rot_diffusion");
    prm.mound_radius = num(o, "mound_radius");
    prm.swirl = num(o, "swirl");
    cells_ = prm.cells;
    try {
      const int threads = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : ThreadPool::hardware_threads();
      sim_ = std::make_unique<DictySim>(prm, info[1].As<Napi::Number>().Uint32Value(), threads);
    } catch (const std::exception& e) {
      throw Napi::RangeError::New(info.Env(), e.what());
    }
  }

 private:
  std::unique_ptr<DictySim> sim_;
  int cells_ = 0;

  Napi::Value Warmup(const Napi::CallbackInfo& info) {
    sim_->warmup(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }
  Napi::Value Frames(const Napi::CallbackInfo& info) {
    const int n = info[0].As<Napi::Number>().Int32Value();
    for (int s = 0; s < n; s++) sim_->frame();
    return info.Env().Undefined();
  }
  Napi::Value Record(const Napi::CallbackInfo& info) {
    const int count = info[0].As<Napi::Number>().Int32Value();
    const size_t len = static_cast<size_t>(count) * cells_ * 3;
    float* pos = typed<float>(info[1], "pos", len);
    if (!pos) throw Napi::TypeError::New(info.Env(), "pos is required");
    sim_->record(count, pos, typed<float>(info[2], "polarity", len), typed<float>(info[3], "pair_force", len));
    return info.Env().Undefined();
  }
  Napi::Value State(const Napi::CallbackInfo& info) { return DictyState(info.Env(), *sim_); }
};

Napi::Value PairsWithin(const Napi::CallbackInfo& info) {
  auto x = info[0].As<Napi::Float64Array>();
  const int cells = info[1].As<Napi::Number>().Int32Value();
  std::vector<int> pairs;
  try {
    pairs = pairs_within(x.Data(), cells, info[2].As<Napi::Number>().DoubleValue(), info[3].As<Napi::Number>().DoubleValue());
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
  auto out = Napi::Int32Array::New(info.Env(), pairs.size());
  std::copy(pairs.begin(), pairs.end(), out.Data());
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("DictySim", DictyWrap::Define(env));
  exports.Set("pairsWithin", Napi::Function::New(env, PairsWithin));
  RegisterSiren(env, exports);
  return exports;
}

}  // namespace
}  // namespace inrscape

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return inrscape::Init(env, exports); }

NODE_API_MODULE(inrscape_native, InitAddon)
