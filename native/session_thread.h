// The session thread: one thread, apart from the run pool, that loads every session
// and destroys it, in the order asked.
//
// Why a thread of its own: glibc's malloc gives threads arenas of their own and keeps
// what is freed in the arena it came from, resident unless it lies at the top of a
// heap. Sessions loaded on the pool's threads, whose runs allocate there as well (ONNX
// Runtime's arena regions), and destroyed on the JavaScript thread left each pool arena
// holding hundreds of MB of freed memory, more of it resident as each new session
// landed elsewhere in it: 20,000 create-run-release cycles grew RSS by 120 to 590 MB,
// still rising. Loaded and destroyed here, a session's own memory is reused by the
// next one; what its runs allocated on the pool's threads is given back to the system
// after releases (malloc_trim, glibc only, at most every 50 ms). Loads never wait for
// runs, nor runs for loads, and release() no longer pays for the destruction.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>

#include "run_pool.h"

namespace onnx_native {

// Queues a load on the session thread, and returns its promise (QueuePromiseTask's
// counterpart). Loads never wait for runs, nor runs for loads.
Napi::Promise QueueOnSessionThread(Napi::Env env, std::unique_ptr<PromiseTask> task);

// Runs `release` (a session's destruction) on the session thread, later; at once when
// called there, or on a thread whose environment is shutting down, or at exit.
void ReleaseOnSessionThread(std::function<void()> release);

// Runs `free` (an output's OrtValue going back, which may hold a session's last
// reference) on the session thread, as ReleaseOnSessionThread does, without asking for
// freed memory to be given back to the system after it: outputs come and go with every
// run, and malloc_trim holds each arena's lock while the runs allocate in them.
void FreeOnSessionThread(std::function<void()> free);

// Called as the process exits, once its runs and loads have stopped (StopRunsForExit):
// the releases still queued are run on the calling thread, before exit() destroys ONNX
// Runtime's statics; releases asked for from then on run where they are asked for.
void FinishSessionReleasesForExit();

// Called once as the calling thread's environment shuts down, after
// ShutdownCompletions: the sessions its finalizers let go of are destroyed at once, on
// this thread, and so are those still waiting for the session thread, so that they are
// all gone with the environment (before the process exits, for the main thread).
void ShutdownSessionReleases();

}  // namespace onnx_native
