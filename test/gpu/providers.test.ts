import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildEngine, createSession, type CudaProviderOptions, type TensorRtProviderOptions } from '../../lib/index';
import { providerConfig, providerSpec } from '../../lib/runtime/providers';
import { CLS_MODEL, gpuProviderFailure, rejectsWith, root } from '../helpers/common';
import { reluModel } from '../helpers/onnx-model';

const Options = suite('execution provider options');

Options('CUDA options map to ONNX Runtime keys and values', () => {
  const spec: CudaProviderOptions = {
    name: 'cuda',
    deviceId: 1,
    memoryLimit: 2 * 1024 ** 3,
    arenaExtendStrategy: 'sameAsRequested',
    cudnnConvAlgoSearch: 'heuristic',
    cudnnConvUseMaxWorkspace: false,
    tf32: true,
    preferNhwc: true,
    cudaGraph: false,
    stream: 0x7f00dead0000n,
    extra: { enable_skip_layer_norm_strict_mode: '1' },
  };
  const config = providerConfig(spec);
  assert.is(config.ortName, 'CUDAExecutionProvider');
  assert.is(config.optional, false);
  assert.equal(Object.fromEntries(config.options), {
    device_id: '1',
    gpu_mem_limit: '2147483648',
    arena_extend_strategy: 'kSameAsRequested',
    cudnn_conv_algo_search: 'HEURISTIC',
    cudnn_conv_use_max_workspace: '0',
    use_tf32: '1',
    prefer_nhwc: '1',
    enable_cuda_graph: '0',
    has_user_compute_stream: '1',
    user_compute_stream: String(0x7f00dead0000n),
    enable_skip_layer_norm_strict_mode: '1',
  });
});

Options('TensorRT options map to ONNX Runtime keys and values, shape profiles included', () => {
  const spec: TensorRtProviderOptions = {
    name: 'tensorrt',
    optional: true,
    fp16: true,
    int8: false,
    workspaceSize: 4 * 1024 ** 3,
    engineCachePath: '/var/cache/trt',
    timingCachePath: '/var/cache/trt-timing',
    profiles: {
      min: { x: [1, 3, 48, 96], mask: [1, 48] },
      opt: { x: [8, 3, 48, 192], mask: [8, 48] },
      max: { x: [32, 3, 48, 320], mask: [32, 48] },
    },
    builderOptimizationLevel: 5,
    epContext: { path: 'model_ctx.onnx', embedEngine: true },
    minSubgraphSize: 2,
    stream: { handle: 12345n },
  };
  const config = providerConfig(spec);
  assert.is(config.ortName, 'TensorrtExecutionProvider');
  assert.is(config.optional, true);
  assert.equal(Object.fromEntries(config.options), {
    trt_fp16_enable: '1',
    trt_int8_enable: '0',
    trt_max_workspace_size: '4294967296',
    trt_engine_cache_enable: '1',
    trt_engine_cache_path: '/var/cache/trt',
    trt_timing_cache_enable: '1',
    trt_timing_cache_path: '/var/cache/trt-timing',
    trt_profile_min_shapes: 'x:1x3x48x96,mask:1x48',
    trt_profile_opt_shapes: 'x:8x3x48x192,mask:8x48',
    trt_profile_max_shapes: 'x:32x3x48x320,mask:32x48',
    trt_builder_optimization_level: '5',
    trt_dump_ep_context_model: '1',
    trt_ep_context_file_path: 'model_ctx.onnx',
    trt_ep_context_embed_mode: '1',
    trt_min_subgraph_size: '2',
    has_user_compute_stream: '1',
    user_compute_stream: '12345',
  });
});

Options('a misspelled option is rejected with the list of valid ones; bad values name the option', () => {
  assert.throws(() => providerSpec({ name: 'cuda', deviceID: 0 }), /unknown cuda provider option "deviceID"; valid ones are: optional, extra, deviceId/);
  assert.throws(() => providerSpec({ name: 'tensorrt', fp16Enable: true }), /unknown tensorrt provider option "fp16Enable".*fp16/);
  assert.throws(() => providerSpec('gpu'), /unknown execution provider "gpu"; valid ones are: cpu, cuda, tensorrt/);
  assert.throws(() => providerConfig({ name: 'cuda', deviceId: -1 }), /deviceId must be an integer from 0/);
  assert.throws(() => providerConfig({ name: 'cuda', arenaExtendStrategy: 'double' as never }), /'nextPowerOfTwo', 'sameAsRequested'/);
  assert.throws(() => providerConfig({ name: 'tensorrt', builderOptimizationLevel: 7 }), /from 0 to 5/);
  assert.throws(() => providerConfig({ name: 'cuda', stream: -4 }), /a CUDA stream/);
  assert.throws(
    () => providerConfig({ name: 'tensorrt', profiles: { min: { x: [1, 3] }, opt: { x: [4, 3] }, max: { x: [2, 3] } } }),
    /min <= opt <= max/,
  );
  assert.throws(() => providerConfig({ name: 'tensorrt', profiles: { min: { x: [1] }, opt: { y: [1] }, max: { x: [1] } } }), /same inputs/);
});

const Registration = suite('execution providers with no GPU');

Registration('a GPU provider fails, PROVIDER_UNAVAILABLE where the runtime lacks it (the bundled build), or is skipped when optional', async () => {
  const { code, reason } = gpuProviderFailure('cuda');
  const message = code === 'PROVIDER_UNAVAILABLE' ? /'cuda' .*which has: .*CPUExecutionProvider.*optional: true/s : reason;
  await rejectsWith(() => createSession(reluModel(), { executionProviders: ['cuda', 'cpu'] }), code, message);
  const session = await createSession(reluModel(), { executionProviders: [{ name: 'tensorrt', optional: true }, { name: 'cuda', optional: true }, 'cpu'] });
  assert.equal(session.providers, ['cpu']);
  assert.equal(session.skippedProviders.map((s) => s.provider), ['tensorrt', 'cuda']);
  assert.match(session.skippedProviders[0].reason, gpuProviderFailure('tensorrt').reason);
  assert.equal((await createSession(reluModel())).providers, ['cpu']);
});

Registration('with a GPU-capable build but no GPU libraries, registration fails with EP_FAIL, or falls back when optional', () => {
  // onnxruntime-node's official library lists CUDA and TensorRT, but ships without
  // their provider libraries: what a user of a GPU build on a machine without CUDA sees.
  const library = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
  const script = `
    const { createSession } = require(${JSON.stringify(join(root, 'lib', 'index.ts'))});
    const { reluModel } = require(${JSON.stringify(join(root, 'test', 'helpers', 'onnx-model.ts'))});
    (async () => {
      const out = {};
      await createSession(reluModel(), { executionProviders: [{ name: 'cuda', deviceId: 0, tf32: true }] }).catch((e) => (out.required = { code: e.code, message: e.message }));
      const s = await createSession(reluModel(), { executionProviders: [{ name: 'tensorrt', optional: true, fp16: true }, { name: 'cuda', optional: true }] });
      out.fallback = { providers: s.providers, skipped: s.skippedProviders.map((p) => p.provider) };
      console.log(JSON.stringify(out));
    })();
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, ORT_DYLIB_PATH: library }, encoding: 'utf8' });
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as { required: { code: string; message: string }; fallback: { providers: string[]; skipped: string[] } };
  assert.is(result.required.code, 'EP_FAIL');
  assert.match(result.required.message, /CUDAExecutionProvider would not start/);
  assert.match(result.required.message, /libonnxruntime_providers_shared/);
  assert.match(result.required.message, /optional: true/);
  assert.equal(result.fallback, { providers: ['cpu'], skipped: ['tensorrt', 'cuda'] });
});

const Engines = suite('TensorRT engine building with no GPU');

Engines('buildEngine() checks its options, and says why it cannot build here', async () => {
  await rejectsWith(() => buildEngine(CLS_MODEL, {} as never), 'INVALID_OPTION', /cachePath/);
  const cachePath = mkdtempSync(join(tmpdir(), 'onnx-native-trt-'));
  await rejectsWith(
    () => buildEngine(CLS_MODEL, { cachePath, fp16: true, profiles: { min: { x: [1, 3, 48, 192] }, opt: { x: [8, 3, 48, 192] }, max: { x: [4, 3, 48, 192] } } }),
    'INVALID_OPTION',
    /min <= opt <= max/,
  );
  const { code, reason } = gpuProviderFailure('tensorrt');
  await rejectsWith(() => buildEngine(CLS_MODEL, { cachePath, fp16: true }), code, reason);
});

Engines('the build-engine command reports the same, and parses its profiles', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), ...args], { encoding: 'utf8' });
  const cachePath = mkdtempSync(join(tmpdir(), 'onnx-native-trt-'));
  const built = cli('build-engine', CLS_MODEL, '--cache', cachePath, '--fp16', '--profile', 'x=1x3x48x192:8x3x48x192:32x3x48x192');
  assert.is(built.status, 1);
  assert.match(built.stderr, new RegExp(`\\[${gpuProviderFailure('tensorrt').code}\\]`));
  const bad = cli('build-engine', CLS_MODEL, '--cache', cachePath, '--profile', 'x=1x3:8x3');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /--profile takes NAME=MIN:OPT:MAX/);
});

Options.run();
Registration.run();
Engines.run();
