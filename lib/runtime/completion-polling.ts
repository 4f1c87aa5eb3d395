/**
 * @internal How finished runs reach the JavaScript thread quickly.
 *
 * A run's result normally wakes the event loop through a thread-safe function. On
 * virtual machines, waking a sleeping event loop costs tens of microseconds: more than
 * a small model's whole inference. So for a short window after each run starts, the
 * event loop polls instead of sleeping: it takes finished runs in `setImmediate`
 * turns, with I/O still served between them, and within a turn keeps taking the
 * results of runs that callers queue from their continuations. The window is a little
 * longer than the session's runs usually take; sessions whose runs take longer than
 * POLL_UP_TO_MS don't poll at all, the wake-up being small next to the run.
 */
import { performance } from 'node:perf_hooks';
import type { NativeAddon } from './binding';

/** Runs that usually take longer than this wake the event loop instead. */
export const POLL_UP_TO_MS = 0.5;

/**
 * The same, for sessions whose ONNX Runtime threads take every core: only runs too
 * short for ONNX Runtime to spread over its threads, which polling then does not slow.
 * A run's measured time includes the wake-up it may save (tens of µs), hence 0.1 ms.
 */
export const POLL_ON_ALL_CORES_UP_TO_MS = 0.1;

let addon: NativeAddon | undefined;
/**
 * Cells the addon writes (native/run_pool.h SetCompletionState): [FINISHED] turns
 * non-zero when a run finishes, [IN_FLIGHT] counts runs queued and not yet completed.
 * Watching them costs a memory read, where asking the addon costs a native call. Over an
 * ArrayBuffer of its own, so that the memory never moves.
 */
const state = new Int32Array(new ArrayBuffer(8));
const FINISHED = 0;
const IN_FLIGHT = 1;
let active = false;
/** When polling stops, unless another run extends it. */
let until = 0;

/**
 * How many times a turn checks for a result before letting the event loop run: a few
 * nanoseconds each, about 10 µs in all.
 */
const SPIN_CHECKS = 2000;

/**
 * How long one turn may keep taking results, run after run, before it lets the event
 * loop serve timers and I/O.
 */
const TURN_MS = 0.5;

/** Microtask turns to wait, with nothing in flight, for a continuation to queue a run. */
const QUIET_TURNS = 4;

/** Takes finished runs, spinning briefly while one is in flight; returns how many still are. */
function drain(): number {
  for (let i = 0; i < SPIN_CHECKS; i++) {
    if (Atomics.load(state, FINISHED) !== 0) addon!.drainCompletions();
    if (state[IN_FLIGHT] === 0) return 0;
  }
  return state[IN_FLIGHT];
}

async function tick(): Promise<void> {
  // A caller awaiting runs one after another queues its next run from the continuation
  // of the last one, a microtask: awaiting here lets that continuation run, and the new
  // run's result is taken in this same turn. Going round the event loop instead costs
  // more than a small model's whole run (an epoll_wait system call, and the loop's
  // phases); TURN_MS keeps timers and I/O served all the same.
  const deadline = performance.now() + TURN_MS;
  let quiet = 0;
  while (quiet < QUIET_TURNS && performance.now() < deadline) {
    if (drain() > 0) break; // a longer run: let the event loop turn meanwhile
    await undefined;
    quiet = state[IN_FLIGHT] > 0 ? 0 : quiet + 1;
  }
  // Keep polling through the window even with nothing in flight: a caller awaiting
  // runs one after another queues the next one within a microsecond or two.
  if (performance.now() < until) {
    setImmediate(() => void tick());
    return;
  }
  active = false;
  addon!.setCompletionPolling(false);
}

/**
 * Called right after a run is queued at `queuedAt` (performance.now()), with how long the
 * session's runs usually take: the loop polls for twice that (at least 0.1 ms, for runs
 * of unknown length).
 */
export function pollForCompletions(native: NativeAddon, expectedMs: number, queuedAt: number): void {
  until = Math.max(until, queuedAt + Math.max(0.1, 2 * expectedMs));
  if (active) return;
  if (addon !== native) native.setCompletionState(state);
  addon = native;
  active = true;
  native.setCompletionPolling(true);
  setImmediate(() => void tick());
}
