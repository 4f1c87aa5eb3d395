// One inference call: everything Run needs, gathered on the JavaScript thread so that
// the run itself can happen on any thread without touching JavaScript.
//
// What lib/runtime/session.ts passes, packed so that a call costs a few N-API calls, not a few
// per dimension:
//   the run header: a Float64Array that lib/ registers once per thread (setRunHeader)
//           and rewrites before each call: [inputCount, outputCount,
//                         per input:  index, elementType, rank, dims...,
//                         per output: index, elementType, rank, dims...]
//           where an output's elementType is 0 (rank 0) when ONNX Runtime should
//           allocate it, or the type of the caller's tensor to write into;
//   data:   [each input's data, then each caller-provided output's data], in order.
// Results: meta, written over the run header, and JavaScript values:
//   meta:    [metaLength, per output: elementType, rank, dims..., inlineAt], then the
//            inline data. Outputs written into the caller's arrays read 0, 0, -1.
//            inlineAt >= 0 places a small output's data in the meta buffer, that many
//            8-byte words after the meta; -1 means its data is a JavaScript value.
//   returns: undefined when no output needs a JavaScript value and the meta fit in the
//            header; otherwise [ownMeta, data of output 0, data of output 1, ...], where
//            ownMeta is a Float64Array holding the meta when it did not fit in the
//            header (else undefined), and an output's data is set when inlineAt is -1.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "ort_api.h"
#include "run_options.h"
#include "small_vector.h"
#include "tensor.h"

namespace onnx_native {

struct SessionCore;

// The JavaScript thread reads the arguments and builds the results; everything else
// that touches ONNX Runtime (wrapping the inputs, the run, reading and releasing small
// outputs) happens in Execute. On the pool that keeps the memory ONNX Runtime allocates
// and frees on one core: done on the JavaScript thread, it cost more than the inference
// of a small model, mostly in cache misses.
class RunJob {
 public:
  // Reads the inputs and caller-provided outputs; throws BindingError on bad arguments.
  // `control` may be null: the run then goes with its thread's (run_options.h).
  RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value data, std::shared_ptr<RunControl> control);

  // Any thread. Throws ABORTED without running when the run was cancelled first.
  void Execute();
  Napi::Value Results(Napi::Env env, OutputMemory memory);  // JavaScript thread, after Execute

 private:
  // A TypedArray that Execute wraps as input or caller-provided output `position`, of
  // shape borrowedDims_[dimsAt, dimsAt + rank).
  struct Borrowed {
    bool output;
    uint32_t position;
    int elementType;
    uint32_t dimsAt;
    uint32_t rank;
    TypedArrayMemory memory;
  };

  // Whether `data` lies inside an input's borrowed array.
  bool BorrowsInput(const void* data) const;

  std::shared_ptr<SessionCore> core_;
  std::shared_ptr<RunControl> control_;
  const std::vector<size_t>* elementSizes_;  // AddonData's, which outlives the job
  SmallVector<Borrowed, 4> borrowed_;
  SmallVector<int64_t, 16> borrowedDims_;
  SmallVector<const char*, 4> inputNames_;
  SmallVector<ValuePtr, 4> inputOwners_;
  SmallVector<const OrtValue*, 4> inputs_;
  SmallVector<const char*, 4> outputNames_;
  SmallVector<ValuePtr, 4> outputOwners_;  // caller-provided, then what Run returns
  SmallVector<OrtValue*, 4> outputs_;
  // Where each output's data is.
  enum class OutputSource : uint8_t {
    kRuntime,  // memory ONNX Runtime allocated
    kCaller,   // the caller's array
    kInput,    // an input's array: the graph output is a graph input
  };
  SmallVector<OutputSource, 4> outputSources_;
  OutputMeta meta_;  // written by Execute; outputOwners_ then hold what it left for Results
};

// Runs a RunJob on the run pool (run_pool.h), then calls callback(error, results) on
// the JavaScript thread. Holds the data array until then, so the memory the job
// borrows outlives the run.
void QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value data, Napi::Function callback);

}  // namespace onnx_native
