import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, tensor, type AnyTensor } from '../../lib/index';
import { CLS_MODEL, VAD_MODEL, maxAbsDiff, randomFloats, rejectsWith } from '../helpers/common';
import { buildModel, reluModel, T } from '../helpers/onnx-model';

const Batching = suite('dynamic batching');

const image = (seed: number) => tensor('float32', randomFloats(3 * 48 * 192, seed), [1, 3, 48, 192]);

Batching('batched results equal unbatched ones, request by request', async () => {
  const session = await createSession(CLS_MODEL);
  const batched = session.batched({ maxBatchSize: 8, maxQueueDelayMicros: 5000 });
  const inputs = Array.from({ length: 20 }, (_, i) => image(100 + i));
  const results = await Promise.all(inputs.map((x) => batched.run({ x })));
  inputs.forEach((x, i) => {
    const alone = session.runSync({ x })['softmax_0.tmp_0'];
    const mine = results[i]['softmax_0.tmp_0'];
    assert.equal(mine.dims, [1, 2]);
    assert.ok(maxAbsDiff(mine.data as Float32Array, alone.data as Float32Array) < 1e-5, `request ${i}`);
  });
  const stats = batched.stats();
  assert.is(stats.requests, 20);
  assert.is(stats.completed, 20);
  assert.ok(stats.batches < 20, `${stats.batches} batches for 20 requests: nothing was batched`);
  assert.is(Object.entries(stats.batchSizes).reduce((n, [size, count]) => n + Number(size) * count, 0), 20);
  assert.ok(Object.keys(stats.batchSizes).every((size) => Number(size) <= 8));
});

Batching('requests that carry several rows each are batched too', async () => {
  const session = await createSession(CLS_MODEL);
  const batched = session.batched({ maxBatchSize: 6, maxQueueDelayMicros: 5000 });
  const two = tensor('float32', randomFloats(2 * 3 * 48 * 192, 7), [2, 3, 48, 192]);
  const [a, b, c] = await Promise.all([batched.run({ x: two }), batched.run({ x: two }), batched.run({ x: image(8) })]);
  assert.equal(a['softmax_0.tmp_0'].dims, [2, 2]);
  assert.equal(Array.from(a['softmax_0.tmp_0'].data as Float32Array), Array.from(b['softmax_0.tmp_0'].data as Float32Array));
  assert.equal(c['softmax_0.tmp_0'].dims, [1, 2]);
  await rejectsWith(() => batched.run({ x: tensor('float32', randomFloats(7 * 3 * 48 * 192), [7, 3, 48, 192]) }), 'INVALID_SHAPE', /1 to maxBatchSize \(6\)/);
});

Batching('requests whose other dimensions differ never share a batch', async () => {
  const session = await createSession(reluModel(['batch', 'width']));
  const batched = session.batched({ maxBatchSize: 16, maxQueueDelayMicros: 20_000 });
  const narrow = [1, 2, 3].map((i) => tensor('float32', [-i, i, -i], [1, 3]));
  const wide = [1, 2].map((i) => tensor('float32', [i, -i, i, -i, i], [1, 5]));
  const results = await Promise.all([...narrow, ...wide].map((x) => batched.run({ x })));
  assert.equal(results.map((r) => r.y.dims), [[1, 3], [1, 3], [1, 3], [1, 5], [1, 5]]);
  assert.equal(Array.from(results[1].y.data as Float32Array), [0, 2, 0]);
  assert.equal(Array.from(results[4].y.data as Float32Array), [2, 0, 2, 0, 2]);
  assert.equal(batched.stats().batchSizes, { 2: 1, 3: 1 });
});

Batching('padding lets different lengths share a batch, and outputs are cut back to each length', async () => {
  // y = x * 2 over [batch, length]: padded rows must not leak into anyone's result.
  const model = buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 'length'] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 'length'] }],
    nodes: [{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
  });
  const session = await createSession(model);
  const batched = session.batched({
    maxBatchSize: 8,
    maxQueueDelayMicros: 20_000,
    padding: { inputs: { x: { axis: 1, value: -1 } }, outputs: { y: { axis: 1, lengthOf: { input: 'x', axis: 1 } } } },
  });
  const lengths = [3, 1, 5, 2];
  const results = await Promise.all(lengths.map((n) => batched.run({ x: tensor('float32', Array.from({ length: n }, (_, i) => i + 1), [1, n]) })));
  results.forEach((r, i) => {
    assert.equal(r.y.dims, [1, lengths[i]]);
    assert.equal(Array.from(r.y.data as Float32Array), Array.from({ length: lengths[i] }, (_, k) => 2 * (k + 1)));
  });
  assert.equal(batched.stats().batchSizes, { 4: 1 });
});

Batching('a request alone runs as it is, padding configured or not; its failure is its own', async () => {
  const session = await createSession(reluModel(['batch', 'width']));
  const batched = session.batched({
    maxBatchSize: 8,
    maxQueueDelayMicros: 0,
    padding: { inputs: { x: { axis: 1, value: -1 } }, outputs: { y: { axis: 1, lengthOf: { input: 'x', axis: 1 } } } },
  });
  for (const width of [2, 5, 1]) {
    const x = tensor('float32', Array.from({ length: 2 * width }, (_, i) => (i % 2 ? i : -i)), [2, width]);
    const { y } = await batched.run({ x });
    assert.equal(y.dims, [2, width]);
    assert.equal(Array.from(y.data as Float32Array), Array.from(session.runSync({ x }).y.data as Float32Array));
  }
  assert.equal(batched.stats().batchSizes, { 2: 3 });
  // A wrong element type is rejected before it joins a batch.
  await rejectsWith(() => batched.run({ x: tensor('int32', [1, 2], [1, 2]) as never }), 'INVALID_DTYPE');
  const stats = batched.stats();
  assert.is(stats.completed, 3);
  assert.is(stats.retriedBatches, 0);
});

Batching('a full queue rejects with QUEUE_FULL; close() rejects what waits', async () => {
  const session = await createSession(reluModel(['batch']));
  const batched = session.batched({ maxBatchSize: 64, maxQueueDelayMicros: 10_000_000, maxQueueSize: 2 });
  const x = tensor('float32', [1], [1]);
  const waiting = [batched.run({ x }), batched.run({ x })];
  await rejectsWith(() => batched.run({ x }), 'QUEUE_FULL', /maxQueueSize 2/);
  assert.is(batched.stats().rejected.queueFull, 1);
  batched.close();
  for (const w of waiting) await rejectsWith(() => w, 'SESSION_RELEASED');
  await rejectsWith(() => batched.run({ x }), 'SESSION_RELEASED');
});

Batching('a request that waits past its timeout leaves the queue with TIMEOUT', async () => {
  const session = await createSession(reluModel(['batch']));
  const batched = session.batched({ maxBatchSize: 64, maxQueueDelayMicros: 10_000_000, timeoutMs: 30 });
  const started = performance.now();
  await rejectsWith(() => batched.run({ x: tensor('float32', [1], [1]) }), 'TIMEOUT', /30 ms/);
  assert.ok(performance.now() - started < 1000);
  await rejectsWith(() => batched.run({ x: tensor('float32', [1], [1]) }, { timeoutMs: 10 }), 'TIMEOUT', /10 ms/);
  const stats = batched.stats();
  assert.is(stats.rejected.timeout, 2);
  assert.is(stats.queued, 0);
  batched.close();
});

Batching('an aborted request leaves the queue with ABORTED; the others go on', async () => {
  const session = await createSession(reluModel(['batch']));
  const batched = session.batched({ maxBatchSize: 3, maxQueueDelayMicros: 10_000_000 });
  const controller = new AbortController();
  const doomed = batched.run({ x: tensor('float32', [1], [1]) }, { signal: controller.signal });
  const first = batched.run({ x: tensor('float32', [-2], [1]) });
  controller.abort();
  await rejectsWith(() => doomed, 'ABORTED');
  assert.is(batched.stats().queued, 1);
  // Two more fill the batch (maxBatchSize 3), which then runs at once.
  const more = [batched.run({ x: tensor('float32', [3], [1]) }), batched.run({ x: tensor('float32', [-4], [1]) })];
  const values = (await Promise.all([first, ...more])).map((r) => (r.y.data as Float32Array)[0]);
  assert.equal(values, [0, 3, 0]);
  assert.is(batched.stats().rejected.aborted, 1);
  await rejectsWith(() => batched.run({ x: tensor('float32', [1], [1]) }, { signal: AbortSignal.abort() }), 'ABORTED');
});

Batching('higher-priority requests are served first', async () => {
  const session = await createSession(CLS_MODEL);
  // One request per batch, one batch at a time: the order of completion is the order served.
  const batched = session.batched({ maxBatchSize: 1, maxQueueDelayMicros: 0 });
  const order: number[] = [];
  const first = batched.run({ x: image(1) }); // occupies the session while the others queue
  const rest = [5, 1, 3, 0, 2].map((priority) => batched.run({ x: image(priority + 10) }, { priority }).then(() => order.push(priority)));
  await Promise.all([first, ...rest]);
  assert.equal(order, [0, 1, 2, 3, 5]);
});

Batching('preferredBatchSizes close a batch as soon as one is reached', async () => {
  const session = await createSession(reluModel(['batch']));
  const batched = session.batched({ maxBatchSize: 64, maxQueueDelayMicros: 10_000_000, preferredBatchSizes: [4] });
  const started = performance.now();
  await Promise.all([1, 2, 3, 4].map((v) => batched.run({ x: tensor('float32', [v], [1]) })));
  assert.ok(performance.now() - started < 1000, 'the batch did not wait out the 10 s delay');
  assert.equal(batched.stats().batchSizes, { 4: 1 });
  batched.close();
});

Batching('an invalid request is rejected alone; a request ONNX Runtime fails fails alone', async () => {
  // y = Gather(table, indices): an index out of range fails only while running.
  const model = buildModel({
    inputs: [{ name: 'indices', type: T.INT64, dims: ['batch'] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch'] }],
    nodes: [{ op: 'Gather', inputs: ['table', 'indices'], outputs: ['y'] }],
    initializers: [{ name: 'table', dims: [4], floats: [10, 20, 30, 40] }],
  });
  const session = await createSession(model);
  const batched = session.batched({ maxBatchSize: 8, maxQueueDelayMicros: 20_000 });
  const requests = [0, 3, 99, 1].map((i) => batched.run({ indices: tensor('int64', [BigInt(i)], [1]) }));
  const wrongType = batched.run({ indices: tensor('int32', [1], [1]) as never });
  await rejectsWith(() => wrongType, 'INVALID_DTYPE');
  const settled = await Promise.allSettled(requests);
  assert.equal(
    settled.map((s) => (s.status === 'fulfilled' ? (s.value.y.data as Float32Array)[0] : (s.reason as { code: string }).code)),
    [10, 40, 'INVALID_ARGUMENT', 20],
  );
  const stats = batched.stats();
  assert.is(stats.retriedBatches, 1);
  assert.is(stats.failed, 1);
  assert.is(stats.completed, 3);
  assert.is(stats.rejected.invalid, 1);
});

Batching('Silero VAD batches along its state axis 1, with the sample rate shared', async () => {
  const session = await createSession(VAD_MODEL);
  const batched = session.batched({
    maxBatchSize: 8,
    maxQueueDelayMicros: 20_000,
    batchAxes: { input: 0, state: 1, sr: null },
    outputBatchAxes: { output: 0, stateN: 1 },
  });
  const sr = tensor('int64', [16000n], []);
  const feeds = Array.from({ length: 5 }, (_, i) => ({
    input: tensor('float32', Float32Array.from(randomFloats(512, 40 + i), (v) => v - 0.5), [1, 512]),
    state: tensor('float32', Float32Array.from(randomFloats(256, 50 + i), (v) => (v - 0.5) / 10), [2, 1, 128]),
    sr,
  }));
  const results = await Promise.all(feeds.map((f) => batched.run(f)));
  feeds.forEach((f, i) => {
    const alone = session.runSync(f);
    const mine: Record<string, AnyTensor> = results[i];
    assert.equal(mine.stateN.dims, [2, 1, 128]);
    assert.ok(maxAbsDiff(mine.output.data as Float32Array, alone.output.data as Float32Array) < 1e-5, `output ${i}`);
    assert.ok(maxAbsDiff(mine.stateN.data as Float32Array, alone.stateN.data as Float32Array) < 1e-5, `state ${i}`);
  });
  assert.equal(batched.stats().batchSizes, { 5: 1 });
  // A different sample rate (8 kHz takes 256-sample chunks) never joins a 16 kHz batch.
  const eightK = { input: tensor('float32', randomFloats(256, 60), [1, 256]), state: feeds[0].state, sr: tensor('int64', [8000n], []) };
  const mixed = await Promise.all([batched.run(eightK), batched.run(feeds[1])]);
  assert.equal(mixed.map((r) => r.output.dims), [[1, 1], [1, 1]]);
  assert.equal(batched.stats().batchSizes, { 5: 1, 1: 2 });
});

Batching('createSession({ batching }) returns a batching session; bad options are INVALID_OPTION', async () => {
  const batched = await createSession(reluModel(['batch']), { batching: { maxBatchSize: 4 } });
  assert.equal(Array.from(((await batched.run({ x: tensor('float32', [-1, 1], [2]) })).y.data as Float32Array)), [0, 1]);
  const session = await createSession(reluModel(['batch']));
  assert.throws(() => session.batched({ maxBatchSize: 0 }), /positive integer/);
  assert.throws(() => session.batched({ maxBatchSiz: 4 } as never), /unknown batching option "maxBatchSiz"/);
  assert.throws(() => session.batched({ batchAxes: { nope: 0 } }), /no input 'nope'/);
  const fixed = await createSession(reluModel([4]));
  assert.throws(() => fixed.batched(), /no input of the model has a dynamic first dimension/);
});

Batching.run();
