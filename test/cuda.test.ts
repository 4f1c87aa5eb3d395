import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CudaStream, DeviceTensor, createSession, cudaStatus, pinnedTensor, tensor } from '../lib/index';
import { rejectsWith } from './helpers/common';
import { reluModel } from './helpers/onnx-model';

const Cuda = suite('CUDA without a GPU');

// These machines have the CUDA 13 toolkit (libcudart) but no GPU and no driver: every
// GPU path must fail with CUDA_UNAVAILABLE and say why, and the process must go on.
const status = cudaStatus();

Cuda('cudaStatus() says CUDA is not usable, and why', () => {
  assert.is(status.available, false);
  assert.match(status.reason ?? '', /libcudart|no usable GPU|no CUDA runtime/);
});

Cuda('uploading, pinned host memory and streams fail with CUDA_UNAVAILABLE', async () => {
  if (status.available) return;
  await rejectsWith(() => DeviceTensor.upload(tensor('float32', [1, 2, 3])), 'CUDA_UNAVAILABLE', /GPU|CUDA/);
  await rejectsWith(() => pinnedTensor('float32', [2, 3]), 'CUDA_UNAVAILABLE');
  await rejectsWith(() => new CudaStream(0), 'CUDA_UNAVAILABLE');
  await rejectsWith(() => DeviceTensor.upload(tensor('string', ['a']) as never), 'INVALID_DTYPE', /string/);
  await rejectsWith(() => pinnedTensor('string' as never, [1]), 'INVALID_DTYPE');
  // Checked as any tensor's dims are, before CUDA is asked for memory: two negative dims must not pass as a positive count.
  await rejectsWith(() => pinnedTensor('float32', [-2, -3]), 'INVALID_SHAPE', /non-negative/);
});

Cuda('binding an output to a GPU fails with CUDA_UNAVAILABLE; the session keeps working', async () => {
  if (status.available) return;
  const session = await createSession(reluModel([2]));
  const binding = session.createBinding().bindInput('x', tensor('float32', [-1, 1], [2]));
  await rejectsWith(() => binding.bindOutput('y', { device: 'cuda', deviceId: 0 }), 'CUDA_UNAVAILABLE', /not usable here/);
  await rejectsWith(() => binding.bindOutput('y', { device: 'tpu' } as never), 'INVALID_OPTION');
  binding.bindOutput('y');
  await binding.run();
  assert.equal(Array.from(binding.outputs().y.data as Float32Array), [0, 1]);
});

Cuda.run();
