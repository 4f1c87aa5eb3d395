// Objects of the addon's JavaScript classes that only the addon makes (sessions,
// bindings, device tensors): the addon passes their constructor one External holding
// the shared state, and the constructor takes its own reference to it.
#pragma once

#include <napi.h>

#include <memory>

namespace onnx_native {

// A new object of `cls` sharing `state`.
template <typename T>
Napi::Object NewAddonObject(const Napi::FunctionReference& cls, Napi::Env env, std::shared_ptr<T> state) {
  return cls.New({Napi::External<std::shared_ptr<T>>::New(env, &state)});
}

// In such a constructor: the state NewAddonObject passed. Called from JavaScript
// without it, throws a TypeError saying `madeBy` (how such objects are made).
template <typename T>
std::shared_ptr<T> AddonObjectState(const Napi::CallbackInfo& info, const char* madeBy) {
  if (info.Length() != 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), madeBy);
  return *info[0].As<Napi::External<std::shared_ptr<T>>>().Data();
}

}  // namespace onnx_native
