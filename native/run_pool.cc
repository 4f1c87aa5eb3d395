#include "run_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "addon_data.h"
#include "run_options.h"

namespace onnx_native {

// Finished tasks reach the JavaScript thread through a lock-free list: the thread that
// finished a run and the JavaScript thread polling for it never wait on each other's
// lock (a contended mutex here put one of them to sleep in the kernel on most runs of
// a small model, which costs more than the run).
class CompletionQueue {
 public:
  explicit CompletionQueue(Napi::Env env) : env_(env) {
    napi_value name = Napi::String::New(env, "onnx-native:completions");
    // Unreferenced while idle, so an idle addon never keeps the process alive.
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, this, &Drain,
                                        &tsfn_) != napi_ok ||
        napi_unref_threadsafe_function(env, tsfn_) != napi_ok) {
      throw Napi::Error::New(env, "cannot create the completion channel");
    }
  }

  // JavaScript thread, when the environment shuts down: waits for its tasks still on
  // the pool (runs read JavaScript memory), then drops, here on the JavaScript thread,
  // the finished ones that never got to complete.
  void Shutdown() {
    {
      std::unique_lock<std::mutex> lock(idleMutex_);
      shuttingDown_ = true;
      idle_.wait(lock, [this] { return onPool_ == 0; });
    }
    for (PoolTask* next = TakeDone(); next != nullptr;) {
      std::unique_ptr<PoolTask> dropped(std::exchange(next, next->nextDone_));
    }
    napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  }

  // JavaScript thread, once, before any task starts (SetCompletionState).
  void WatchFrom(int32_t* cells) {
    // The finished flag is written from pool threads and read by JavaScript's
    // Atomics.load: an int32_t, used through std::atomic (C++17 has no atomic_ref).
    static_assert(sizeof(std::atomic<int32_t>) == sizeof(int32_t) && std::atomic<int32_t>::is_always_lock_free);
    cells[1] = *inFlight_;
    inFlight_ = &cells[1];
    finishedFlag_.store(reinterpret_cast<std::atomic<int32_t>*>(&cells[0]));
  }

  // JavaScript thread.
  void Started() {
    if ((*inFlight_)++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
    ++onPool_;
  }

  // Pool thread.
  void Finished(std::unique_ptr<PoolTask> task) {
    PoolTask* finished = task.release();
    finished->nextDone_ = done_.load();
    while (!done_.compare_exchange_weak(finished->nextDone_, finished)) {
    }
    finishedFlag_.load()->store(1);
    // While the JavaScript thread polls (SetPolling), it takes the list itself: no
    // wake-up needed. Otherwise one pending call drains everything queued before it.
    // (Sequentially consistent: either this sees polling_ turned off, or the drain that
    // follows turning it off sees this task.)
    if (!polling_ && !drainPending_.exchange(true)) napi_call_threadsafe_function(tsfn_, this, napi_tsfn_nonblocking);
    // Only now may Shutdown() go on and release the thread-safe function.
    if (--onPool_ == 0 && shuttingDown_) {
      std::lock_guard<std::mutex> lock(idleMutex_);
      idle_.notify_all();
    }
  }

  // JavaScript thread: completes every finished task. Returns how many are still in
  // flight.
  size_t DrainNow(napi_env env) {
    Drain(env, nullptr, this, nullptr);
    return static_cast<size_t>(*inFlight_);
  }

  // JavaScript thread. Turning polling off drains once more, so that a task finished
  // while the flag was still set is not left waiting.
  void SetPolling(napi_env env, bool polling) {
    polling_ = polling;
    if (!polling) DrainNow(env);
  }

 private:
  // Takes the finished tasks, oldest first, as a list linked by nextDone_.
  PoolTask* TakeDone() {
    PoolTask* newestFirst = done_.exchange(nullptr);
    PoolTask* oldestFirst = nullptr;
    while (newestFirst != nullptr) {
      PoolTask* next = newestFirst->nextDone_;
      newestFirst->nextDone_ = oldestFirst;
      oldestFirst = newestFirst;
      newestFirst = next;
    }
    return oldestFirst;
  }

  static void Drain(napi_env env, napi_value, void* context, void* fromTsfn) {
    if (env == nullptr) return;  // shutting down: Shutdown() cleans up
    auto* self = static_cast<CompletionQueue*>(context);
    if (fromTsfn != nullptr) self->drainPending_ = false;
    // Cleared before the list is taken: a task that finishes after this sets it again.
    self->finishedFlag_.load()->store(0);
    if (self->done_.load() == nullptr) return;
    Napi::Env jsEnv(env);
    for (PoolTask* next = self->TakeDone(); next != nullptr;) {
      std::unique_ptr<PoolTask> task(std::exchange(next, next->nextDone_));
      // No C++ exception may leave this function: Node called it, and unwinding through
      // Node's frames ends the process (std::terminate).
      try {
        Napi::HandleScope scope(jsEnv);
        try {
          task->Complete(jsEnv);
        } catch (const Napi::Error& e) {
          // A callback threw: report it as uncaught, as Node does for any callback, and
          // go on with the other tasks. In a worker being terminated, nothing can run
          // and this fails quietly (napi_pending_exception): the task is dropped.
          napi_fatal_exception(env, e.Value());
        }
      } catch (...) {
        // The environment can no longer run JavaScript (a worker being terminated): the
        // task is dropped, and its references go with it below.
      }
      task.reset();
      if (--*self->inFlight_ == 0) napi_unref_threadsafe_function(env, self->tsfn_);
    }
  }

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  // lib/'s cells (WatchFrom), or these until it sets them.
  std::atomic<int32_t> ownFinishedFlag_{0};
  int32_t ownInFlight_ = 0;
  std::atomic<std::atomic<int32_t>*> finishedFlag_{&ownFinishedFlag_};
  int32_t* inFlight_ = &ownInFlight_;  // JavaScript thread only: queued and not yet completed
  std::atomic<size_t> onPool_{0};              // queued and not yet executed
  std::atomic<PoolTask*> done_{nullptr};       // finished, newest first
  std::atomic<bool> polling_{false};
  std::atomic<bool> drainPending_{false};
  // Shutdown() waits on these for onPool_ to reach 0.
  std::atomic<bool> shuttingDown_{false};
  std::mutex idleMutex_;
  std::condition_variable idle_;
};

namespace {

// How long the process's exit waits for runs to stop (ONNX Runtime stops a terminated run
// between operators, within milliseconds mostly) and loads to finish (which cannot be
// stopped) before it ends the process at once.
constexpr auto kExitWait = std::chrono::seconds(5);

// Runs in progress, and the process's exit waiting for them: exit() destroys ONNX
// Runtime's statics (kernel registries, allocators), and a run still going on another
// thread then fails in its kernels, or crashes. (An atexit handler cannot do this: ONNX
// Runtime registers many of its statics' destructors lazily, after any handler the addon
// could register, so they would run first.) Never destroyed: threads still use it while
// the process exits.
struct ExitState {
  std::atomic<int> running{0};
  std::atomic<bool> exiting{false};
  std::mutex mutex;
  std::condition_variable idle;
};

ExitState& Exit() {
  static ExitState* state = std::make_unique<ExitState>().release();
  return *state;
}

void EndRunning() {
  ExitState& exit = Exit();
  if (--exit.running == 0 && exit.exiting) {
    std::lock_guard<std::mutex> lock(exit.mutex);
    exit.idle.notify_all();
  }
}

// Tells the CPU this is a spin-wait (cheaper for the sibling hyperthread, and no
// memory-order mis-speculation when the flag changes).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#else
  std::this_thread::yield();
#endif
}

// How long an idle thread keeps looking for work before it sleeps: long enough to
// catch the next run of a caller awaiting runs one after another (a few µs apart),
// short enough not to take a core from ONNX Runtime's own threads. Spinning for
// 500 µs made PP-OCR's classifier 25% slower on a 2-core machine.
constexpr auto kSpin = std::chrono::microseconds(50);

// The pool itself is process-wide: ONNX Runtime's sessions are shared by every
// environment, and so is the CPU. Deliberately never destroyed (threads are detached
// at exit); the OS reclaims it.
class Pool {
 public:
  static Pool& Instance() {
    static Pool* pool = std::make_unique<Pool>().release();
    return *pool;
  }

  Pool() {
    size_t size = 4;
    if (const char* env = std::getenv("ONNX_NATIVE_RUN_THREADS")) {
      long n = std::strtol(env, nullptr, 10);
      if (n > 0 && n <= 256) size = static_cast<size_t>(n);
    }
    for (size_t i = 0; i < size; ++i) std::thread([this] { Work(); }).detach();
  }

  void Push(std::unique_ptr<PoolTask> task, std::shared_ptr<CompletionQueue> completions) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back({std::move(task), std::move(completions)});
    }
    // Set once the lock is free: a spinning thread takes the lock as soon as it sees
    // this, and finding it still held would put that thread to sleep and this one
    // through a system call to wake it.
    pending_.store(true, std::memory_order_release);
    // A thread that is looking for work will find this; waking another would only cost
    // a system call here and a context switch there.
    if (searching_.load() == 0) wake_.notify_one();
  }

 private:
  struct Item {
    std::unique_ptr<PoolTask> task;
    std::shared_ptr<CompletionQueue> completions;
  };

  bool TryPop(Item& item) {
    if (!pending_.load(std::memory_order_acquire)) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) {  // another thread took it
      pending_.store(false, std::memory_order_release);
      return false;
    }
    item = std::move(queue_.front());
    queue_.pop_front();
    pending_.store(!queue_.empty(), std::memory_order_release);
    return true;
  }

  // One idle thread at a time spins on `pending_`; the rest sleep.
  bool SpinForWork() {
    bool expected = false;
    if (!spinning_.compare_exchange_strong(expected, true)) return false;
    auto until = std::chrono::steady_clock::now() + kSpin;
    bool found = false;
    for (unsigned i = 1; !(found = pending_.load(std::memory_order_acquire)); ++i) {
      CpuRelax();
      if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) break;
    }
    spinning_.store(false, std::memory_order_release);
    return found;
  }

  // Each thread counts as searching (searching_) from the moment it finishes a task,
  // before its result is even handed over, until it has work again or is asleep: a
  // caller that queues its next run as soon as it has the last one's result finds this
  // thread already looking, and wakes no other.
  void Work() {
    Item item;
    searching_++;
    for (;;) {
      ExitState& exit = Exit();
      // Counted before the exit flag is read: the exit either sees this thread running
      // and waits for it, or this thread sees the exit and takes no more work.
      exit.running++;
      if (exit.exiting) {
        EndRunning();
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      }
      if (TryPop(item) || (SpinForWork() && TryPop(item))) {
        searching_--;
        item.task->Execute();
        EndRunning();
        searching_++;
        item.completions->Finished(std::move(item.task));
        item.completions.reset();
        continue;
      }
      EndRunning();
      std::unique_lock<std::mutex> lock(mutex_);
      searching_--;
      wake_.wait(lock, [this] { return !queue_.empty(); });
      searching_++;
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::atomic<bool> pending_{false};
  std::atomic<bool> spinning_{false};
  std::atomic<int> searching_{0};
};

}  // namespace

namespace {

// An exception escaping a pool thread would end the process: what a task's work throws
// is kept for its JavaScript thread instead.
template <typename Work>
std::optional<BindingError> Capture(Work&& work) {
  try {
    work();
  } catch (const BindingError& e) {
    return e;
  } catch (const std::exception& e) {
    return BindingError("FAIL", e.what());
  }
  return std::nullopt;
}

}  // namespace

void PromiseTask::Execute() { failure_ = Capture([this] { Run(); }); }

void PromiseTask::Complete(Napi::Env env) {
  if (failure_) {
    deferred_.Reject(MakeError(env, failure_->code(), failure_->what()).Value());
    return;
  }
  try {
    deferred_.Resolve(Guard(env, [&] { return Resolve(env); }));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void CallbackTask::Execute() { failure_ = Capture([this] { Run(); }); }

void CallbackTask::Complete(Napi::Env env) {
  if (failure_) {
    callback_.Call({MakeError(env, failure_->code(), failure_->what()).Value()});
    return;
  }
  Napi::Value results;
  try {
    results = Guard(env, [&] { return Results(env); });
  } catch (const Napi::Error& e) {
    callback_.Call({e.Value()});
    return;
  }
  callback_.Call({env.Null(), results});
}

Napi::Promise QueuePromiseTask(Napi::Env env, std::unique_ptr<PromiseTask> task) {
  Napi::Promise promise = task->Promise();
  QueueOnPool(env, std::move(task));
  return promise;
}

namespace {

// `env`'s queue, made on first use.
const std::shared_ptr<CompletionQueue>& CompletionsOf(Napi::Env env) {
  std::shared_ptr<CompletionQueue>& completions = AddonData::Of(env).completions;
  if (!completions) completions = std::make_shared<CompletionQueue>(env);
  return completions;
}

}  // namespace

size_t DrainCompletions(Napi::Env env) { return CompletionsOf(env)->DrainNow(env); }

void SetCompletionPolling(Napi::Env env, bool polling) { CompletionsOf(env)->SetPolling(env, polling); }

void SetCompletionState(Napi::Env env, int32_t* cells) { CompletionsOf(env)->WatchFrom(cells); }

void ShutdownCompletions(Napi::Env env) {
  if (AddonData::Of(env).completions) AddonData::Of(env).completions->Shutdown();
}

WorkInProgress::WorkInProgress() {
  ExitState& exit = Exit();
  exit.running++;
  if (exit.exiting) {
    EndRunning();
    throw BindingError("FAIL", "the process is exiting");
  }
}

WorkInProgress::~WorkInProgress() { EndRunning(); }

void StopRunsForExit(int status) {
  ExitState& exit = Exit();
  if (exit.exiting.exchange(true)) return;
  TerminateAllRuns();
  std::unique_lock<std::mutex> lock(exit.mutex);
  if (!exit.idle.wait_for(lock, kExitWait, [&] { return exit.running == 0; })) std::_Exit(status);
}

void QueueOnPool(Napi::Env env, std::unique_ptr<PoolTask> task) {
  const std::shared_ptr<CompletionQueue>& completions = CompletionsOf(env);
  completions->Started();
  Pool::Instance().Push(std::move(task), completions);
}

std::shared_ptr<CompletionQueue> BeginTask(Napi::Env env) {
  const std::shared_ptr<CompletionQueue>& completions = CompletionsOf(env);
  completions->Started();
  return completions;
}

void EndTask(const std::shared_ptr<CompletionQueue>& completions, std::unique_ptr<PoolTask> task) {
  completions->Finished(std::move(task));
}

}  // namespace onnx_native
