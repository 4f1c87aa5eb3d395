/**
 * @internal How finished runs reach the JavaScript thread quickly.
 *
 * A run's result normally wakes the event loop through a thread-safe function. On
 * virtual machines, waking a sleeping event loop costs tens of microseconds: more than
 * a small model's whole inference. So for a short window after each run starts, the
 * event loop polls instead of sleeping: it takes finished runs in `setImmediate`
 * turns, with I/O still served between them. The window is a little longer than the
 * session's runs usually take; sessions whose runs take longer than POLL_UP_TO_MS
 * don't poll at all, the wake-up being small next to the run.
 */
import type { NativeAddon } from './binding';

/** Runs that usually take longer than this wake the event loop instead. */
export const POLL_UP_TO_MS = 0.5;

let addon: NativeAddon | undefined;
let active = false;
/** When polling stops, unless another run extends it. */
let until = 0;

/** How many times one turn checks for a result (about 50 ns each) before letting the event loop run. */
const SPIN_CHECKS = 100;

function tick(): void {
  // Spin briefly: a small model's result is usually microseconds away, and a turn of
  // the event loop costs microseconds too.
  for (let i = 0; i < SPIN_CHECKS && addon!.drainCompletions() > 0; i++);
  // Keep polling through the window even with nothing in flight: a caller awaiting
  // runs one after another queues the next one within a microsecond or two.
  if (performance.now() < until) {
    setImmediate(tick);
    return;
  }
  active = false;
  addon!.setCompletionPolling(false);
}

/**
 * Called right after a run is queued, with how long the session's runs usually take:
 * the loop polls for twice that (at least 0.1 ms, for runs of unknown length).
 */
export function pollForCompletions(native: NativeAddon, expectedMs: number): void {
  until = Math.max(until, performance.now() + Math.max(0.1, 2 * expectedMs));
  if (active) return;
  addon = native;
  active = true;
  native.setCompletionPolling(true);
  setImmediate(tick);
}
