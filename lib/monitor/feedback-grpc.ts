/**
 * Ground truth over gRPC: `onnx_native.Monitoring/ModelFeedback` (proto/monitoring.proto),
 * added by the monitoring extension beside the inference service on the server's gRPC
 * port, with the same tokens: the counterpart of `POST /v2/models/{m}/feedback`.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR, PROTO_LOADER_OPTIONS } from '../server/grpc/proto';
import type { UnaryRpc } from '../server/grpc/grpc-service';
import { invalid } from '../server/protocol/types';
import type { GroundTruth } from './ground-truth';

/** The service file, in the package's proto/ folder. */
export const MONITORING_PROTO = 'monitoring.proto';

/** The service's full name (`/onnx_native.Monitoring/ModelFeedback`). */
export const MONITORING_SERVICE = 'onnx_native.Monitoring';

let loaded: { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } | undefined;

/** The monitoring service's definition and a client constructor for it, loaded once. */
export function monitoringProtocol(): { readonly service: grpc.ServiceDefinition; readonly Client: grpc.ServiceClientConstructor } {
  if (loaded !== undefined) return loaded;
  const definition = protoLoader.loadSync(MONITORING_PROTO, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const pkg = grpc.loadPackageDefinition(definition).onnx_native as grpc.GrpcObject;
  loaded = { service: definition[MONITORING_SERVICE] as grpc.ServiceDefinition, Client: pkg.Monitoring as grpc.ServiceClientConstructor };
  return loaded;
}

/**
 * A google.protobuf.Value as decoded (its oneof's member named in `kind`), as the JSON
 * value it stands for. protobufjs defines the well-known types with camelCase field
 * names (`numberValue`, `listValue`), whatever `keepCase` says.
 */
function jsonOf(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue;
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'nullValue':
      return null;
    case 'listValue':
      return ((v.listValue as { values?: unknown[] } | null)?.values ?? []).map(jsonOf);
    case 'structValue':
      return Object.fromEntries(Object.entries((v.structValue as { fields?: Record<string, unknown> } | null)?.fields ?? {}).map(([k, f]) => [k, jsonOf(f)]));
    default:
      return undefined;
  }
}

/** Adds the monitoring service to `server`, answering from `truth`. */
export function addFeedbackService(server: grpc.Server, truth: GroundTruth, unary: UnaryRpc): void {
  server.addService(monitoringProtocol().service, {
    ModelFeedback: unary((r) => {
      const model = typeof r.model_name === 'string' ? r.model_name : '';
      if (model === '') throw invalid('ModelFeedback needs a model_name');
      const result = truth.feedback(model, {
        id: typeof r.id === 'string' ? r.id : '',
        truth: jsonOf(r.truth),
        ...(r.reward !== undefined && r.reward !== null && { reward: r.reward }),
        ...(typeof r.output === 'string' && r.output !== '' && { output: r.output }),
      });
      return {
        id: result.id,
        model_name: result.model,
        model_version: result.version,
        route: result.route,
        output: result.output ?? '',
        rows: result.rows,
        ...(result.correct !== undefined && { correct: result.correct }),
        ...(result.absolute_error !== undefined && { absolute_error: result.absolute_error }),
        ...(result.reward !== undefined && { reward: result.reward }),
      };
    }),
  });
}
