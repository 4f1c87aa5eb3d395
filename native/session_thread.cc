#include "session_thread.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace onnx_native {
namespace {

// After a release, the session thread gives freed memory back at most this often (and
// this long after the last release at the latest): malloc_trim walks every arena and
// holds each one's lock while it does, 0.2 to 1.5 ms with a few hundred MB of heap.
constexpr auto kTrimEvery = std::chrono::milliseconds(50);

// Hands the memory that malloc holds free back to the system. glibc only returns the
// top of each heap by itself: what sessions free below a live allocation (ONNX
// Runtime's arena regions, made by runs on the pool's threads) stays resident.
void ReturnFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// The session thread: loads and releases wait in one queue, in order. No
// spinning: sessions come and go seldom. Process-wide and never destroyed, like the pool.
class SessionThread {
 public:
  static SessionThread& Instance() {
    // process.exit() runs no environment cleanup: lib/'s exit listener finishes the
    // releases still queued (FinishSessionReleasesForExit). Not an atexit handler: ONNX
    // Runtime registers many of its statics' destructors lazily, after any handler
    // registered here, so they would be gone by the time it ran.
    static SessionThread* thread = [] {
      SessionThread* made = std::make_unique<SessionThread>().release();
      started_ = made;
      return made;
    }();
    return *thread;
  }

  // Null until the first session.
  static SessionThread* IfStarted() { return started_.load(); }

  SessionThread() { std::thread([this] { Work(); }).detach(); }

  // JavaScript thread.
  void Load(std::unique_ptr<PoolTask> task, std::shared_ptr<CompletionQueue> completions) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back({std::move(task), std::move(completions), nullptr, false});
    }
    wake_.notify_one();
  }

  // `trim`: give freed memory back to the system after it (a session's destruction), or
  // not (an output's few blocks, which the next runs reuse).
  void Release(std::function<void()> release, bool trim) {
    if (onThisThread_ || releaseHere_) {
      release();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!exiting_) {
        queue_.push_back({nullptr, nullptr, std::move(release), trim});
        wake_.notify_one();
        return;
      }
    }
    release();
  }

  // Runs the releases still queued on the calling thread, after waiting for one in
  // progress. With `exiting`, nothing more starts on the session thread, and releases
  // asked for later run where they are asked for.
  void FinishReleasesHere(bool exiting) {
    std::deque<std::function<void()>> releases;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      exiting_ = exiting_ || exiting;
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (it->release) {
          releases.push_back(std::move(it->release));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      if (!onThisThread_) released_.wait(lock, [this] { return !releasing_; });
    }
    for (std::function<void()>& release : releases) release();
  }

  // The calling thread's environment is shutting down (ShutdownSessionReleases).
  static void ReleaseHereFromNowOn() { releaseHere_ = true; }

 private:
  // A load (task, with the queue it completes through) or a release.
  struct Item {
    std::unique_ptr<PoolTask> task;
    std::shared_ptr<CompletionQueue> completions;
    std::function<void()> release;
    bool trim;
  };

  void Work() {
    onThisThread_ = true;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (trimDue_ && !exiting_ && std::chrono::steady_clock::now() >= nextTrim_) {
        trimDue_ = false;
        lock.unlock();
        ReturnFreedMemory();
        lock.lock();
        nextTrim_ = std::chrono::steady_clock::now() + kTrimEvery;
        continue;
      }
      auto ready = [this] { return !queue_.empty() && !exiting_; };
      if (trimDue_ && !exiting_) {
        if (!wake_.wait_until(lock, nextTrim_, ready)) continue;  // time to trim
      } else {
        wake_.wait(lock, ready);
      }
      Item item = std::move(queue_.front());
      queue_.pop_front();
      releasing_ = item.release != nullptr;
      const bool trim = item.trim;
      lock.unlock();
      if (item.release) {
        item.release();
        item.release = nullptr;
      } else {
        item.task->Execute();
        EndTask(item.completions, std::move(item.task));
        item.completions.reset();
      }
      lock.lock();
      if (releasing_) {
        releasing_ = false;
        trimDue_ = trimDue_ || trim;
        released_.notify_all();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable released_;  // FinishReleasesHere waits on it for releasing_
  std::deque<Item> queue_;
  bool releasing_ = false;
  bool exiting_ = false;
  bool trimDue_ = false;  // a release ran since the last trim
  std::chrono::steady_clock::time_point nextTrim_{};
  static std::atomic<SessionThread*> started_;
  static thread_local bool onThisThread_;
  static thread_local bool releaseHere_;
};

std::atomic<SessionThread*> SessionThread::started_{nullptr};
thread_local bool SessionThread::onThisThread_ = false;
thread_local bool SessionThread::releaseHere_ = false;

}  // namespace

Napi::Promise QueueOnSessionThread(Napi::Env env, std::unique_ptr<PromiseTask> task) {
  Napi::Promise promise = task->Promise();
  std::shared_ptr<CompletionQueue> completions = BeginTask(env);
  SessionThread::Instance().Load(std::move(task), std::move(completions));
  return promise;
}

void ReleaseOnSessionThread(std::function<void()> release) { SessionThread::Instance().Release(std::move(release), true); }

void FreeOnSessionThread(std::function<void()> free) { SessionThread::Instance().Release(std::move(free), false); }

void FinishSessionReleasesForExit() {
  if (SessionThread* thread = SessionThread::IfStarted()) thread->FinishReleasesHere(true);
}

void ShutdownSessionReleases() {
  SessionThread::ReleaseHereFromNowOn();
  if (SessionThread* thread = SessionThread::IfStarted()) thread->FinishReleasesHere(false);
}

}  // namespace onnx_native
