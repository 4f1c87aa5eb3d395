// Per-run options, and the handle an AbortSignal uses to stop a run in flight.
#pragma once

#include <napi.h>

#include <memory>

#include "ort_api.h"

namespace onnx_native {

// JavaScript: new RunOptions(logSeverityLevel, tag, [[key, value], ...]); terminate().
// The OrtRunOptions is shared with every run it was passed to, so terminate() stays
// safe however long the run outlives this object.
class RunOptions : public Napi::ObjectWrap<RunOptions> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RunOptions(const Napi::CallbackInfo& info);

  // The options of a RunOptions object, or null for undefined; throws for anything else.
  static std::shared_ptr<OrtRunOptions> From(Napi::Value value);

 private:
  void JS_Terminate(const Napi::CallbackInfo& info);
  std::shared_ptr<OrtRunOptions> options_;
};

}  // namespace onnx_native
