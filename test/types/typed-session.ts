// Compiled (never run) by test/package.test.ts: the public types catch mistakes.
import { createSession, tensor, type AnyTensor, type Signature, type PlainTensor } from '../../lib/index';

interface Vad extends Signature {
  inputs: { input: 'float32'; state: 'float32'; sr: 'int64' };
  outputs: { output: 'float32'; stateN: 'float32' };
}

export async function typed(): Promise<void> {
  const session = await createSession<Vad>('vad.onnx');
  const input = tensor('float32', new Float32Array(512), [1, 512]);
  const state = tensor('float32', new Float32Array(256), [2, 1, 128]);
  const sr = tensor('int64', [16000n], []);

  const all = await session.run({ input, state, sr });
  const probability: Float32Array = all.output.data;
  const next: PlainTensor<'float32'> = all.stateN;
  void probability;
  void next;

  const some = session.runSync({ input, state, sr }, { outputNames: ['output'] });
  const only: PlainTensor<'float32'> = some.output;
  void only;
  // @ts-expect-error stateN was not requested
  void some.stateN;

  // @ts-expect-error sr must be an int64 tensor
  await session.run({ input, state, sr: tensor('float32', [16000], []) });
  // @ts-expect-error a missing input
  await session.run({ input, state });
  // @ts-expect-error no such output
  await session.run({ input, state, sr }, { outputNames: ['probability'] });
  // @ts-expect-error int64 data is a BigInt64Array, not a Float32Array
  const wrong: Float32Array = (await createSession<{ inputs: { x: 'int64' }; outputs: { y: 'int64' } }>('m.onnx')).runSync({ x: tensor('int64', [1]) }).y.data;
  void wrong;
}

export async function untyped(): Promise<void> {
  const session = await createSession('model.onnx');
  const results = await session.run({ anything: tensor('float32', [1]) });
  const t: AnyTensor = results.whatever;
  if (t.type === 'int64') {
    const big: BigInt64Array = t.data;
    void big;
  }
  // @ts-expect-error unknown session option
  await createSession('m.onnx', { intraOpThreads: 2 });
  // @ts-expect-error unknown execution provider
  await createSession('m.onnx', { executionProviders: ['tpu'] });
}
