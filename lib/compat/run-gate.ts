/**
 * @internal How many of a session's runs go to ONNX Runtime at once, the rest waiting
 * their turn in order. onnxruntime-node runs one call at a time (on the JavaScript
 * thread), each on every core; code written for it starts many calls at once (a server,
 * `Promise.all` over a batch), and letting them all run, each with a thread per core,
 * would put several threads on every core: slower in all (measured: 0.64 times
 * onnxruntime-node's throughput with 8 calls in flight on 2 cores) and the JavaScript
 * thread waiting 20 ms and more for a core.
 */
import { availableParallelism } from 'node:os';

/** Runs at once for a session of `intraOpNumThreads` (0: ONNX Runtime's default, a thread per core). */
export function runSlots(intraOpNumThreads: number | undefined): number {
  const cores = availableParallelism();
  const perRun = intraOpNumThreads !== undefined && intraOpNumThreads > 0 ? intraOpNumThreads : cores;
  return Math.max(1, Math.floor(cores / perRun));
}
