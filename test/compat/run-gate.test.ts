import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { availableParallelism } from 'node:os';
import { RunGate } from '../../lib/core/run-gate';
import { runSlots } from '../../lib/compat/run-gate';

const Gate = suite("compat's run gate: how many of a session's calls reach ONNX Runtime at once");

Gate('a session of a thread per core runs one call at a time; one of a thread, one per core', () => {
  const cores = availableParallelism();
  assert.is(runSlots(undefined), 1);
  assert.is(runSlots(0), 1);
  assert.is(runSlots(cores), 1);
  assert.is(runSlots(1), cores);
  assert.is(runSlots(cores * 4), 1);
});

Gate('calls past the slots wait, and go in the order they came, failures freeing their place', async () => {
  const gate = new RunGate(2);
  let inFlight = 0;
  let most = 0;
  const order: number[] = [];
  const call = (i: number) =>
    gate.run(async () => {
      order.push(i);
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      if (i % 3 === 0) throw new Error(`call ${i} fails`);
      return i;
    });
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => call(i)));
  assert.is(most, 2);
  assert.equal(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(
    results.map((r) => r.status),
    results.map((_, i) => (i % 3 === 0 ? 'rejected' : 'fulfilled')),
  );
  // Every place is free again: two more run at once.
  let together = 0;
  await Promise.all([0, 1].map(() => gate.run(async () => { together++; await new Promise((r) => setTimeout(r, 5)); assert.is(together, 2); })));
});

Gate.run();
