// The threads that run inference, and the way results get back to JavaScript.
//
// Runs do not use libuv's thread pool: a long inference there would hold up the fs,
// dns and crypto work that shares its four threads. The pool's own threads also spin
// for a moment when they run out of work (one at a time), so that a run queued right
// after another starts at once instead of waiting for a thread to wake up: on small
// models the wake-up costs more than the inference.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "ort_api.h"

namespace onnx_native {

// Where an environment's finished tasks wait for its JavaScript thread (run_pool.cc).
// One per environment (main thread or worker), owned by its AddonData.
class CompletionQueue;

// One unit of work: Execute() runs on a pool thread and must not touch JavaScript;
// Complete() then runs on the JavaScript thread of the environment that queued it, and
// the task is destroyed there (so it may own JavaScript references).
class PoolTask {
 public:
  virtual ~PoolTask() = default;
  virtual void Execute() = 0;
  virtual void Complete(Napi::Env env) = 0;

 private:
  friend class CompletionQueue;
  PoolTask* nextDone_ = nullptr;  // the CompletionQueue's list of finished tasks
};

// A task that settles a promise: Run() on the pool, then Resolve() on the JavaScript
// thread; a BindingError thrown by either rejects the promise with lib/'s error class.
class PromiseTask : public PoolTask {
 public:
  explicit PromiseTask(Napi::Env env) : deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() final;
  void Complete(Napi::Env env) final;

 protected:
  virtual void Run() = 0;                            // pool thread
  virtual Napi::Value Resolve(Napi::Env env) = 0;    // JavaScript thread

 private:
  Napi::Promise::Deferred deferred_;
  std::optional<BindingError> failure_;
};

// A task that ends in a Node-style callback, (error) or (null, results): Run() on the
// pool, then Results() on the JavaScript thread; what either throws becomes the error,
// in lib/'s error class.
class CallbackTask : public PoolTask {
 public:
  explicit CallbackTask(Napi::Function callback) : callback_(Napi::Persistent(callback)) {}

  void Execute() final;
  void Complete(Napi::Env env) final;

 protected:
  virtual void Run() = 0;                                                  // pool thread
  virtual Napi::Value Results(Napi::Env env) { return env.Undefined(); }  // JavaScript thread

 private:
  Napi::FunctionReference callback_;
  std::optional<BindingError> failure_;
};

// Completes, on the JavaScript thread, every task of `env` that has finished; returns
// how many are still in flight. lib/ calls it from setImmediate while runs are young:
// waking a sleeping event loop costs tens of microseconds on virtual machines, more than
// a small model's whole run, and a loop that is polling needs no wake-up.
size_t DrainCompletions(Napi::Env env);

// While polling is on, finished tasks wait for DrainCompletions instead of waking the
// event loop. Turning it off drains once more.
void SetCompletionPolling(Napi::Env env, bool polling);

// Two int32 cells where lib/ watches `env`'s tasks without calling into the addon: [0]
// turns non-zero when a task finishes and back to 0 when DrainCompletions takes the
// finished ones; [1] is how many are in flight. The memory must stay put for the life
// of the environment (AddonData keeps the array that holds it). Set once.
void SetCompletionState(Napi::Env env, int32_t* cells);

// Called once as `env` shuts down: waits for its tasks still on the pool.
void ShutdownCompletions(Napi::Env env);

// While it lives, counts work on the calling thread (a runSync(), a load on the session
// thread) as work the process's exit must wait for; the pool counts its own tasks.
// Throws FAIL once the exit has begun: ONNX Runtime is about to be torn down.
class WorkInProgress {
 public:
  WorkInProgress();
  ~WorkInProgress();
  WorkInProgress(const WorkInProgress&) = delete;
  WorkInProgress& operator=(const WorkInProgress&) = delete;
};

// Called as the process exits (lib/ calls it from process.on('exit') on the main thread,
// before exit() destroys ONNX Runtime's statics under any run still going): stops every
// run, takes no more work, and waits a while for the runs and loads in progress to end.
// If one will not, ends the process at once with `status` rather than tear ONNX Runtime
// down under it.
void StopRunsForExit(int status);

// Queues `task` on the pool and returns its promise.
Napi::Promise QueuePromiseTask(Napi::Env env, std::unique_ptr<PromiseTask> task);

// Queues `task` on the pool; its Complete() runs later on `env`'s JavaScript thread.
// While tasks are in flight the environment's event loop stays alive.
void QueueOnPool(Napi::Env env, std::unique_ptr<PoolTask> task);

// For a thread of its own that runs tasks queued from JavaScript (session_thread.h):
// BeginTask on the JavaScript thread as a task is queued (the environment's event loop
// stays alive until it completes), EndTask on that thread once the task has executed;
// its Complete() then runs on the JavaScript thread, as for the pool's tasks.
std::shared_ptr<CompletionQueue> BeginTask(Napi::Env env);
void EndTask(const std::shared_ptr<CompletionQueue>& completions, std::unique_ptr<PoolTask> task);

}  // namespace onnx_native
