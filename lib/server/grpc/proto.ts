/**
 * Triton's gRPC protocol (`inference.GRPCInferenceService`, a superset of KServe's
 * Open Inference Protocol), loaded from the package's own `proto/` folder with
 * @grpc/proto-loader. The service definition is what `server.addService` takes; its
 * `requestDeserialize` and `responseSerialize` are the wire codec that
 * `infer-messages.ts` converts to and from.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The folder holding `grpc_service.proto` and `model_config.proto`. This module is
 * three levels below the package root both as `lib/server/grpc/proto.ts` (under tsx)
 * and as `dist/server/grpc/proto.js` (after tsc), so one relative path serves both.
 */
export const PROTO_DIR: string = resolve(__dirname, '..', '..', '..', 'proto');

/** The service file; it imports `model_config.proto` from the same folder. */
export const SERVICE_PROTO = 'grpc_service.proto';

/** The service's full name, as clients call it (`/inference.GRPCInferenceService/ModelInfer`). */
export const SERVICE_NAME = 'inference.GRPCInferenceService';

/**
 * How messages are turned into plain objects and back. Each choice is for a reason
 * the codec relies on:
 *
 * - `keepCase: true`: field names are the protocol's own (`model_name`,
 *   `raw_input_contents`), the same as the HTTP/JSON protocol and `protocol/types.ts`.
 * - `longs: String`: int64 and uint64 fields (shapes, `int64_contents`,
 *   `uint64_contents`, `int64_param`, statistics counters) arrive as decimal strings,
 *   which are exact; `Number` would silently round values past 2^53 and the default
 *   would hand out `Long` objects. For encoding, protobufjs takes numbers or decimal
 *   strings (not bigints: see `wireLongs` in infer-messages.ts).
 * - `enums: String`: enum values arrive as their names (`TYPE_FP32`, `KIND_CPU`), as
 *   Triton's JSON model configuration spells them; encoding takes names or numbers.
 * - `bytes: Buffer`: `bytes` fields stay the Buffers protobufjs decoded, which are
 *   views into the received message (no copy); `raw_input_contents` becomes tensor
 *   data in place from them. (String would mean base64, Array a copy per byte.)
 * - `defaults: true`: absent fields come as their proto3 defaults ('' , 0, false, [],
 *   {} and null for messages), so the codec never meets `undefined` for a scalar or a
 *   list. Members of a oneof get no default, so which one was sent stays visible.
 * - `oneofs: true`: a oneof's name holds the name of the member that was sent
 *   (`parameter_choice: 'int64_param'`), which is how an InferParameter is read.
 * - `includeDirs`: the proto folder, where the service file's import is found.
 */
export const PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});

/** The loaded protocol. */
export interface InferenceProtocol {
  /** proto-loader's definitions, by full name (`inference.ModelInferRequest`...). */
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** The service definition, for `server.addService(service, implementation)`. */
  readonly service: grpc.ServiceDefinition;
  /** The `inference` package as @grpc/grpc-js loads it (client constructors, message types). */
  readonly package: grpc.GrpcObject;
  /** A client constructor for the service: `new Client('127.0.0.1:8001', credentials)`. */
  readonly Client: grpc.ServiceClientConstructor;
}

let loaded: InferenceProtocol | undefined;

/**
 * Loads the protocol once and returns it (later calls return the same objects).
 *
 * @throws Error naming the folder looked in when the `.proto` files are missing (an
 *   install without `proto/`), and proto-loader's parse error otherwise.
 * @example
 * ```ts
 * const { service } = inferenceProtocol();
 * server.addService(service, { ModelInfer: (call, callback) => ... });
 * ```
 */
export function inferenceProtocol(): InferenceProtocol {
  if (loaded) return loaded;
  for (const file of [SERVICE_PROTO, 'model_config.proto']) {
    if (!existsSync(join(PROTO_DIR, file))) {
      throw new Error(
        `onnx-native's gRPC protocol definition ${file} is missing from ${PROTO_DIR}; ` +
          'the package ships it in proto/ next to dist/ (reinstall the package, or check that proto/ is in its "files")',
      );
    }
  }
  // A copy: proto-loader takes a mutable Options, and the exported one stays frozen.
  const packageDefinition = protoLoader.loadSync(SERVICE_PROTO, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const service = packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition;
  const grpcObject = grpc.loadPackageDefinition(packageDefinition);
  const pkg = grpcObject.inference as grpc.GrpcObject;
  loaded = {
    packageDefinition,
    service,
    package: pkg,
    Client: pkg.GRPCInferenceService as grpc.ServiceClientConstructor,
  };
  return loaded;
}
