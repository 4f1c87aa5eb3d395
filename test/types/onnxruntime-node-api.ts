// Compiled (never run) by test/package.test.ts: onnxruntime-node's API from this package is
// typed with onnxruntime-common's own declarations, so code written against onnxruntime-node
// type-checks unchanged against it.
import * as common from 'onnxruntime-common';
import * as ort from '../../lib/index';

export async function asOnnxruntimeNode(): Promise<void> {
  // The factory and the session are onnxruntime-common's, both ways.
  const factory: common.InferenceSessionFactory = ort.InferenceSession;
  const session: common.InferenceSession = await factory.create('model.onnx', { executionProviders: ['cpu'] });
  const ours: ort.InferenceSession = session;
  void ours;
  const fromBuffer = await ort.InferenceSession.create(new ArrayBuffer(8), 0, 8, { graphOptimizationLevel: 'all' });

  // Namespace types by their onnxruntime-common names.
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, freeDimensionOverrides: { batch: 1 } };
  const same: common.InferenceSession.SessionOptions = options;
  void same;
  const runOptions: ort.InferenceSession.RunOptions = { tag: 'x', logSeverityLevel: 3 };
  const meta: readonly ort.InferenceSession.ValueMetadata[] = fromBuffer.inputMetadata;
  void meta;

  // Tensor is onnxruntime-common's class and type.
  const x: ort.Tensor = new ort.Tensor('float32', new Float32Array(4), [2, 2]);
  const y: common.Tensor = x;
  const typed: ort.TypedTensor<'int64'> = new ort.Tensor('int64', new BigInt64Array(2), [2]);
  const big: BigInt64Array = typed.data;
  void y;
  void big;
  const type: ort.Tensor.Type = x.type;
  void type;

  const results = await session.run({ x }, ['y'], runOptions);
  const out: ort.Tensor = results.y;
  const size: number = out.size;
  void size;
  const level: ort.Env['logLevel'] = ort.env.logLevel;
  void level;
  const backends: readonly { name: string; bundled: boolean }[] = ort.listSupportedBackends();
  void backends;

  // @ts-expect-error onnxruntime-common's options are checked: no such option
  await ort.InferenceSession.create('m.onnx', { intraOpThreads: 2 });
  // @ts-expect-error logSeverityLevel is 0 to 4
  await ort.InferenceSession.create('m.onnx', { logSeverityLevel: 'warning' });
  // @ts-expect-error a Tensor's type is one of onnxruntime-common's
  new ort.Tensor('complex64', new Float32Array(2));
}
