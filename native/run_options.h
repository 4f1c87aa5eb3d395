// Per-run options, and what stops a run: an AbortSignal in flight, or the process exiting.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "ort_api.h"

namespace onnx_native {

// A run's OrtRunOptions and whether it may still start. Every run has one: its own (a
// RunOptions object, made per run by lib/ when the run has a signal or log settings),
// or its thread's (ThreadRunControl()), so that any run can be stopped at exit.
// Thread-safe.
class RunControl {
 public:
  RunControl();
  ~RunControl();
  RunControl(const RunControl&) = delete;
  RunControl& operator=(const RunControl&) = delete;

  OrtRunOptions* options() const { return options_.get(); }

  // Called by the thread about to run: false when Cancel() came first, and the run must
  // not start (it would read memory its caller has been told is free again).
  bool Start();

  // Stops the run. Returns true when it had not started, and now never will; otherwise
  // ONNX Runtime stops it between operators (RunOptionsSetTerminate), and it ends with
  // an error soon.
  bool Cancel();

 private:
  friend void TerminateAllRuns();
  RunOptionsPtr options_;
  std::atomic<bool> started_{false};
  std::atomic<bool> cancelled_{false};
  RunControl* previous_ = nullptr;  // the list of live controls, for TerminateAllRuns
  RunControl* next_ = nullptr;
};

// The calling thread's own control, for runs that bring none. Never cancelled, except by
// TerminateAllRuns.
RunControl& ThreadRunControl();

// Cancels every run there is, started or not: for the process's exit.
void TerminateAllRuns();

// JavaScript: new RunOptions(logSeverityLevel, tag, [[key, value], ...]); terminate()
// => true when the run had not started yet (see RunControl::Cancel). Shared with the run
// it was passed to, so terminate() stays safe however long the run outlives this object.
class RunOptions : public Napi::ObjectWrap<RunOptions> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RunOptions(const Napi::CallbackInfo& info);

  // The control of a RunOptions object, or null for undefined; throws for anything else.
  static std::shared_ptr<RunControl> From(Napi::Value value);

 private:
  Napi::Value JS_Terminate(const Napi::CallbackInfo& info);
  std::shared_ptr<RunControl> control_;
};

}  // namespace onnx_native
