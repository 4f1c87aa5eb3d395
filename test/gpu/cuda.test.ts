import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CudaStream, DeviceTensor, createSession, cudaStatus, pinnedTensor, tensor } from '../../lib/index';
import { rejectsWith } from '../helpers/common';
import { reluModel } from '../helpers/onnx-model';

const Cuda = suite('CUDA without a GPU');

// These machines have the CUDA 13 toolkit (libcudart) but no GPU and no driver: every
// GPU path must fail with CUDA_UNAVAILABLE and say why, and the process must go on.
// Tests that cannot run where they are (no-GPU paths on a machine with a GPU, the
// toolkit check with a CPU-only build) are decided here, when they are registered, and
// registered with .skip: uvu counts them as skipped, never as passed.
const status = cudaStatus();
const withoutGpu = status.available ? Cuda.skip : Cuda;

Cuda('cudaStatus() says CUDA is not usable, and why', () => {
  assert.is(status.available, false);
  assert.match(status.reason ?? '', /libcudart|no usable GPU|no CUDA runtime/);
});

withoutGpu('uploading, pinned host memory and streams fail with CUDA_UNAVAILABLE', async () => {
  await rejectsWith(() => DeviceTensor.upload(tensor('float32', [1, 2, 3])), 'CUDA_UNAVAILABLE', /GPU|CUDA/);
  await rejectsWith(() => pinnedTensor('float32', [2, 3]), 'CUDA_UNAVAILABLE');
  await rejectsWith(() => new CudaStream(0), 'CUDA_UNAVAILABLE');
  await rejectsWith(() => DeviceTensor.upload(tensor('string', ['a']) as never), 'INVALID_DTYPE', /string/);
  await rejectsWith(() => pinnedTensor('string' as never, [1]), 'INVALID_DTYPE');
  // Checked as any tensor's dims are, before CUDA is asked for memory: two negative dims must not pass as a positive count.
  await rejectsWith(() => pinnedTensor('float32', [-2, -3]), 'INVALID_SHAPE', /non-negative/);
});

withoutGpu('binding an output to a GPU fails with CUDA_UNAVAILABLE; the session keeps working', async () => {
  const session = await createSession(reluModel([2]));
  const binding = session.createBinding().bindInput('x', tensor('float32', [-1, 1], [2]));
  await rejectsWith(() => binding.bindOutput('y', { device: 'cuda', deviceId: 0 }), 'CUDA_UNAVAILABLE', /not usable here/);
  await rejectsWith(() => binding.bindOutput('y', { device: 'tpu' } as never), 'INVALID_OPTION');
  binding.bindOutput('y');
  await binding.run();
  assert.equal(Array.from(binding.outputs().y.data as Float32Array), [0, 1]);
});

// The addon node-gyp-build loads here: build/ after `npm run build`, as in CI.
const addonPath = (createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string }).resolve(
  join(__dirname, '..', '..'),
);

Cuda('the addon links no CUDA library, so the same file loads on machines without CUDA', () => {
  const dynamic = execFileSync('readelf', ['--dynamic', addonPath], { encoding: 'utf8' });
  const needed = [...dynamic.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]!);
  assert.ok(needed.length > 0, `readelf found no NEEDED entries in ${addonPath}`);
  assert.equal(
    needed.filter((lib) => /cuda|cudart|cublas|cudnn|nvinfer|onnxruntime/.test(lib)),
    [],
    `${addonPath} needs ${needed.join(', ')}`,
  );
});

// CI builds with ONNX_NATIVE_CUDA=ON (and checks that the result says so): the build
// that holds native/cuda_runtime.h's declarations against cudart's own headers.
const toolkitHeader = '/usr/local/cuda/include/cuda_runtime_api.h';

// A CPU-only build (node-gyp, or ONNX_NATIVE_CUDA=OFF) was checked against no toolkit.
(status.checkedAgainst === undefined ? Cuda.skip : Cuda)('a CUDA-enabled build names the toolkit it was checked against: the one installed here', () => {
  const checkedAgainst = status.checkedAgainst!;
  assert.match(checkedAgainst, /^1[23]\.\d+$/);
  assert.ok(existsSync(toolkitHeader), `checked against CUDA ${checkedAgainst}, but ${toolkitHeader} is not here`);
  const version = Number(/#define CUDART_VERSION\s+(\d+)/.exec(readFileSync(toolkitHeader, 'utf8'))![1]);
  assert.is(checkedAgainst, `${Math.floor(version / 1000)}.${(version % 1000) / 10}`);
});

Cuda.run();
