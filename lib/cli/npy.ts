/**
 * @internal NumPy .npy files (format versions 1-3), for the CLI's inputs and outputs:
 * little-endian numeric types, bool, and Unicode strings ('<U').
 */
import type { ElementType } from '../core/dtypes';
import { dtypeByName } from '../core/dtypes';
import { OrtError } from '../core/errors';
import { type AnyTensor, type PlainTensor, elementCount } from '../core/tensor';

const MAGIC = '\x93NUMPY';

/** NumPy's descr for each element type that NumPy has. */
const DESCR: Partial<Record<ElementType, string>> = {
  float32: '<f4', float64: '<f8', float16: '<f2', int8: '|i1', int16: '<i2', int32: '<i4', int64: '<i8',
  uint8: '|u1', uint16: '<u2', uint32: '<u4', uint64: '<u8', bool: '|b1',
};
const BY_DESCR = new Map<string, ElementType>(
  Object.entries(DESCR).flatMap(([type, d]) => [[d, type as ElementType], [d.replace('|', '<'), type as ElementType]]),
);

function fail(message: string): never {
  throw new OrtError(`.npy: ${message}`, 'INVALID_TENSOR');
}

/** Parses an .npy file into a tensor. */
export function parseNpy(bytes: Uint8Array): AnyTensor {
  const text = (start: number, end: number): string => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
  if (bytes.length < 10 || text(0, 6) !== MAGIC) fail('not a NumPy file (bad magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = text(headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shape === undefined) fail(`unreadable header ${JSON.stringify(header)}`);
  if (fortran === 'True') fail('Fortran-ordered arrays are not supported: save with np.ascontiguousarray');
  const dims = shape.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = elementCount(dims);
  const dataStart = headerStart + headerLength;

  const unicode = /^[<|]U(\d+)$/.exec(descr);
  if (unicode) {
    const width = Number(unicode[1]);
    const strings: string[] = [];
    for (let i = 0; i < count; i++) {
      let s = '';
      for (let c = 0; c < width; c++) {
        const code = view.getUint32(dataStart + (i * width + c) * 4, true);
        if (code === 0) break;
        s += String.fromCodePoint(code);
      }
      strings.push(s);
    }
    return { type: 'string', dims, data: strings };
  }
  const type = BY_DESCR.get(descr);
  if (!type) fail(`dtype ${descr} is not supported (big-endian or unknown)`);
  const dtype = dtypeByName.get(type)!;
  const byteLength = count * dtype.bytes;
  if (dataStart + byteLength > bytes.length) fail(`truncated: the header promises ${byteLength} bytes of data`);
  // Copied into an aligned buffer of its own: the file's data may start at any offset
  // (and a Buffer's slice() is a view into a shared pool, not a copy).
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(dataStart, dataStart + byteLength));
  return { type, dims, data: new dtype.array!(copy.buffer) } as AnyTensor;
}

/** Serializes a tensor as an .npy file (format 1.0). */
export function formatNpy(t: PlainTensor): Uint8Array {
  let descr: string;
  let body: Uint8Array;
  if (t.type === 'string') {
    const strings = t.data as string[];
    const width = Math.max(1, ...strings.map((s) => [...s].length));
    descr = `<U${width}`;
    const view = new DataView(new ArrayBuffer(strings.length * width * 4));
    strings.forEach((s, i) => [...s].forEach((ch, c) => view.setUint32((i * width + c) * 4, ch.codePointAt(0)!, true)));
    body = new Uint8Array(view.buffer);
  } else {
    const d = DESCR[t.type];
    if (!d) fail(`${t.type} has no NumPy dtype`);
    descr = d;
    const data = t.data as Float32Array;
    body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(body, 10 + header.length);
  return out;
}
