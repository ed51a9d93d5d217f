// The CPU engine's part of the Node-API surface (registered by addon.cc).
#pragma once
#include <napi.h>

namespace inrscape {

void RegisterSiren(Napi::Env env, Napi::Object exports);

}  // namespace inrscape
