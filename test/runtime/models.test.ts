import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { createSession, tensor } from '../../lib/index';
import { CLS_MODEL, DET_MODEL, REC_MODEL, VAD_MODEL, maxAbsDiff, randomFloats } from '../helpers/common';

const Real = suite('real models match onnxruntime-node');

/**
 * Both packages run the same ONNX Runtime build with the same options, so results should
 * agree to float rounding; a wrong buffer, stride, dtype or output label would differ
 * by far more than this.
 */
const TOLERANCE = 1e-5;

async function compareOnImage(model: string, dims: number[], seed: number): Promise<void> {
  const data = randomFloats(dims.reduce((a, b) => a * b, 1), seed);
  const ours = await createSession(model);
  const peer = await ort.InferenceSession.create(model);
  const inputName = ours.inputNames[0];
  const mine = await ours.run({ [inputName]: tensor('float32', data, dims) });
  const theirs = await peer.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  assert.equal(Object.keys(mine).sort(), Object.keys(theirs).sort());
  for (const name of Object.keys(theirs)) {
    assert.equal(mine[name].dims, theirs[name].dims, `${name} dims`);
    const diff = maxAbsDiff(mine[name].data as Float32Array, theirs[name].data as Float32Array);
    assert.ok(diff <= TOLERANCE, `${name}: max |difference| ${diff}`);
  }
  // runSync gives the same numbers as run.
  const sync = ours.runSync({ [inputName]: tensor('float32', data, dims) });
  for (const name of Object.keys(mine)) {
    assert.equal(Array.from(sync[name].data as Float32Array), Array.from(mine[name].data as Float32Array));
  }
  ours.release();
  await peer.release();
}

Real('PP-OCR det (text detection)', () => compareOnImage(DET_MODEL, [1, 3, 256, 320], 11));
Real('PP-OCR rec (text recognition), batch of 2', () => compareOnImage(REC_MODEL, [2, 3, 48, 320], 12));
Real('PP-OCR cls (text direction), batch of 4', () => compareOnImage(CLS_MODEL, [4, 3, 48, 192], 13));

Real('Silero VAD v5, 8 chunks with its recurrent state carried over', async () => {
  const ours = await createSession(VAD_MODEL);
  const peer = await ort.InferenceSession.create(VAD_MODEL);
  let myState = tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  let peerState: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const sr = tensor('int64', [16000n], []);
  for (let chunk = 0; chunk < 8; chunk++) {
    // A 440 Hz tone in noise, 512 samples (32 ms) per chunk.
    const noise = randomFloats(512, 100 + chunk);
    const audio = Float32Array.from(noise, (n, i) => 0.5 * Math.sin((2 * Math.PI * 440 * (chunk * 512 + i)) / 16000) + 0.1 * (n - 0.5));
    const mine = await ours.run({ input: tensor('float32', audio, [1, 512]), state: myState, sr });
    const theirs = await peer.run({
      input: new ort.Tensor('float32', audio, [1, 512]),
      state: peerState,
      sr: new ort.Tensor('int64', new BigInt64Array([16000n]), []),
    });
    assert.equal(mine.output.dims, theirs.output.dims);
    assert.ok(maxAbsDiff(mine.output.data as Float32Array, theirs.output.data as Float32Array) <= TOLERANCE, `chunk ${chunk} output`);
    assert.ok(maxAbsDiff(mine.stateN.data as Float32Array, theirs.stateN.data as Float32Array) <= TOLERANCE, `chunk ${chunk} state`);
    myState = mine.stateN as typeof myState;
    peerState = theirs.stateN as ort.Tensor;
  }
  ours.release();
  await peer.release();
});

Real.run();
