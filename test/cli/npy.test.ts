import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrtError, tensor, type ElementType, type TensorData } from '../../lib/index';
import { formatNpy, parseNpy } from '../../lib/cli/npy';
import { root } from '../helpers/common';

const Npy = suite('.npy files as NumPy writes and reads them');

const FIXTURES_DIR = join(root, 'test', 'fixtures', 'npy');

interface Fixture {
  /** In test/fixtures/npy/, written by NumPy 2.4.6 (make.py there). */
  file: string;
  /** The header's 'descr', as NumPy wrote it. */
  descr: string;
  /** Format version (the byte at offset 6). */
  version: number;
  type: ElementType;
  dims: number[];
  /** The values, as lib/ holds them (16-bit floats as their bit patterns). */
  data: TensorData;
  /** The data bytes after the 128-byte header, in hex, one group per element. */
  hex: string;
}

/**
 * What each fixture holds. Every file is a 128-byte header (magic "\x93NUMPY", the
 * version, the header length, then `{'descr': ..., 'fortran_order': False, 'shape': ...}`
 * padded with spaces) followed by the data, little-endian unless the descr says '>'.
 */
const FIXTURES: readonly Fixture[] = [
  { file: 'float32.npy', descr: '<f4', version: 1, type: 'float32', dims: [4], data: new Float32Array([1.5, -2, Infinity, 2 ** -149]), hex: '0000c03f 000000c0 0000807f 01000000' },
  { file: 'float64.npy', descr: '<f8', version: 1, type: 'float64', dims: [4], data: new Float64Array([Math.PI, -0, 1e300, 5e-324]), hex: '182d4454fb210940 0000000000000080 9c7500883ce4377e 0100000000000000' },
  // 1.0, -2.0, 65504 (the largest half) and 2^-24 (the smallest): as bit patterns.
  { file: 'float16.npy', descr: '<f2', version: 1, type: 'float16', dims: [4], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]), hex: '003c 00c0 ff7b 0100' },
  { file: 'int8.npy', descr: '|i1', version: 1, type: 'int8', dims: [4], data: new Int8Array([-128, -1, 0, 127]), hex: '80 ff 00 7f' },
  { file: 'int16.npy', descr: '<i2', version: 1, type: 'int16', dims: [4], data: new Int16Array([-32768, -1, 0, 32767]), hex: '0080 ffff 0000 ff7f' },
  { file: 'int32.npy', descr: '<i4', version: 1, type: 'int32', dims: [4], data: new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]), hex: '00000080 ffffffff 00000000 ffffff7f' },
  { file: 'int64.npy', descr: '<i8', version: 1, type: 'int64', dims: [4], data: new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]), hex: '0000000000000080 ffffffffffffffff 0000000000000000 ffffffffffffff7f' },
  { file: 'uint8.npy', descr: '|u1', version: 1, type: 'uint8', dims: [4], data: new Uint8Array([0, 1, 128, 255]), hex: '00 01 80 ff' },
  { file: 'uint16.npy', descr: '<u2', version: 1, type: 'uint16', dims: [4], data: new Uint16Array([0, 1, 32768, 65535]), hex: '0000 0100 0080 ffff' },
  { file: 'uint32.npy', descr: '<u4', version: 1, type: 'uint32', dims: [4], data: new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 1]), hex: '00000000 01000000 00000080 ffffffff' },
  { file: 'uint64.npy', descr: '<u8', version: 1, type: 'uint64', dims: [4], data: new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 1n]), hex: '0000000000000000 0100000000000000 0000000000000080 ffffffffffffffff' },
  { file: 'bool.npy', descr: '|b1', version: 1, type: 'bool', dims: [4], data: new Uint8Array([1, 0, 1, 1]), hex: '01 00 01 01' },
  // Five UTF-32 code units per string, zero-padded: 'héllo', '日本語 🎉', '', 'a'.
  {
    file: 'unicode.npy', descr: '<U5', version: 1, type: 'string', dims: [4], data: ['héllo', '日本語 🎉', '', 'a'],
    hex: '68000000e90000006c0000006c0000006f000000 e56500002c6700009e8a00002000000089f30100 0000000000000000000000000000000000000000 6100000000000000000000000000000000000000',
  },
  // Shape (): one element.
  { file: 'scalar.npy', descr: '<f8', version: 1, type: 'float64', dims: [], data: new Float64Array([42.5]), hex: '0000000000404540' },
  // [[1, 2, 3], [4, 5, 6]], row after row.
  { file: 'int32-2x3.npy', descr: '<i4', version: 1, type: 'int32', dims: [2, 3], data: new Int32Array([1, 2, 3, 4, 5, 6]), hex: '01000000 02000000 03000000 04000000 05000000 06000000' },
  // Format 2.0 (header length in 4 bytes, so the dict starts at 12) and 3.0 (a UTF-8 dict).
  { file: 'version2.npy', descr: '<f4', version: 2, type: 'float32', dims: [2], data: new Float32Array([1.5, -2.5]), hex: '0000c03f 000020c0' },
  { file: 'version3.npy', descr: '<f4', version: 3, type: 'float32', dims: [2], data: new Float32Array([1.5, -2.5]), hex: '0000c03f 000020c0' },
];

/** Files lib/cli/npy.ts must refuse, and what it must say. */
const REFUSED: readonly { file: string; holds: string; error: RegExp }[] = [
  // [1, 2] as '>i4': 00000001 00000002.
  { file: 'big-endian.npy', holds: "'descr': '>i4'", error: /dtype >i4 is not supported \(big-endian or unknown\)/ },
  // [[1, 2, 3], [4, 5, 6]] column after column: 1 4 2 5 3 6 as '<i4'.
  { file: 'fortran.npy', holds: "'fortran_order': True", error: /Fortran-ordered arrays are not supported: save with np\.ascontiguousarray/ },
];

const fixture = (file: string): Buffer => readFileSync(join(FIXTURES_DIR, file));
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const valuesOf = (data: TensorData): unknown[] => Array.from(data as ArrayLike<unknown>);

Npy('every fixture holds what this test says NumPy wrote', () => {
  for (const f of [...FIXTURES, ...REFUSED]) {
    const bytes = fixture(f.file);
    const header = bytes.subarray(0, 128).toString('latin1');
    assert.ok(header.startsWith('\x93NUMPY'), f.file);
    assert.is(header.indexOf('\n'), 127, `${f.file}: a 128-byte header`);
    if ('descr' in f) {
      assert.is(bytes[6], f.version, `${f.file}: format version`);
      assert.ok(header.includes(`'descr': '${f.descr}'`), `${f.file}: ${header}`);
      assert.is(hexOf(bytes.subarray(128)), f.hex.replaceAll(' ', ''), `${f.file}: data bytes`);
    } else {
      assert.ok(header.includes(f.holds), `${f.file}: ${header}`);
    }
  }
});

Npy('NumPy\'s files of every element type, a scalar, a 2-D array and format 2.0 and 3.0 are read as written', () => {
  for (const f of FIXTURES) {
    const t = parseNpy(fixture(f.file));
    assert.is(t.type, f.type, `${f.file} (${f.descr}) is read as ${t.type}`);
    assert.equal(t.dims, f.dims, `${f.file}: dims`);
    assert.equal(valuesOf(t.data), valuesOf(f.data), `${f.file}: values`);
    if (f.type !== 'string') assert.is(hexOf(t.data as Uint8Array), f.hex.replaceAll(' ', ''), `${f.file}: bytes`);
  }
});

Npy('big-endian and Fortran-ordered files are refused with a clear error', () => {
  for (const { file, error } of REFUSED) {
    let caught: unknown;
    try {
      parseNpy(fixture(file));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof OrtError, `${file}: expected an OrtError, got ${String(caught)}`);
    assert.is((caught as OrtError).code, 'INVALID_TENSOR', file);
    assert.match((caught as OrtError).message, error, file);
  }
});

// formatNpy's files, read back by NumPy itself: they must be the fixtures' arrays, as
// NumPy reports them (descr, shape, data bytes). Needs python3 with NumPy, which not
// every machine that runs these tests has: where it cannot be imported, this one test
// is registered with .skip, and shows as skipped rather than passed.
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const READ_WITH_NUMPY = `
import json, sys
import numpy as np
out = {}
for name in sys.argv[2:]:
    a = np.load(sys.argv[1] + '/' + name)
    out[name] = {'descr': a.dtype.str, 'dims': list(a.shape), 'fortran': bool(np.isfortran(a)) and a.ndim > 1, 'hex': a.tobytes().hex()}
print(json.dumps(out))
`;

(hasNumpy ? Npy : Npy.skip)('NumPy reads the files formatNpy writes: the same arrays as its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-npy-'));
  // Format 1.0 only: formatNpy writes no other, so the 2.0 and 3.0 fixtures are left out.
  const written = FIXTURES.filter((f) => f.version === 1);
  for (const f of written) writeFileSync(join(dir, f.file), formatNpy(tensor(f.type, f.data as never, f.dims)));
  const result = spawnSync('python3', ['-c', READ_WITH_NUMPY, dir, ...written.map((f) => f.file)], { encoding: 'utf8' });
  assert.is(result.status, 0, result.stderr);
  const read = JSON.parse(result.stdout) as Record<string, { descr: string; dims: number[]; fortran: boolean; hex: string }>;
  for (const f of written) {
    // NumPy spells the descr of one-byte types with '|', as in its own files.
    assert.equal(read[f.file], { descr: f.descr, dims: f.dims, fortran: false, hex: f.hex.replaceAll(' ', '') }, f.file);
  }
});

Npy.run();
