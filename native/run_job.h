// One inference call: everything Run needs, gathered on the JavaScript thread so that
// the run itself can happen on any thread without touching JavaScript.
//
// Arguments from lib/session.ts, flattened so the native side reads no user objects:
//   inputs:  [inputIndex, elementType, dims, data, ...]
//   outputs: [outputIndex, elementType, dims, data, ...], elementType 0 (and no dims or
//            data) for an output ONNX Runtime should allocate; otherwise the caller's
//            TypedArray, which ONNX Runtime writes into.
// Results: [elementType, dims, data, ...] per requested output, left empty for outputs
// that were written into the caller's arrays.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "ort_api.h"

namespace onnx_native {

struct SessionCore;

class RunJob {
 public:
  // Wraps the inputs and caller-provided outputs; throws BindingError on bad arguments.
  RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value inputs, Napi::Value outputs,
         std::shared_ptr<OrtRunOptions> runOptions);

  void Execute();                           // any thread
  Napi::Array Results(Napi::Env env);       // JavaScript thread, after Execute

 private:
  std::shared_ptr<SessionCore> core_;
  std::shared_ptr<OrtRunOptions> runOptions_;
  std::vector<const char*> inputNames_;
  std::vector<ValuePtr> inputOwners_;
  std::vector<const OrtValue*> inputs_;
  std::vector<const char*> outputNames_;
  std::vector<ValuePtr> outputOwners_;   // caller-provided first, then what Run returns
  std::vector<OrtValue*> outputs_;
  std::vector<bool> providedByCaller_;
};

// Runs a RunJob on libuv's thread pool and settles a promise with its results. It holds
// the input and output arrays so the memory the job borrows outlives the run.
Napi::Promise QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value inputs, Napi::Value outputs);

}  // namespace onnx_native
