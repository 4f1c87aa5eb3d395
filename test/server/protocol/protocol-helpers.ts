/** Helpers for the protocol tests: they load no native code, so they run anywhere. */
import * as assert from 'uvu/assert';
import { ProtocolError, type ProtocolStatus } from '../../../lib/server/protocol/types';

/** Asserts that `fn` throws a ProtocolError of `status` whose message is `message` exactly (or matches it). */
export function throwsProtocol(fn: () => unknown, message: string | RegExp, status: ProtocolStatus = 'INVALID_ARGUMENT'): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${String(caught)}`);
  const err = caught as ProtocolError;
  if (typeof message === 'string') assert.is(err.message, message);
  else assert.match(err.message, message);
  assert.is(err.status, status, `status of: ${err.message}`);
  return err;
}

/**
 * A body of the binary tensor data extension: the JSON header, padded with trailing
 * spaces (still valid JSON) to `headerLength` bytes when given, so tests can place the
 * binary section at a chosen offset; then the sections.
 */
export function binaryBody(header: unknown, sections: readonly Uint8Array[], headerLength?: number): { body: Buffer; headerLength: number } {
  let json = JSON.stringify(header);
  const bytes = Buffer.byteLength(json);
  if (headerLength !== undefined) {
    assert.ok(headerLength >= bytes, `header of ${bytes} bytes does not fit in ${headerLength}`);
    json += ' '.repeat(headerLength - bytes);
  }
  // Buffer.concat of a large total is a fresh, unpooled allocation starting at offset 0.
  const head = Buffer.from(json);
  const total = head.length + sections.reduce((n, s) => n + s.length, 0);
  const body = Buffer.alloc(Math.max(total, 8192)).subarray(0, total);
  head.copy(body, 0);
  let at = head.length;
  for (const s of sections) {
    body.set(s, at);
    at += s.length;
  }
  return { body, headerLength: head.length };
}

/** Bytes of a TypedArray (little-endian on the machines this runs on). */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** BYTES elements as the extension sends them: a 4-byte little-endian length, then the bytes. */
export function bytesElements(elements: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e)));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}
