/**
 * `checkModel`: what a person who has just converted a model wants to know before serving
 * it. Whether the loaded ONNX Runtime reads its IR version and opsets, which operators it
 * uses and which of them this runtime cannot run, its inputs and outputs (with their
 * dynamic dimensions, and whether dynamic batching can use it), and whether the files its
 * external data names are there and long enough.
 *
 * The model is read twice: once here, as protobuf (onnx-graph.ts), for everything that can
 * be read off the file, and once by ONNX Runtime itself, in a session, which is the only
 * judge of whether it loads. ONNX Runtime stops at the first thing it cannot load and says
 * so in a sentence of its own; that sentence is parsed into a reason naming the operator,
 * attribute or version at fault.
 *
 * Missing kernels: ONNX Runtime looks up every node's kernel when a session is initialized
 * (SessionState finalization), whatever the graph optimization level, so a session with
 * optimization disabled (quicker to create, and the graph stays the one in the file) finds
 * them. It names the first node it fails on only. Probing each distinct operator in a
 * model of its own node was considered and not done: a kernel is chosen by the node's
 * input types, attributes and opset, which a one-node model would only have if the whole
 * model's types were inferred first; without that, probes fail or pass for the wrong
 * reason. Instead, operators of domains this runtime has no schemas for (custom operators)
 * are all found from the file, statically, and the load names the first one ONNX Runtime
 * cannot run.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { onnxTypeName } from '../core/dtypes';
import { OrtError } from '../core/errors';
import { type PlainTensor, tensor } from '../core/tensor';
import type { SessionOptions } from '../runtime/options';
import { loadRuntime } from '../runtime/runtime-library';
import { createSession, type Session } from '../runtime/session';
import { DataType, allGraphs, decodeModel, isExternal, onnx } from './onnx-graph';

/** What the check found wrong (an error: the model will not load or run) or worth knowing (a warning). */
export interface CheckProblem {
  readonly severity: 'error' | 'warning';
  /** One sentence: what is wrong, naming the operator, file or version at fault. */
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
}

/** The newest versions a runtime reads, and where that was learnt. */
export interface RuntimeLimits {
  /** The newest model IR version it loads, or `'unknown'`. */
  readonly irVersion: number | 'unknown';
  /** The newest opset of ONNX's own domain (`ai.onnx`) it loads, or `'unknown'`. */
  readonly onnxOpset: number | 'unknown';
  /** The newest opset of `ai.onnx.ml` it loads, or `'unknown'`. */
  readonly mlOpset: number | 'unknown';
  /**
   * `'runtime'`: the loaded library said so, refusing a model newer than it reads (its own
   * words are the most reliable source there is). `'table'`: ONNX Runtime's published
   * compatibility table for this minor version. `'unknown'`: neither.
   */
  readonly source: 'runtime' | 'table' | 'unknown';
}

/** The ONNX Runtime the model was checked against. */
export interface CheckedRuntime extends RuntimeLimits {
  /** Its version, e.g. `1.28.0`. */
  readonly version: string;
  /** The library file. */
  readonly path: string;
}

/** One opset the model imports, against what the runtime reads. */
export interface OpsetCheck {
  /** The domain: `ai.onnx` for ONNX's own (stored as '' in the file), `ai.onnx.ml`, `com.microsoft`, ... */
  readonly domain: string;
  readonly version: number;
  /** The newest version of the domain the runtime reads; undefined for domains it has no table for. */
  readonly supported?: number | 'unknown';
  /** False when the runtime reads only older versions; undefined when that is not known. */
  readonly ok?: boolean;
}

/** One operator (domain and type) of the model, with how often it is used. */
export interface OperatorUse {
  /** `ai.onnx` for ONNX's own operators. */
  readonly domain: string;
  readonly opType: string;
  /** The version of its domain the model imports; undefined when the model does not import the domain. */
  readonly opset?: number;
  /** Nodes of this operator in every graph: the main graph, subgraphs and model-local functions. */
  readonly count: number;
  /** Of those, nodes in subgraphs (the bodies of If, Loop, Scan). */
  readonly inSubgraphs: number;
  /** Of those, nodes in the bodies of the model's own functions. */
  readonly inFunctions: number;
  /** True when the model defines this operator as a function of its own (ModelProto.functions). */
  readonly modelFunction: boolean;
  /** Why the loaded runtime cannot run it, when the check found out; undefined otherwise. */
  readonly unsupported?: string;
}

/** A model input or output. */
export interface ValueCheck {
  readonly name: string;
  /** What kind of value: only tensors can be fed and read by this package. */
  readonly kind: 'tensor' | 'sequence' | 'map' | 'optional' | 'sparse_tensor' | 'unknown';
  /** The element type (`float32`, `int64`, ...; a sequence's or optional's element's, a map's value's). */
  readonly type: string;
  /**
   * The shape: a number for a fixed dimension, a name for a named dynamic one, null for
   * an unnamed dynamic one; null for the whole when the model does not give the rank.
   */
  readonly dims: readonly (number | string | null)[] | null;
}

/** A dimension of an input or output that is not fixed. */
export interface DynamicDimension {
  readonly role: 'input' | 'output';
  /** The input's or output's name. */
  readonly value: string;
  readonly axis: number;
  /** The dimension's name (`'batch'`), or null for an unnamed one. */
  readonly name: string | null;
}

/** Whether dynamic batching (Triton's max_batch_size > 0, `session.batched()`) can use the model. */
export interface BatchingCheck {
  /** True when every input and output has a dynamic first dimension. */
  readonly usable: boolean;
  /** Why not, naming the inputs and outputs at fault; or a caveat when usable. */
  readonly reason?: string;
  /** What to do about it. */
  readonly hint?: string;
}

/** One file named by the model's external data (tensors stored beside the model). */
export interface ExternalDataFile {
  /** The location as the model writes it. */
  readonly location: string;
  /** Where it was looked for: beside the model. */
  readonly path: string;
  /** The tensors stored in it. */
  readonly tensors: number;
  /** The bytes those tensors need: the largest offset + length among them. */
  readonly bytesNeeded: number;
  /** The file's size, or undefined when it does not exist. */
  readonly bytes?: number;
  readonly exists: boolean;
  /** True when the file exists and holds every tensor's bytes. */
  readonly ok: boolean;
}

/** What ONNX Runtime said when it loaded the model. */
export interface LoadCheck {
  /** True when a session was created. */
  readonly ok: boolean;
  /** False when the load was not tried (an external data file is missing or short). */
  readonly attempted: boolean;
  /** Milliseconds the session took to create. */
  readonly ms?: number;
  /** The graph optimization level it loaded with. */
  readonly graphOptimizationLevel: string;
  /** When it failed: the reason, in a sentence. */
  readonly reason?: string;
  /** When it failed: ONNX Runtime's own message, without its source locations. */
  readonly detail?: string;
}

/** The trial run of {@link CheckOptions.run}. */
export interface RunCheck {
  readonly ok: boolean;
  readonly ms?: number;
  /** The shapes fed (zeros; dynamic dimensions 1, the batch 2 when the model batches). */
  readonly feeds: Readonly<Record<string, readonly number[]>>;
  readonly error?: string;
}

/** The report of {@link checkModel}. Plain data: `JSON.stringify` prints all of it. */
export interface ModelCheck {
  /** The model file. */
  readonly path: string;
  /** True when the model loads in this runtime (and, with `run`, runs): no problem of severity error. */
  readonly ok: boolean;
  /** The tool that wrote the model, as it says (`pytorch 2.5.0`, `tf2onnx 1.16.1`); empty when it does not. */
  readonly producer: string;
  readonly runtime: CheckedRuntime;
  readonly irVersion: { readonly model: number; readonly supported: number | 'unknown'; readonly ok?: boolean };
  readonly opsets: readonly OpsetCheck[];
  /** Nodes in every graph, subgraphs and functions included. */
  readonly nodes: number;
  /** By domain, then by count, most used first. */
  readonly operators: readonly OperatorUse[];
  readonly inputs: readonly ValueCheck[];
  readonly outputs: readonly ValueCheck[];
  readonly dynamicDimensions: readonly DynamicDimension[];
  readonly batching: BatchingCheck;
  readonly externalData: readonly ExternalDataFile[];
  readonly load: LoadCheck;
  readonly run?: RunCheck;
  /** Errors first, then warnings. */
  readonly problems: readonly CheckProblem[];
}

/** Options of {@link checkModel}. */
export interface CheckOptions {
  /**
   * Options of the session the model is loaded in: `runtimePath` to check against another
   * ONNX Runtime, `executionProviders` to check that they take the model. Default:
   * the CPU provider, graph optimization `'disabled'` (kernels are found all the same).
   */
  sessionOptions?: SessionOptions;
  /**
   * Also run the model once on zeros (dynamic dimensions 1, the batch 2 when every input
   * and output has a dynamic first dimension), which finds what only running does: a
   * Reshape to a shape baked in at export, say. Default: false.
   */
  run?: boolean;
}

/**
 * ONNX Runtime's published compatibility table (onnxruntime.ai/docs/reference/compatibility.html),
 * by minor version: the newest ai.onnx opset, ai.onnx.ml opset and IR version each reads.
 * The table stops at 1.20, and this package loads 1.21 and newer: for those the runtime is
 * asked instead (probeLimits), and versions in neither say 'unknown' rather than guess.
 */
const COMPATIBILITY: Readonly<Record<string, { opset: number; ml: number; ir: number }>> = {
  '1.20': { opset: 21, ml: 4, ir: 10 },
  '1.19': { opset: 21, ml: 4, ir: 10 },
  '1.18': { opset: 21, ml: 4, ir: 10 },
  '1.17': { opset: 20, ml: 4, ir: 9 },
  '1.16': { opset: 19, ml: 3, ir: 9 },
  '1.15': { opset: 19, ml: 3, ir: 8 },
  '1.14': { opset: 18, ml: 3, ir: 8 },
  '1.13': { opset: 17, ml: 3, ir: 8 },
  '1.12': { opset: 17, ml: 3, ir: 8 },
  '1.11': { opset: 16, ml: 2, ir: 8 },
  '1.10': { opset: 15, ml: 2, ir: 8 },
  '1.9': { opset: 15, ml: 2, ir: 8 },
  '1.8': { opset: 14, ml: 2, ir: 7 },
  '1.7': { opset: 13, ml: 2, ir: 7 },
  '1.6': { opset: 13, ml: 2, ir: 7 },
  '1.5': { opset: 12, ml: 2, ir: 7 },
  '1.4': { opset: 12, ml: 2, ir: 7 },
  '1.3': { opset: 12, ml: 2, ir: 7 },
  '1.2': { opset: 11, ml: 2, ir: 6 },
  '1.1': { opset: 11, ml: 2, ir: 6 },
  '1.0': { opset: 11, ml: 2, ir: 6 },
};

/** The published table's row for an ONNX Runtime version, if it has one. */
export function publishedLimits(version: string): RuntimeLimits | undefined {
  const minor = /^(\d+\.\d+)/.exec(version)?.[1];
  const row = minor === undefined ? undefined : COMPATIBILITY[minor];
  return row && { irVersion: row.ir, onnxOpset: row.opset, mlOpset: row.ml, source: 'table' };
}

/**
 * Domains whose operators ONNX Runtime's own builds define. An operator of any other
 * domain is a custom operator: it loads only with the library that implements it
 * registered (onnxruntime-extensions' domain among them).
 */
const RUNTIME_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft', 'com.microsoft.nchwc', 'com.ms.internal.nhwc', 'ai.onnx.training', 'ai.onnx.preview.training', 'com.microsoft.dml', 'org.pytorch.aten']);

const displayDomain = (domain: string | null | undefined) => (!domain || domain === 'ai.onnx' ? 'ai.onnx' : domain);

/** Bits per element of each ONNX element type (the 4-bit ones pack two a byte), for external data lengths. */
const ELEMENT_BITS: Readonly<Record<number, number>> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
  17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
};

const probed = new Map<string, RuntimeLimits>();

/**
 * Asks the loaded runtime for its limits: it refuses a model of IR version 10000 saying
 * "max supported IR version: N", and one importing opset 10000 of a domain saying
 * "Current official support for domain D is till opset N" (onnxruntime/core/graph/model.cc,
 * model_load_utils.h). Three loads of a one-node model, a few milliseconds, once per
 * process. A message that does not say (ALLOW_RELEASED_ONNX_OPSET_ONLY=0 turns the opset
 * refusal into a warning) leaves that limit unknown.
 */
async function probeLimits(runtimePath: string): Promise<RuntimeLimits | undefined> {
  const known = probed.get(runtimePath);
  if (known) return known;
  const refusal = async (irVersion: number, opsets: Record<string, number>): Promise<string> => {
    const model = onnx.ModelProto.encode({
      irVersion,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: {
        name: 'probe',
        node: [{ opType: 'Identity', input: ['x'], output: ['y'], domain: '' }],
        input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } }],
      },
    }).finish();
    try {
      const session = await createSession(model, { runtimePath, logSeverityLevel: 'fatal', graphOptimizationLevel: 'disabled' });
      session.release();
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  const number = (text: string, pattern: RegExp): number | 'unknown' => {
    const m = pattern.exec(text);
    return m ? Number(m[1]) : 'unknown';
  };
  const [ir, opset, ml] = await Promise.all([
    refusal(10000, { '': 7 }),
    refusal(7, { '': 10000 }),
    refusal(7, { '': 7, 'ai.onnx.ml': 10000 }),
  ]);
  const limits: RuntimeLimits = {
    irVersion: number(ir, /max supported IR version: (\d+)/),
    onnxOpset: number(opset, /support for domain ai\.onnx is till opset (\d+)/),
    mlOpset: number(ml, /support for domain ai\.onnx\.ml is till opset (\d+)/),
    source: 'runtime',
  };
  if (limits.irVersion === 'unknown' && limits.onnxOpset === 'unknown' && limits.mlOpset === 'unknown') return undefined;
  probed.set(runtimePath, limits);
  return limits;
}

/** The runtime's limits: its own word, else the published table, else unknown; each limit separately. */
async function runtimeLimits(runtimePath: string, version: string): Promise<RuntimeLimits> {
  const asked = await probeLimits(runtimePath);
  const table = publishedLimits(version);
  if (!asked) return table ?? { irVersion: 'unknown', onnxOpset: 'unknown', mlOpset: 'unknown', source: 'unknown' };
  if (!table) return asked;
  return {
    irVersion: asked.irVersion === 'unknown' ? table.irVersion : asked.irVersion,
    onnxOpset: asked.onnxOpset === 'unknown' ? table.onnxOpset : asked.onnxOpset,
    mlOpset: asked.mlOpset === 'unknown' ? table.mlOpset : asked.mlOpset,
    source: 'runtime',
  };
}

/**
 * ONNX Runtime's message without the source locations and C++ signatures it prefixes
 * (`/onnxruntime_src/onnxruntime/core/graph/model.cc:181 onnxruntime::Model::Model(...) `),
 * which say where in ONNX Runtime, not what is wrong with the model.
 */
export function cleanOrtMessage(message: string): string {
  let out = message.replace(/^cannot load the model from .*?: /s, '').replace(/^\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
  // The path stops at a colon: "failed:/onnxruntime_src/..." keeps its "failed:".
  const location = /[\w./\\-]*\.(?:cc|h|cpp|hpp):\d+ /g;
  let m: RegExpExecArray | null;
  while ((m = location.exec(out)) !== null) {
    let end = m.index + m[0].length;
    const open = out.indexOf('(', end);
    // A C++ signature: a namespaced name before its parenthesis, then the message.
    if (open > 0 && /^[\w:<>,*&~ ]*::[\w:<>,*&~ ]*$/.test(out.slice(end, open))) {
      let depth = 0;
      let i = open;
      for (; i < out.length; i++) {
        if (out[i] === '(') depth++;
        else if (out[i] === ')' && --depth === 0) break;
      }
      end = i + 1;
      const rest = /^(?: const)?(?: noexcept)? ?/.exec(out.slice(end));
      end += rest ? rest[0].length : 0;
    }
    out = out.slice(0, m.index) + out.slice(end);
    location.lastIndex = m.index;
  }
  return out.replace(/^Load model from .*? failed:\s*/s, '').replace(/^This is an invalid model\.\s*/, '').replace(/\s+/g, ' ').trim();
}

/** A node's operator, found by the node's name (ONNX Runtime names nodes in its messages). */
type NodeIndex = ReadonlyMap<string, { domain: string; opType: string }>;

/** A load failure parsed: the reason, its hint, and the operator at fault (domain:opType) if any. */
export interface LoadFailure {
  readonly reason: string;
  readonly hint?: string;
  readonly operator?: string;
}

/**
 * ONNX Runtime's reason for not loading a model, as a sentence that names what is at
 * fault, and what to do. The patterns are ONNX Runtime's messages (graph.cc,
 * session_state.cc, model.cc, model_load_utils.h); anything else is passed through as it
 * said it.
 */
export function explainLoadFailure(message: string, nodes: NodeIndex = new Map()): LoadFailure {
  const text = cleanOrtMessage(message);
  let m: RegExpExecArray | null;
  if ((m = /Unsupported model IR version: (\d+), max supported IR version: (\d+)/.exec(text))) {
    return {
      reason: `the model's IR version ${m[1]} is newer than this ONNX Runtime reads (${m[2]} at most)`,
      hint: `use a newer ONNX Runtime (ORT_DYLIB_PATH), or, if the model uses nothing of IR ${m[1]}, save it with ir_version = ${m[2]} (Python: model.ir_version = ${m[2]}; onnx.save(model, path)), or convert it with an older onnx package`,
    };
  }
  if ((m = /Opset (\d+) is under development.*?support for domain (\S+) is till opset (\d+)/.exec(text))) {
    return {
      reason: `the model imports opset ${m[1]} of ${m[2]}; this ONNX Runtime reads up to opset ${m[3]}`,
      hint: `export at opset ${m[3]} or lower (torch.onnx.export(..., opset_version=${m[3]}); tf2onnx --opset ${m[3]}), or use a newer ONNX Runtime`,
    };
  }
  if ((m = /Could not find an implementation for (\S+?)\((\d+)\) node with name '([^']*)'/.exec(text))) {
    const op = nodes.get(m[3]);
    const name = op ? `${op.domain}:${op.opType}` : m[1];
    return {
      operator: op ? `${op.domain}:${op.opType}` : `ai.onnx:${m[1]}`,
      reason: `no kernel for ${name} (version ${m[2]}, node '${m[3]}') in this ONNX Runtime's execution providers, for the node's input types`,
      hint: `check the types ONNX Runtime implements ${m[1]} for (docs/OperatorKernels.md in ONNX Runtime's repository); cast the inputs to one, re-export at another opset, or use an execution provider that has it`,
    };
  }
  if ((m = /No Op registered for (\S+) with domain_version of (\d+)/.exec(text))) {
    const node = /In Node, \("([^"]*)", (\S+?), "([^"]*)"/.exec(text);
    const domain = displayDomain(node?.[3]);
    return {
      operator: `${domain}:${m[1]}`,
      reason: `${domain}:${m[1]} is not an operator of ${domain} opset ${m[2]}, the version the model imports${node ? ` (node '${node[1]}')` : ''}`,
      hint: `an operator added in a later opset (or misspelt): re-export at an opset that has it, or without it`,
    };
  }
  if ((m = /(?:Fatal error: )?(\S+?):(\S+?)\((-?\d+)\) is not a registered function\/op/.exec(text))) {
    return {
      operator: `${m[1]}:${m[2]}`,
      reason: `${m[1]}:${m[2]} is a custom operator: this ONNX Runtime has no ${m[2]} in domain ${m[1]}`,
      hint: `it loads only with the custom-op library that implements it registered (onnxruntime-extensions for ai.onnx.contrib, say); or re-export without it`,
    };
  }
  if ((m = /No opset import for domain '([^']*)'/.exec(text))) {
    return {
      reason: `a node uses domain '${m[1]}', which the model does not import (opset_import has no entry for it)`,
      hint: `add the domain to the model's opset_import (onnx.helper.make_opsetid('${m[1]}', 1)), or re-export`,
    };
  }
  if ((m = /Unrecognized attribute: (\S+) for operator (\S+)/.exec(text))) {
    return {
      operator: `ai.onnx:${m[2]}`,
      reason: `${m[2]} has no attribute '${m[1]}' at the opset the model imports`,
      hint: `the exporter wrote an attribute of another opset version of ${m[2]}: re-export with a matching opset`,
    };
  }
  // The type is quoted ('tensor(bool)') in newer messages, parenthesized in older ones.
  if ((m = /Type (?:'([^']*)'|\(([^)]*)\)) of input parameter \(([^)]*)\) of operator \(([^)]*)\) in node \(([^)]*)\) is invalid/.exec(text))) {
    const [, quoted, parenthesized, input, op, node] = m;
    return {
      operator: `${nodes.get(node)?.domain ?? 'ai.onnx'}:${op}`,
      reason: `${op} (node '${node}') does not take ${quoted ?? parenthesized} for its input '${input}'`,
      hint: `cast the input to a type ${op} takes (ONNX's operator documentation lists them), or re-export`,
    };
  }
  if ((m = /Node \(([^)]*)\) Op \(([^)]*)\) \[ShapeInferenceError\] (.*)/.exec(text))) {
    return {
      operator: `${nodes.get(m[1])?.domain ?? 'ai.onnx'}:${m[2]}`,
      reason: `the shapes do not fit ${m[2]} (node '${m[1]}'): ${m[3]}`,
      hint: 'a shape baked in at export that the graph contradicts: re-export, with dynamic axes where the sizes vary',
    };
  }
  if (/external data|GetFileLength|open file .* fail|External initializer/i.test(text)) {
    return { reason: `the external data cannot be read: ${text}`, hint: 'keep the data files beside the model, under the names it gives them' };
  }
  if (/Protobuf parsing failed|INVALID_PROTOBUF/.test(text)) {
    return { reason: `the file is not a valid ONNX model: ${text}`, hint: 'the file is damaged or not an ONNX model: export or download it again' };
  }
  return { reason: text };
}

function valueKind(type: onnx.ITypeProto | null | undefined): { kind: ValueCheck['kind']; type: string; shape?: onnx.ITensorShapeProto | null } {
  if (!type) return { kind: 'unknown', type: 'unknown' };
  if (type.tensorType) return { kind: 'tensor', type: onnxTypeName(type.tensorType.elemType ?? 0), shape: type.tensorType.shape };
  if (type.sparseTensorType) return { kind: 'sparse_tensor', type: onnxTypeName(type.sparseTensorType.elemType ?? 0), shape: type.sparseTensorType.shape };
  if (type.sequenceType) return { kind: 'sequence', type: valueKind(type.sequenceType.elemType).type };
  if (type.optionalType) return { kind: 'optional', type: valueKind(type.optionalType.elemType).type };
  if (type.mapType) return { kind: 'map', type: `${onnxTypeName(type.mapType.keyType ?? 0)} -> ${valueKind(type.mapType.valueType).type}` };
  return { kind: 'unknown', type: 'unknown' };
}

function valueCheck(v: onnx.IValueInfoProto): ValueCheck {
  const { kind, type, shape } = valueKind(v.type);
  // An unset dim_value reads null (a oneof), and a negative one is how some exporters write "unknown".
  const dims = shape ? (shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined && Number(d.dimValue) >= 0 ? Number(d.dimValue) : null)) : null;
  return { name: v.name ?? '', kind, type, dims };
}

function batchingCheck(inputs: readonly ValueCheck[], outputs: readonly ValueCheck[]): BatchingCheck {
  const fixed: string[] = [];
  const unknownRank: string[] = [];
  for (const [role, list] of [['input', inputs], ['output', outputs]] as const) {
    for (const v of list) {
      const label = `${role} '${v.name}'`;
      if (v.kind !== 'tensor') fixed.push(`${label} is a ${v.kind}, not a tensor`);
      else if (v.dims === null) unknownRank.push(label);
      else if (v.dims.length === 0) fixed.push(`${label} is a scalar`);
      else if (typeof v.dims[0] === 'number') fixed.push(`${label} has a fixed first dimension (${v.dims[0]})`);
    }
  }
  if (fixed.length > 0) {
    return {
      usable: false,
      reason: `${fixed.join('; ')}: dynamic batching needs every input and output to have a dynamic first dimension`,
      hint:
        'serve it with max_batch_size 0 (each request whole, no batching); or re-export with the batch as a dynamic first dimension of every input and output ' +
        "(torch.onnx.export(..., dynamic_axes={'x': {0: 'batch'}, ...}), or dynamic_shapes with the dynamo exporter; tf2onnx keeps a Keras model's None batch)",
    };
  }
  const caveat = unknownRank.length > 0 ? `${unknownRank.join(', ')} ${unknownRank.length > 1 ? 'have' : 'has'} no shape in the model: give the server its dims` : undefined;
  return { usable: true, ...(caveat ? { reason: caveat } : {}) };
}

/** The external data entries of a tensor, by key. */
function externalEntries(t: onnx.ITensorProto): Map<string, string> {
  return new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
}

async function externalDataFiles(model: onnx.IModelProto, modelPath: string, problems: CheckProblem[]): Promise<ExternalDataFile[]> {
  const byLocation = new Map<string, { tensors: number; bytesNeeded: number }>();
  const tensors: onnx.ITensorProto[] = [];
  for (const g of allGraphs(model.graph ?? {})) {
    tensors.push(...(g.initializer ?? []));
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) tensors.push(...(a.t ? [a.t] : []), ...(a.tensors ?? []));
  }
  for (const t of tensors) {
    if (!isExternal(t)) continue;
    const entries = externalEntries(t);
    const location = entries.get('location');
    if (!location) {
      problems.push({ severity: 'error', message: `tensor '${t.name}' is stored externally but names no file (its external_data has no location)` });
      continue;
    }
    const offset = Number(entries.get('offset') ?? 0);
    const count = (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    const bits = ELEMENT_BITS[t.dataType ?? 0];
    const length = entries.has('length') ? Number(entries.get('length')) : bits === undefined ? 0 : Math.ceil((count * bits) / 8);
    const entry = byLocation.get(location) ?? { tensors: 0, bytesNeeded: 0 };
    entry.tensors++;
    entry.bytesNeeded = Math.max(entry.bytesNeeded, offset + length);
    byLocation.set(location, entry);
  }
  const files: ExternalDataFile[] = [];
  for (const [location, { tensors: count, bytesNeeded }] of byLocation) {
    const path = resolve(dirname(modelPath), location);
    const info = await stat(path).catch(() => undefined);
    const exists = info?.isFile() === true;
    const bytes = exists ? info!.size : undefined;
    const ok = exists && bytes! >= bytesNeeded;
    files.push({ location, path, tensors: count, bytesNeeded, ...(bytes === undefined ? {} : { bytes }), exists, ok });
    if (!exists) {
      problems.push({
        severity: 'error',
        message: `the external data file ${location} (${count} tensor${count === 1 ? '' : 's'}) is missing: no file at ${path}`,
        hint: 'copy the data file beside the model: onnx.save(..., save_as_external_data=True) writes it next to the .onnx file, under this name',
      });
    } else if (!ok) {
      problems.push({
        severity: 'error',
        message: `the external data file ${location} is ${bytes} bytes; its tensors need ${bytesNeeded} (truncated, or from another export)`,
        hint: 'copy the data file again, whole, from the same export as the model',
      });
    }
    if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      problems.push({ severity: 'warning', message: `the external data location ${location} is not a plain name beside the model: ONNX Runtime may refuse paths outside the model's folder` });
    }
  }
  return files;
}

function countOperators(model: onnx.IModelProto): { operators: OperatorUse[]; nodes: number; index: Map<string, { domain: string; opType: string }> } {
  const imports = new Map<string, number>();
  for (const o of model.opsetImport ?? []) imports.set(displayDomain(o.domain), Number(o.version));
  const functions = new Set((model.functions ?? []).map((f) => `${displayDomain(f.domain)}:${f.name}`));
  const counts = new Map<string, { domain: string; opType: string; count: number; inSubgraphs: number; inFunctions: number }>();
  const index = new Map<string, { domain: string; opType: string }>();
  let nodes = 0;
  const add = (n: onnx.INodeProto, where: 'main' | 'subgraph' | 'function') => {
    const domain = displayDomain(n.domain);
    const opType = n.opType ?? '';
    const key = `${domain}:${opType}`;
    const entry = counts.get(key) ?? { domain, opType, count: 0, inSubgraphs: 0, inFunctions: 0 };
    entry.count++;
    if (where === 'subgraph') entry.inSubgraphs++;
    if (where === 'function') entry.inFunctions++;
    counts.set(key, entry);
    if (n.name) index.set(n.name, { domain, opType });
    nodes++;
  };
  const graphs = allGraphs(model.graph ?? {});
  graphs.forEach((g, i) => (g.node ?? []).forEach((n) => add(n, i === 0 ? 'main' : 'subgraph')));
  for (const f of model.functions ?? []) {
    for (const n of f.node ?? []) {
      add(n, 'function');
      // Nodes of a function's body may hold subgraphs too.
      for (const a of n.attribute ?? []) for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const sub of allGraphs(g)) (sub.node ?? []).forEach((x) => add(x, 'function'));
    }
  }
  const operators = [...counts.values()]
    .map((c) => ({ ...c, opset: imports.get(c.domain), modelFunction: functions.has(`${c.domain}:${c.opType}`) }))
    .sort((a, b) => (a.domain === b.domain ? b.count - a.count || a.opType.localeCompare(b.opType) : a.domain === 'ai.onnx' ? -1 : b.domain === 'ai.onnx' ? 1 : a.domain.localeCompare(b.domain)));
  return { operators, nodes, index };
}

const ZERO_ARRAYS: Readonly<Record<string, new (n: number) => ArrayLike<unknown>>> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array, int8: Int8Array, int16: Int16Array, int32: Int32Array,
  int64: BigInt64Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
};

/** Zeros (empty strings) of `dims` in the value's element type; undefined for a type this package cannot feed. */
function zeros(v: ValueCheck, dims: number[]): PlainTensor | undefined {
  const n = dims.reduce((a, b) => a * b, 1);
  if (v.type === 'string') return tensor('string', new Array<string>(n).fill(''), dims);
  const Ctor = ZERO_ARRAYS[v.type];
  return Ctor ? (tensor(v.type as 'float32', new Ctor(n) as Float32Array, dims) as PlainTensor) : undefined;
}

async function trialRun(session: Session, inputs: readonly ValueCheck[], batch: number): Promise<RunCheck> {
  const feeds: Record<string, PlainTensor> = {};
  const shapes: Record<string, number[]> = {};
  for (const v of inputs) {
    const dims = (v.dims ?? []).map((d, axis) => (typeof d === 'number' ? d : axis === 0 ? batch : 1));
    const t = v.kind === 'tensor' && v.dims !== null ? zeros(v, dims) : undefined;
    if (!t) return { ok: false, feeds: shapes, error: `input '${v.name}' is a ${v.kind} of ${v.type}${v.dims === null ? ' of unknown rank' : ''}, which the trial run cannot make` };
    feeds[v.name] = t;
    shapes[v.name] = dims;
  }
  const started = performance.now();
  try {
    // Its failure is in the report; ONNX Runtime need not print it too.
    await session.run(feeds, { logSeverityLevel: 'fatal' });
    return { ok: true, ms: performance.now() - started, feeds: shapes };
  } catch (err) {
    return { ok: false, ms: performance.now() - started, feeds: shapes, error: cleanOrtMessage((err as Error).message) };
  }
}

/**
 * Checks a model against the loaded ONNX Runtime: whether it reads the model's IR
 * version and opsets, which operators the model uses (counted over every graph,
 * subgraphs and functions included) and which of them the runtime cannot run, the inputs
 * and outputs with their dynamic dimensions, whether dynamic batching can use it, and its
 * external data files. The model is loaded in a session (which is released) to find what
 * only ONNX Runtime can say; with `run`, it is run once on zeros.
 *
 * A model that ONNX Runtime refuses is not an exception: the report says why
 * (`ok: false`, `load.reason`, `problems`).
 *
 * @param path - The .onnx file. Its external data is looked for beside it.
 * @param options - The session's options (another runtime, providers); a trial run.
 * @returns The report.
 * @throws {@link OrtError} `MODEL_NOT_FOUND` when there is no file at `path`,
 *   `RUNTIME_LOAD_FAILED` (and the other codes of `loadRuntime`) when ONNX Runtime
 *   cannot be loaded; {@link OptimizeError} when the file is not an ONNX model (empty,
 *   truncated, another format).
 * @example
 * ```ts
 * const report = await checkModel('model.onnx');
 * if (!report.ok) console.error(report.problems.filter((p) => p.severity === 'error'));
 * ```
 */
export async function checkModel(path: string, options: CheckOptions = {}): Promise<ModelCheck> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new OrtError(`no model file at ${path}`, 'MODEL_NOT_FOUND');
  const model = decodeModel(await readFile(path), path);
  const sessionOptions: SessionOptions = { graphOptimizationLevel: 'disabled', logSeverityLevel: 'error', ...options.sessionOptions };
  const loaded = loadRuntime(sessionOptions.runtimePath);
  const limits = await runtimeLimits(loaded.path, loaded.version);
  const problems: CheckProblem[] = [];

  const irModel = Number(model.irVersion ?? 0);
  const irOk = limits.irVersion === 'unknown' ? undefined : irModel <= limits.irVersion;
  if (irOk === false) {
    problems.push({
      severity: 'error',
      message: `the model's IR version ${irModel} is newer than ONNX Runtime ${loaded.version} reads (${limits.irVersion} at most)`,
      hint: `use a newer ONNX Runtime, or save the model with ir_version = ${limits.irVersion} if it uses nothing newer (Python: model.ir_version = ${limits.irVersion})`,
    });
  }
  const opsets: OpsetCheck[] = (model.opsetImport ?? []).map((o) => {
    const domain = displayDomain(o.domain);
    const version = Number(o.version);
    const supported = domain === 'ai.onnx' ? limits.onnxOpset : domain === 'ai.onnx.ml' ? limits.mlOpset : undefined;
    if (supported === undefined) return { domain, version };
    const ok = supported === 'unknown' ? undefined : version <= supported;
    if (ok === false) {
      problems.push({
        severity: 'error',
        message: `the model imports ${domain} opset ${version}; ONNX Runtime ${loaded.version} reads up to opset ${supported}`,
        hint: `export at opset ${supported} or lower (torch.onnx.export(..., opset_version=${supported}); tf2onnx --opset ${supported}), or use a newer ONNX Runtime`,
      });
    }
    if (domain === 'ai.onnx' && version < 7) {
      problems.push({ severity: 'warning', message: `the model imports ai.onnx opset ${version}: ONNX Runtime guarantees opset 7 and later only`, hint: 're-export at a recent opset (17 or later)' });
    }
    return { domain, version, supported, ...(ok === undefined ? {} : { ok }) };
  });

  const { operators: counted, nodes, index } = countOperators(model);
  const unsupported = new Map<string, string>();
  const imported = new Set(opsets.map((o) => o.domain));
  for (const op of counted) {
    const key = `${op.domain}:${op.opType}`;
    if (op.modelFunction) continue;
    if (!imported.has(op.domain)) unsupported.set(key, `the model does not import its domain ${op.domain}`);
    else if (!RUNTIME_DOMAINS.has(op.domain)) unsupported.set(key, `a custom operator (domain ${op.domain}): needs the custom-op library that implements it`);
  }
  const fromFile = new Map(unsupported);
  let loadFailedOn: string | undefined;

  const initializers = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  // Before IR 4 every initializer is listed among the inputs too; those are weights, not inputs.
  const inputs = (model.graph?.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueCheck);
  const outputs = (model.graph?.output ?? []).map(valueCheck);
  const dynamicDimensions: DynamicDimension[] = [];
  for (const [role, list] of [['input', inputs], ['output', outputs]] as const) {
    for (const v of list) (v.dims ?? []).forEach((d, axis) => typeof d !== 'number' && dynamicDimensions.push({ role, value: v.name, axis, name: d }));
  }
  let batching = batchingCheck(inputs, outputs);

  const externalData = await externalDataFiles(model, path, problems);

  const level = sessionOptions.graphOptimizationLevel ?? 'all';
  let load: LoadCheck;
  let run: RunCheck | undefined;
  if (externalData.some((f) => !f.ok)) {
    // Not loaded: ONNX Runtime maps external data into memory, and reading a mapping past
    // the end of a short file kills the process (SIGBUS) instead of failing the load.
    load = { ok: false, attempted: false, graphOptimizationLevel: level, reason: 'not loaded: an external data file is missing or short' };
  } else {
    const started = performance.now();
    let session: Session | undefined;
    try {
      session = await createSession(path, sessionOptions);
      load = { ok: true, attempted: true, ms: performance.now() - started, graphOptimizationLevel: level };
    } catch (err) {
      const message = (err as Error).message;
      const failure = explainLoadFailure(message, index);
      load = { ok: false, attempted: true, ms: performance.now() - started, graphOptimizationLevel: level, reason: failure.reason, detail: cleanOrtMessage(message) };
      if (failure.operator) unsupported.set(failure.operator, failure.reason);
      loadFailedOn = failure.operator;
      // The version checks above may have said it already, from the runtime's own limits.
      const said = problems.some((p) => p.severity === 'error' && /IR version|opset/.test(p.message)) && /IR version|opset \d+ of/.test(failure.reason);
      if (!said) problems.push({ severity: 'error', message: `ONNX Runtime cannot load the model: ${failure.reason}`, ...(failure.hint ? { hint: failure.hint } : {}) });
    }
    if (session && options.run) {
      try {
        run = await trialRun(session, inputs, batching.usable ? 2 : 1);
        if (!run.ok && batching.usable) {
          const single = await trialRun(session, inputs, 1);
          if (single.ok) {
            batching = {
              usable: false,
              reason: `it runs with a batch of 1 but not of 2 (${run.error}): a size is baked into the graph although the first dimensions are declared dynamic`,
              hint: 're-export with every size that depends on the batch computed from the input (no fixed reshape to batch 1), then check again',
            };
            run = single;
          }
        }
        if (!run.ok) {
          problems.push({
            severity: 'error',
            message: `the trial run failed: ${run.error}`,
            hint: `it ran on zeros of shapes ${Object.entries(run.feeds).map(([k, d]) => `${k} [${d.join(', ')}]`).join(', ')}; a model that needs other values or sizes can fail on these and still be sound`,
          });
        }
      } finally {
        session.release();
      }
    } else {
      session?.release();
    }
  }

  // What the file alone says of operators, unless the load said it of the same one.
  for (const [key, why] of fromFile) if (key !== loadFailedOn) problems.push({ severity: 'warning', message: `${key}: ${why}` });
  const operators: OperatorUse[] = counted.map((op) => {
    const why = unsupported.get(`${op.domain}:${op.opType}`);
    return why === undefined ? op : { ...op, unsupported: why };
  });
  problems.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  return {
    path,
    ok: !problems.some((p) => p.severity === 'error'),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    runtime: { version: loaded.version, path: loaded.path, ...limits },
    irVersion: { model: irModel, supported: limits.irVersion, ...(irOk === undefined ? {} : { ok: irOk }) },
    opsets,
    nodes,
    operators,
    inputs,
    outputs,
    dynamicDimensions,
    batching,
    externalData,
    load,
    ...(run ? { run } : {}),
    problems,
  };
}
