/**
 * Triton's `inference.GRPCInferenceService` (a superset of KServe's v2 gRPC protocol) over
 * the server core: each rpc a translation of one {@link InferenceServer} call. Shared
 * memory, tracing and log settings are Triton extensions this server does not have:
 * those rpcs answer UNIMPLEMENTED, as a Triton built without them does.
 */
import * as grpc from '@grpc/grpc-js';
import { bearerMatches } from '../bearer-token';
import type { InferenceServer } from '../inference-server';
import { ProtocolError, type ProtocolStatus } from '../protocol/types';
import { type ModelInferRequestMessage, fromModelInferRequest, toModelInferResponse, toModelStreamInferError, toModelStreamInferResponse } from './infer-messages';
import { inferenceProtocol } from './proto';

const CODE: Readonly<Record<ProtocolStatus, grpc.status>> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
};

/** The gRPC status of a failure. */
function statusOf(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof ProtocolError) return { code: CODE[err.status], details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** Options of {@link addInferenceService}. */
export interface GrpcServiceOptions {
  /** A bearer token every rpc but the health checks requires (`authorization: Bearer <token>` metadata). */
  readonly token?: string;
  /** A bearer token the repository rpcs require instead. Default: `token`. */
  readonly adminToken?: string;
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

/** Who an rpc is for: the health checks for anyone, inference for the user's token, the repository for the admin's. */
export type RpcAuth = 'none' | 'user' | 'admin';

/**
 * A unary rpc's handler from `answer` (which may throw or reject): the bearer token is
 * checked first as `auth` says, and a ProtocolError becomes the call's status. For the
 * services of extensions too (the monitoring's feedback), so they answer as this one.
 */
export type UnaryRpc = (answer: (request: Record<string, unknown>, metadata: grpc.Metadata) => unknown, auth?: RpcAuth) => grpc.handleUnaryCall<Record<string, unknown>, unknown>;

/** {@link UnaryRpc} with the tokens of `options`. */
export function unaryRpc(options: GrpcServiceOptions): UnaryRpc {
  return (answer, auth = 'user') =>
    (call: Call, callback: Callback): void => {
      Promise.resolve()
        .then(() => {
          if (auth !== 'none') checkBearer(call.metadata, auth === 'admin' ? (options.adminToken ?? options.token) : options.token);
          return answer(call.request, call.metadata);
        })
        .then(
          (response) => callback(null, response),
          (err: unknown) => callback(statusOf(err)),
        );
    };
}

/** Throws UNAUTHENTICATED unless `metadata` has `authorization: Bearer <token>` (no token: passes). */
function checkBearer(metadata: grpc.Metadata, token: string | undefined): void {
  if (token === undefined) return;
  const value = metadata.get('authorization')[0];
  const given = typeof value === 'string' ? value : undefined;
  if (!bearerMatches(given, token)) {
    throw new ProtocolError(given === undefined ? 'this rpc needs "authorization: Bearer <token>" metadata' : 'the bearer token is not valid for this rpc', 'UNAUTHENTICATED');
  }
}

/**
 * Adds the inference service to `grpcServer`, answering from `server`.
 *
 * @example
 * ```ts
 * const grpcServer = new grpc.Server();
 * addInferenceService(grpcServer, core);
 * grpcServer.bindAsync('127.0.0.1:8001', grpc.ServerCredentials.createInsecure(), () => {});
 * ```
 */
export function addInferenceService(grpcServer: grpc.Server, server: InferenceServer, options: GrpcServiceOptions = {}): void {
  const unary = unaryRpc(options);
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const unimplemented = (what: string) => (_call: Call, callback: Callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `${what} is not supported by this server` });

  const implementation: grpc.UntypedServiceImplementation = {
    ServerLive: unary(() => ({ live: server.live }), 'none'),
    ServerReady: unary(() => ({ ready: server.ready }), 'none'),
    ModelReady: unary((r) => ({ ready: server.modelReady(str(r.name), str(r.version)) })),
    ServerMetadata: unary(() => server.metadata()),
    ModelMetadata: unary((r) => server.modelMetadata(str(r.name), str(r.version))),
    ModelInfer: unary(async (r, metadata) => toModelInferResponse(await server.infer({ ...fromModelInferRequest(r as unknown as ModelInferRequestMessage), headers: headersOf(metadata) }))),
    ModelConfig: unary((r) => ({ config: server.modelConfig(str(r.name)) })),
    ModelStatistics: unary((r) => server.statistics(str(r.name), str(r.version))),
    RepositoryIndex: unary(async (r) => ({ models: await server.repositoryIndex(r.ready === true) }), 'admin'),
    RepositoryModelLoad: unary(async (r) => {
      await server.loadModel(str(r.model_name));
      return {};
    }, 'admin'),
    RepositoryModelUnload: unary(async (r) => {
      await server.unloadModel(str(r.model_name));
      return {};
    }, 'admin'),
    ModelStreamInfer: (call: grpc.ServerDuplexStream<ModelInferRequestMessage, unknown>) => {
      // Each request is answered on the stream as it completes (in completion order, as
      // Triton's decoupled streams do); a failed request is an error message on the
      // stream, which stays open.
      let pending = 0;
      let ended = false;
      const finish = () => {
        if (ended && pending === 0) call.end();
      };
      try {
        checkBearer(call.metadata, options.token);
      } catch (err) {
        call.emit('error', statusOf(err));
        return;
      }
      call.on('data', (message: ModelInferRequestMessage) => {
        pending++;
        let request: ReturnType<typeof fromModelInferRequest> | undefined;
        Promise.resolve()
          .then(() => {
            request = { ...fromModelInferRequest(message), headers: headersOf(call.metadata) };
            return server.infer(request);
          })
          .then(
            (response) => call.write(toModelStreamInferResponse(response)),
            (err: unknown) => call.write(toModelStreamInferError(err, request ?? { model: String(message.model_name ?? ''), version: message.model_version, id: message.id })),
          )
          .finally(() => {
            pending--;
            finish();
          });
      });
      call.on('end', () => {
        ended = true;
        finish();
      });
      call.on('error', () => {
        ended = true;
      });
    },
    SystemSharedMemoryStatus: unimplemented('system shared memory'),
    SystemSharedMemoryRegister: unimplemented('system shared memory'),
    SystemSharedMemoryUnregister: unimplemented('system shared memory'),
    CudaSharedMemoryStatus: unimplemented('CUDA shared memory'),
    CudaSharedMemoryRegister: unimplemented('CUDA shared memory'),
    CudaSharedMemoryUnregister: unimplemented('CUDA shared memory'),
    TraceSetting: unimplemented('tracing'),
    LogSettings: unimplemented('log settings'),
  };
  grpcServer.addService(inferenceProtocol().service, implementation);
}

/** Channel options of the server: Triton accepts messages of any size up to 2 GiB (grpc-js's default is 4 MiB). */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 2 ** 31 - 1,
  'grpc.max_send_message_length': 2 ** 31 - 1,
};

/** The metadata's text entries, as the request keys that routes and sticky splits read (binary entries left out). */
function headersOf(metadata: grpc.Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) if (typeof value === 'string') headers[key] = value;
  return headers;
}
