// One inference call: everything Run needs, gathered on the JavaScript thread so that
// the run itself can happen on any thread without touching JavaScript.
//
// Arguments from lib/session.ts, packed so that a call costs a few N-API calls, not a
// few per dimension:
//   header: Float64Array [inputCount, outputCount,
//                         per input:  index, elementType, rank, dims...,
//                         per output: index, elementType, rank, dims...]
//           where an output's elementType is 0 (rank 0) when ONNX Runtime should
//           allocate it, or the type of the caller's tensor to write into;
//   data:   [each input's data, then each caller-provided output's data], in order.
// Results: [meta, data of output 0, data of output 1, ...]. Meta is [per output:
// elementType, rank, dims...], with elementType 0 and undefined data for outputs
// written into the caller's arrays; it is written over the header the call was given,
// and results[0] is undefined, unless it does not fit there: then results[0] is a
// Float64Array of its own.
#pragma once

#include <napi.h>

#include <memory>

#include "ort_api.h"
#include "small_vector.h"

namespace onnx_native {

struct SessionCore;

class RunJob {
 public:
  // Wraps the inputs and caller-provided outputs; throws BindingError on bad arguments.
  RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value header, Napi::Value data,
         std::shared_ptr<OrtRunOptions> runOptions);

  void Execute();                      // any thread
  Napi::Array Results(Napi::Env env, Napi::Value header);  // JavaScript thread, after Execute

 private:
  std::shared_ptr<SessionCore> core_;
  std::shared_ptr<OrtRunOptions> runOptions_;
  SmallVector<const char*, 4> inputNames_;
  SmallVector<ValuePtr, 4> inputOwners_;
  SmallVector<const OrtValue*, 4> inputs_;
  SmallVector<const char*, 4> outputNames_;
  SmallVector<ValuePtr, 4> outputOwners_;  // caller-provided, then what Run returns
  SmallVector<OrtValue*, 4> outputs_;
  SmallVector<uint8_t, 4> providedByCaller_;
};

// Runs a RunJob on the run pool (run_pool.h), then calls callback(error, results) on
// the JavaScript thread. Holds the header and data arrays until then, so the memory the
// job borrows outlives the run.
void QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value header, Napi::Value data,
              Napi::Function callback);

}  // namespace onnx_native
