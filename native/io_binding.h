// I/O binding: a session's inputs and outputs bound once to memory (the caller's host
// arrays now, device memory later), then run any number of times; outputs may stay
// bound from run to run (chained models, recurrent state).
#pragma once

#include <napi.h>

#include <map>
#include <memory>
#include <string>

#include "ort_api.h"

namespace onnx_native {

struct SessionCore;

// JavaScript (made by NativeSession.createBinding()):
//   bindInput(index, elementType, dims, data)   bind the caller's array (no copy)
//   bindOutput(index, elementType, dims, data)  ONNX Runtime writes into the caller's array
//   bindOutputToHost(index)                      ONNX Runtime allocates the output
//   bindInputDevice(index, deviceTensor)         bind GPU memory (device_tensor.h)
//   bindOutputToDevice(index, deviceId)          ONNX Runtime allocates it on that GPU
//   run(callback, runOptions?) / runSync(runOptions?)
//   outputs() => [names, meta, data...]          as run_job.h's results, meta in a Float64Array;
//                                                an output in GPU memory reads inlineAt -2,
//                                                its data a NativeDeviceTensor
//   clearInputs(), clearOutputs(), release()
class NativeIoBinding : public Napi::ObjectWrap<NativeIoBinding> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeIoBinding(const Napi::CallbackInfo& info);

  // A new binding for `core`, as a JavaScript object.
  static Napi::Object Create(Napi::Env env, std::shared_ptr<SessionCore> core);

 private:
  void JS_BindInput(const Napi::CallbackInfo& info);
  void JS_BindOutput(const Napi::CallbackInfo& info);
  void JS_BindOutputToHost(const Napi::CallbackInfo& info);
  void JS_BindInputDevice(const Napi::CallbackInfo& info);
  void JS_BindOutputToDevice(const Napi::CallbackInfo& info);
  void JS_Run(const Napi::CallbackInfo& info);
  void JS_RunSync(const Napi::CallbackInfo& info);
  Napi::Value JS_Outputs(const Napi::CallbackInfo& info);
  void JS_ClearInputs(const Napi::CallbackInfo& info);
  void JS_ClearOutputs(const Napi::CallbackInfo& info);
  void JS_Release(const Napi::CallbackInfo& info);

  OrtIoBinding* Binding(Napi::Env env) const;
  void BindTensor(const Napi::CallbackInfo& info, bool input);

  // Shared with runs in flight, so that release() during one is safe.
  struct State {
    std::shared_ptr<SessionCore> core;
    IoBindingPtr binding;
  };
  std::shared_ptr<State> state_;
  // The arrays bound inputs and outputs borrow, by name: referenced while bound.
  std::map<std::string, Napi::ObjectReference> borrowedInputs_;
  std::map<std::string, Napi::ObjectReference> borrowedOutputs_;
};

}  // namespace onnx_native
