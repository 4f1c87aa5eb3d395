/**
 * The client side of the gRPC tests: messages encoded and decoded the way a client
 * would, with protobufjs reading proto/grpc_service.proto itself (the copy hoisted at
 * the top of node_modules, not the one inside @grpc/proto-loader), and the server side
 * exactly as @grpc/grpc-js calls it: the service definition's `requestDeserialize` and
 * `responseSerialize`.
 */
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { PROTO_DIR, inferenceProtocol } from '../../../lib/server/grpc/proto';
import type { ModelInferRequestMessage } from '../../../lib/server/grpc/infer-messages';

/** The protocol as a client's protobufjs reads it; field names as written in the file. */
export const clientRoot = new protobuf.Root().loadSync(join(PROTO_DIR, 'grpc_service.proto'), { keepCase: true });

/** A message type of the `inference` package, by name. */
export function clientType(name: string): protobuf.Type {
  return clientRoot.lookupType(`inference.${name}`);
}

/**
 * Encodes `object` as message `type`, as a client sends it. A key that names no field
 * throws (protobufjs would drop it silently, and a test would check less than it says).
 * The plain object goes to `encode` as is: protobufjs 6's `fromObject` drops empty
 * Buffers from repeated bytes fields, and `encode` takes 64-bit values as strings.
 */
export function clientEncode(type: string, object: Record<string, unknown>): Buffer {
  const T = clientType(type);
  checkFields(T, object, type);
  return Buffer.from(T.encode(object).finish());
}

function checkFields(T: protobuf.Type, object: Record<string, unknown>, path: string): void {
  for (const key of Object.keys(object)) {
    const field = T.fields[key];
    if (!field) throw new Error(`${path}: ${T.name} has no field ${key}`);
    const type = field.resolve().resolvedType;
    const value = object[key];
    if (!(type instanceof protobuf.Type) || value === null || value === undefined) continue;
    const items = field.map ? Object.values(value) : field.repeated ? (value as unknown[]) : [value];
    for (const item of items) checkFields(type, item as Record<string, unknown>, `${path}.${key}`);
  }
}

/** Decodes bytes the server sent, as a client reads them (64-bit integers as strings). */
export function clientDecode(type: string, bytes: Uint8Array): Record<string, unknown> {
  const T = clientType(type);
  return T.toObject(T.decode(bytes), { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true });
}

/**
 * Copies `encoded` into a fresh ArrayBuffer so that the first occurrence of `marker`
 * starts at a byte offset whose remainder modulo 8 is `residue`: the alignment a raw
 * entry gets inside the received message, as the tests want it.
 */
export function placeAt(encoded: Buffer, marker: Uint8Array, residue: number): Buffer {
  const at = encoded.indexOf(marker);
  if (at < 0) throw new Error('marker not found in the encoded message');
  const pad = (((residue - at) % 8) + 8) % 8;
  const placed = Buffer.from(new ArrayBuffer(pad + encoded.length), pad, encoded.length);
  placed.set(encoded);
  return placed;
}

/** What grpc-js hands the ModelInfer handler for these bytes. */
export function serverDecode(bytes: Buffer): ModelInferRequestMessage {
  return inferenceProtocol().service.ModelInfer.requestDeserialize(bytes) as ModelInferRequestMessage;
}

/** The bytes grpc-js sends for a ModelInfer (or ModelStreamInfer) response message. */
export function serverEncode(rpc: 'ModelInfer' | 'ModelStreamInfer', message: object): Buffer {
  return inferenceProtocol().service[rpc].responseSerialize(message);
}

/** The bytes of a TypedArray. */
export function bytesOf(data: ArrayBufferView): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** BYTES raw data, written out by hand: each element's 4-byte little-endian length, then its bytes. */
export function lengthPrefixed(elements: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of elements) {
    const bytes = typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}
