/**
 * TensorFlow Serving's REST API (also KServe's v1 protocol), for clients written for TF
 * Serving, over the same core as the v2 routes: model status, metadata (a
 * `serving_default` signature built from the model's inputs and outputs), and `:predict`
 * in the row (`instances`) and columnar (`inputs`) formats, answering `predictions` or
 * `outputs`. Strings may come as `{"b64": "..."}`, as TF Serving takes them. `:classify`
 * and `:regress` (TensorFlow's Example-based APIs) have no ONNX meaning and are refused.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AnyTensor } from '../../core/tensor';
import type { InferenceServer } from '../inference-server';
import type { TensorPlan } from '../model/serving-plan';
import { float16Value, bfloat16Value } from '../../core/float16';
import { decodeInferRequest, decodeLimits } from '../protocol/json-tensors';
import { type Datatype, type InferResponse, ProtocolError, invalid } from '../protocol/types';

/** Options of {@link v1Routes}. */
export interface V1RoutesOptions {
  /** The server core the routes answer from. */
  readonly server: InferenceServer;
}

/** TensorFlow's DataType names of the protocol's datatypes. */
const TF_DTYPE: Readonly<Record<Datatype, string>> = {
  BOOL: 'DT_BOOL',
  UINT8: 'DT_UINT8',
  UINT16: 'DT_UINT16',
  UINT32: 'DT_UINT32',
  UINT64: 'DT_UINT64',
  INT8: 'DT_INT8',
  INT16: 'DT_INT16',
  INT32: 'DT_INT32',
  INT64: 'DT_INT64',
  FP16: 'DT_HALF',
  FP32: 'DT_FLOAT',
  FP64: 'DT_DOUBLE',
  BF16: 'DT_BFLOAT16',
  BYTES: 'DT_STRING',
};

type Params = { model: string; version?: string; label?: string; target?: string };

/** The shape of nested lists `value` (checked to be rectangular) and its elements, flat. */
function flatten(value: unknown, what: string): { shape: number[]; data: unknown[] } {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) {
    shape.push(v.length);
    if (shape.length > 64) throw invalid(`${what}: nested more than 64 deep`);
    if (v.length === 0) break;
  }
  const data: unknown[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw invalid(`${what}: the lists are not rectangular (a list where a value belongs, at depth ${depth})`);
      data.push(typeof v === 'object' && v !== null && 'b64' in v ? Buffer.from(String((v as { b64: unknown }).b64), 'base64').toString('utf8') : v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw invalid(`${what}: the lists are not rectangular (expected ${shape[depth]} items at depth ${depth})`);
    for (const item of v) walk(item, depth + 1);
  };
  walk(value, 0);
  return { shape, data };
}

/** One element of an output as JSON holds it. */
function elementOf(tensor: AnyTensor, i: number): unknown {
  const v = (tensor.data as ArrayLike<unknown>)[i];
  if (tensor.type === 'float16') return float16Value(v as number);
  if (tensor.type === 'bfloat16') return bfloat16Value(v as number);
  if (tensor.type === 'bool') return v !== 0;
  // Nine significant digits read back as the same float32, in half the characters of the double's.
  if (tensor.type === 'float32') return Number((v as number).toPrecision(9));
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** Elements `[from, from + count)` of `tensor` as nested lists of `shape`. */
function nest(tensor: AnyTensor, shape: readonly number[], from = 0): unknown {
  if (shape.length === 0) return elementOf(tensor, from);
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(tensor, shape.slice(1), from + i * step));
}

/** The model's version statuses, as TF Serving's GetModelStatus answers. */
function status(server: InferenceServer, model: string, version?: string, label?: string) {
  if (label !== undefined) version = String(server.repository.resolve(model, undefined, label).version);
  const versions = version === undefined ? [...server.repository.model(model).versions.entries()] : [[Number(version), undefined] as const];
  if (version !== undefined) server.repository.resolve(model, version);
  return {
    model_version_status: versions.map(([v, entry]) => ({
      version: String(v),
      state: entry === undefined || entry.state === 'READY' ? 'AVAILABLE' : entry.state === 'LOADING' ? 'LOADING' : entry.state === 'UNLOADING' ? 'UNLOADING' : 'END',
      status: { error_code: 'OK', error_message: entry?.reason ?? '' },
    })),
  };
}

/** TF Serving's REST API, as a fastify plugin (mount it beside {@link v2Routes}, which sets the body parsing and errors). */
export const v1Routes: FastifyPluginAsync<V1RoutesOptions> = async (app: FastifyInstance, options: V1RoutesOptions) => {
  const { server } = options;
  const limits = decodeLimits();

  app.get<{ Params: Params }>('/v1/models/:model', async (req) => status(server, req.params.model));
  app.get<{ Params: Params }>('/v1/models/:model/versions/:version', async (req) => status(server, req.params.model, req.params.version));
  app.get<{ Params: Params }>('/v1/models/:model/labels/:label', async (req) => status(server, req.params.model, undefined, req.params.label));
  const metadata = async (req: FastifyRequest<{ Params: Params }>) => {
    const served = server.repository.resolve(req.params.model, req.params.version, req.params.label);
    const batch = served.plan.maxBatchSize > 0 ? [-1] : [];
    const signature = (tensors: readonly TensorPlan[]) =>
      Object.fromEntries(
        tensors.map((t) => [
          t.name,
          { dtype: TF_DTYPE[t.datatype], tensor_shape: { dim: [...batch, ...t.dims].map((d) => ({ size: String(d), name: '' })), unknown_rank: false }, name: t.name },
        ]),
      );
    return {
      model_spec: { name: served.name, signature_name: '', version: String(served.version) },
      metadata: {
        signature_def: {
          signature_def: { serving_default: { inputs: signature(served.plan.inputs), outputs: signature(served.plan.outputs), method_name: 'tensorflow/serving/predict' } },
        },
      },
    };
  };
  app.get<{ Params: Params }>('/v1/models/:model/metadata', metadata);
  app.get<{ Params: Params }>('/v1/models/:model/versions/:version/metadata', metadata);
  app.get<{ Params: Params }>('/v1/models/:model/labels/:label/metadata', metadata);

  // `name:predict` is one path segment; the router's colon escape does not split it.
  const predict = async (req: FastifyRequest<{ Params: Params }>) => {
    const routed = req.params.version ?? req.params.label;
    const target = (routed ?? req.params.target ?? '') as string;
    const at = target.lastIndexOf(':');
    const verb = at < 0 ? '' : target.slice(at + 1);
    const model = routed === undefined ? target.slice(0, at) : req.params.model;
    const version = req.params.version === undefined ? undefined : target.slice(0, at);
    const label = req.params.label === undefined ? undefined : target.slice(0, at);
    if (verb !== 'predict') {
      throw new ProtocolError(verb === 'classify' || verb === 'regress' ? `:${verb} takes TensorFlow Examples, which ONNX models do not; use :predict` : `no such method ':${verb}'; use :predict`, at < 0 ? 'NOT_FOUND' : 'INVALID_ARGUMENT');
    }
    // Routed as v2 requests are (a request naming no version may be split, routed by a header, shadowed).
    const route = server.route({ model, version, label, headers: req.headers });
    const served = route.served;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '') as Record<string, unknown>;
    } catch (err) {
      throw invalid(`the body is not JSON: ${(err as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object with "instances" or "inputs"');
    const rows = 'instances' in body;
    if (rows === 'inputs' in body) throw invalid('the body must have exactly one of "instances" (row format) and "inputs" (columnar format)');
    const inputs = served.plan.inputs;
    // Each input's value: in the row format, the instances' values stacked along a new first axis.
    const values: Record<string, unknown> = {};
    if (rows) {
      const instances = body.instances;
      if (!Array.isArray(instances) || instances.length === 0) throw invalid('"instances" must be a non-empty list');
      if (inputs.length === 1 && !(typeof instances[0] === 'object' && instances[0] !== null && !Array.isArray(instances[0]) && !('b64' in instances[0]))) {
        values[inputs[0].name] = instances;
      } else {
        for (const input of inputs) {
          values[input.name] = instances.map((instance: unknown, i) => {
            if (typeof instance !== 'object' || instance === null || !(input.name in instance)) throw invalid(`instance ${i} has no "${input.name}"`);
            return (instance as Record<string, unknown>)[input.name];
          });
        }
      }
    } else if (inputs.length === 1 && (typeof body.inputs !== 'object' || body.inputs === null || Array.isArray(body.inputs))) {
      values[inputs[0].name] = body.inputs;
    } else {
      if (typeof body.inputs !== 'object' || body.inputs === null) throw invalid('"inputs" must be a list (one input) or an object of lists by input name');
      Object.assign(values, body.inputs);
    }
    const request = decodeInferRequest(
      {
        inputs: Object.entries(values).map(([name, value]) => {
          const datatype = inputs.find((t) => t.name === name)?.datatype ?? 'FP32';
          const { shape, data } = flatten(value, `input "${name}"`);
          return { name, datatype, shape, data };
        }),
      },
      undefined,
      { model: served.name, version: String(served.version) },
      limits,
    );
    const response: InferResponse = await server.infer(request, route);
    if (!rows) {
      const outputs = response.outputs.map((o) => [o.name, nest(o.tensor, o.shape)] as const);
      return { outputs: outputs.length === 1 ? outputs[0][1] : Object.fromEntries(outputs) };
    }
    // Row format: one prediction per instance (the outputs' first axis).
    const n = Array.isArray(body.instances) ? body.instances.length : 0;
    const perRow = response.outputs.map((o) => {
      const rowShape = o.shape.slice(1);
      const step = rowShape.reduce((a, b) => a * b, 1);
      return { name: o.name, rows: Array.from({ length: n }, (_, i) => nest(o.tensor, rowShape, i * step)) };
    });
    return { predictions: Array.from({ length: n }, (_, i) => (perRow.length === 1 ? perRow[0].rows[i] : Object.fromEntries(perRow.map((o) => [o.name, o.rows[i]])))) };
  };
  app.post<{ Params: Params }>('/v1/models/:target', predict);
  app.post<{ Params: Params }>('/v1/models/:model/versions/:version', predict);
  app.post<{ Params: Params }>('/v1/models/:model/labels/:label', predict);
};
