/**
 * The operators a model uses, read from the ONNX protobuf itself: ONNX Runtime's C API
 * does not expose the graph. A reader of the wire format, not a decoder: it walks only
 * the messages that hold nodes (the graph, its subgraphs in If/Loop/Scan attributes, and
 * model-local functions) and steps over every other field by its length, so a model's
 * weights are never read: from a file, they are not even loaded from disk.
 *
 * Field numbers are onnx.proto's:
 * - ModelProto: graph = 7, functions = 25
 * - GraphProto: node = 1 (initializer = 5, sparse_initializer = 15: skipped)
 * - FunctionProto: node = 7, attribute_proto = 11
 * - NodeProto: op_type = 4, attribute = 5, domain = 7
 * - AttributeProto: g = 6, graphs = 11 (t = 5, tensors = 10: skipped)
 */
import { type FileHandle, open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** What a message's fields are read as. */
const enum Kind {
  Model,
  Graph,
  Function,
  Node,
  Attribute,
}

/** The sub-message each kind descends into, by field number; every other field is skipped. */
function childKind(kind: Kind, field: number): Kind | undefined {
  switch (kind) {
    case Kind.Model:
      return field === 7 ? Kind.Graph : field === 25 ? Kind.Function : undefined;
    case Kind.Graph:
      return field === 1 ? Kind.Node : undefined;
    case Kind.Function:
      return field === 7 ? Kind.Node : field === 11 ? Kind.Attribute : undefined;
    case Kind.Node:
      return field === 5 ? Kind.Attribute : undefined;
    case Kind.Attribute:
      return field === 6 || field === 11 ? Kind.Graph : undefined;
  }
}

const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;

/** Nesting deeper than protobuf's own default limit (100) is not a model ONNX Runtime loads. */
const MAX_DEPTH = 100;
/** An op_type or domain longer than this is not one: it is skipped. */
const MAX_NAME = 1024;
/** Bytes read from a file at a time. */
const CHUNK = 16 * 1024;
/** The longest the scan runs on the JavaScript thread before it yields to the event loop. */
const SLICE_MS = 2;

/** @internal Counts what a scan read, for tests. */
export interface ScanStats {
  reads: number;
  bytesRead: number;
}

/** A window over the model's bytes: all of them for a buffer, a chunk at a time for a file. */
interface Source {
  /** The model's bytes from `start` on. */
  buf: Uint8Array;
  start: number;
  /** The model's size in bytes (for a file, lowered if it turns out shorter). */
  size: number;
  /** Makes the window hold at least `n` bytes from `pos` (fewer at the end of the model). */
  load?(pos: number, n: number): Promise<void>;
}

function fileSource(handle: FileHandle, size: number, stats?: ScanStats): Source {
  const source: Source = {
    buf: new Uint8Array(0),
    start: 0,
    size,
    async load(pos, n) {
      const length = Math.min(Math.max(n, CHUNK), source.size - pos);
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (stats) {
        stats.reads++;
        stats.bytesRead += got;
      }
      // A file that ends early (or shrank since it was measured) ends here.
      if (got < length) source.size = pos + got;
      source.buf = got < length ? buf.subarray(0, got) : buf;
      source.start = pos;
    },
  };
  return source;
}

/** A frame of the walk: a message being read, up to `end`. */
interface Frame {
  kind: Kind;
  end: number;
  opType: string;
  domain: string;
}

const utf8 = new TextDecoder();

/**
 * Walks the model and adds every node's operator to `ops`. Stops, keeping what it found,
 * at the first thing that is not well-formed protobuf: such a model is ONNX Runtime's to
 * reject.
 */
async function walk(source: Source, ops: Set<string>): Promise<void> {
  const stack: Frame[] = [{ kind: Kind.Model, end: source.size, opType: '', domain: '' }];
  let pos = 0;
  let slice = performance.now();
  let steps = 0;
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (pos >= frame.end) {
      if (pos > frame.end) return; // a field ran past its message
      stack.pop();
      if (frame.kind === Kind.Node && frame.opType !== '') {
        ops.add(frame.domain === '' || frame.domain === 'ai.onnx' ? frame.opType : `${frame.domain}:${frame.opType}`);
      }
      continue;
    }
    if (++steps % 1024 === 0 && performance.now() - slice > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    // A tag and a length: 20 bytes at most.
    if (source.load && pos + 20 > source.start + source.buf.length && source.start + source.buf.length < source.size) {
      await source.load(pos, 20);
      slice = performance.now();
    }
    const buf = source.buf;
    const base = source.start;
    const available = Math.min(base + buf.length, frame.end);
    // Inline varint reads: a tag, then what its wire type says.
    let at = pos - base;
    const limit = available - base;
    let tag = 0;
    let shift = 1;
    for (;;) {
      if (at >= limit || shift > 2 ** 28) return;
      const b = buf[at++];
      tag += (b & 0x7f) * shift;
      if (b < 0x80) break;
      shift *= 128;
    }
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) return;
    if (wire === 0) {
      for (;;) {
        if (at >= limit || at - (pos - base) > 15) return;
        if (buf[at++] < 0x80) break;
      }
      pos = base + at;
      continue;
    }
    if (wire === 1 || wire === 5) {
      pos = base + at + (wire === 1 ? 8 : 4);
      continue;
    }
    if (wire !== 2) return; // groups (3, 4) are not in ONNX, 6 and 7 are not wire types
    let length = 0;
    shift = 1;
    for (;;) {
      if (at >= limit || shift > 2 ** 49) return;
      const b = buf[at++];
      length += (b & 0x7f) * shift;
      if (b < 0x80) break;
      shift *= 128;
    }
    const start = base + at;
    const end = start + length;
    if (end > frame.end) return;
    pos = end;
    const child = childKind(frame.kind, field);
    if (child !== undefined) {
      if (stack.length < MAX_DEPTH) {
        stack.push({ kind: child, end, opType: '', domain: '' });
        pos = start;
      }
    } else if (frame.kind === Kind.Node && (field === NODE_OP_TYPE || field === NODE_DOMAIN) && length <= MAX_NAME) {
      if (source.load && end > source.start + source.buf.length) {
        await source.load(start, length);
        slice = performance.now();
        if (end > source.start + source.buf.length) return;
      }
      const name = utf8.decode(source.buf.subarray(start - source.start, end - source.start));
      if (field === NODE_OP_TYPE) frame.opType = name;
      else frame.domain = name;
    }
  }
}

/**
 * The operator types a model uses, including those of its subgraphs and model-local
 * functions: `'LSTM'` for an operator of the ONNX domain, `'com.microsoft:FusedConv'`
 * for one of another domain (functions appear under their own domain and name, and so
 * do their bodies' operators). Never rejects: a model that cannot be read gives what
 * was found before the problem, or nothing.
 *
 * A file is read in chunks at the offsets the walk needs (weights are stepped over, not
 * read); a buffer is walked in place. Either way the scan gives the event loop a turn
 * every few milliseconds.
 *
 * @param model - An .onnx file's path, or its bytes.
 */
export async function modelOperators(model: string | Uint8Array, stats?: ScanStats): Promise<Set<string>> {
  const ops = new Set<string>();
  if (typeof model !== 'string') {
    try {
      await walk({ buf: model, start: 0, size: model.byteLength }, ops);
    } catch {
      // keep what was found
    }
    return ops;
  }
  let handle;
  try {
    handle = await open(model, 'r');
    const { size } = await handle.stat();
    await walk(fileSource(handle, size, stats), ops);
  } catch {
    // keep what was found
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return ops;
}

/**
 * Operators in which ONNX Runtime (1.28 and 1.30, CPU) kills the whole process, with
 * SIGABRT or SIGSEGV, instead of failing the run, on some input with a zero dimension:
 * LSTM and DynamicQuantizeLSTM on an empty batch (their kernel takes the longest of the
 * batch's sequence lengths, of which there are none); GRU on an empty batch, an empty
 * input size, or an empty sequence without sequence_lens. RNN runs all of these, so it
 * is not here. test/recurrent.test.ts holds each case.
 */
export const ABORTS_ON_EMPTY = ['LSTM', 'GRU', 'com.microsoft:DynamicQuantizeLSTM'];

/**
 * @internal Which of {@link ABORTS_ON_EMPTY} the model uses, by operator name (`'LSTM'`,
 * `'DynamicQuantizeLSTM'`), as a phrase for an error message: `'LSTM and GRU'`; undefined
 * when none.
 */
export async function abortsOnEmpty(model: string | Uint8Array): Promise<string | undefined> {
  const ops = await modelOperators(model);
  const found = ABORTS_ON_EMPTY.filter((op) => ops.has(op)).map((op) => op.slice(op.indexOf(':') + 1));
  return found.length === 0 ? undefined : found.join(' and ');
}
