/**
 * @internal How finished runs reach the JavaScript thread quickly.
 *
 * A run's result normally wakes the event loop through a thread-safe function. On
 * virtual machines, waking a sleeping event loop costs tens of microseconds: more than
 * a small model's whole inference. So for a short window after each run starts, the
 * event loop polls instead of sleeping: it takes finished runs in `setImmediate`
 * turns, with I/O still served between them. Long runs outlast the window and wake
 * the loop as usual; the window costs at most its length in CPU per burst of runs.
 */
import type { NativeAddon } from './binding';

/** How long the loop polls after the latest run started. */
const WINDOW_MS = 0.1;

let addon: NativeAddon | undefined;
let active = false;
let lastStart = 0;

/** How many times one turn checks for a result (about 50 ns each) before letting the event loop run. */
const SPIN_CHECKS = 100;

function tick(): void {
  // Spin briefly: a small model's result is usually microseconds away, and a turn of
  // the event loop costs microseconds too.
  for (let i = 0; i < SPIN_CHECKS && addon!.drainCompletions() > 0; i++);
  // Keep polling through the window even with nothing in flight: a caller awaiting
  // runs one after another queues the next one within a microsecond or two.
  if (performance.now() - lastStart < WINDOW_MS) {
    setImmediate(tick);
    return;
  }
  active = false;
  addon!.setCompletionPolling(false);
}

/** Called right after a run is queued. */
export function pollForCompletions(native: NativeAddon): void {
  lastStart = performance.now();
  if (active) return;
  addon = native;
  active = true;
  native.setCompletionPolling(true);
  setImmediate(tick);
}
