/**
 * Candidates for the rollout tests, all with the baseline's signature (x: [batch, 2] float
 * to y): one that fails on the tests' requests and passes its warm-up, one that is slow.
 */
import { T, buildModel } from '../helpers/onnx-model';

/**
 * y = x + 2 read through a Gather at round(x * 10): a warm-up's zeros read index 0 and
 * pass, a request of [0.25, 0.5] reads index 2 and 5 of 2 and fails in ONNX Runtime.
 */
export function failsOnRequests(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }],
    initializers: [
      { name: 'ten', dims: [], floats: [10] },
      { name: 'table', dims: [2], floats: [0, 0] },
      { name: 'two', dims: [], floats: [2] },
    ],
    nodes: [
      { op: 'Mul', inputs: ['x', 'ten'], outputs: ['scaled'] },
      { op: 'Cast', inputs: ['scaled'], outputs: ['at'], attributes: { to: T.INT64 } },
      { op: 'Gather', inputs: ['table', 'at'], outputs: ['zeros'], attributes: { axis: 0 } },
      { op: 'Add', inputs: ['x', 'two'], outputs: ['shifted'] },
      { op: 'Add', inputs: ['shifted', 'zeros'], outputs: ['y'] },
    ],
  });
}

/**
 * y = x + 2 after `layers` products of 512 x 512 matrices that depend on x (so that the
 * graph optimizer cannot fold them): about 0.27 GFLOP a layer.
 */
export function slowModel(layers: number): Uint8Array {
  const n = 512;
  const weights = new Float32Array(n * n).fill(1 / n);
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }],
    initializers: [
      { name: 'w', dims: [n, n], type: T.FLOAT, raw: new Uint8Array(weights.buffer) },
      { name: 'zero', dims: [], floats: [0] },
      { name: 'two', dims: [], floats: [2] },
    ],
    nodes: [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attributes: { keepdims: 0 } },
      { op: 'Mul', inputs: ['w', 's'], outputs: ['h0'] },
      ...Array.from({ length: layers }, (_, i) => ({ op: 'MatMul', inputs: [`h${i}`, 'w'], outputs: [`h${i + 1}`] })),
      { op: 'ReduceSum', inputs: [`h${layers}`], outputs: ['total'], attributes: { keepdims: 0 } },
      { op: 'Mul', inputs: ['total', 'zero'], outputs: ['nothing'] },
      { op: 'Add', inputs: ['x', 'two'], outputs: ['shifted'] },
      { op: 'Add', inputs: ['shifted', 'nothing'], outputs: ['y'] },
    ],
  });
}
