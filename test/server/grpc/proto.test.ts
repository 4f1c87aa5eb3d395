import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { PROTO_DIR, SERVICE_NAME, inferenceProtocol } from '../../../lib/server/grpc/proto';
import {
  fromModelInferRequest,
  toModelInferResponse,
  toModelStreamInferError,
  toModelStreamInferResponse,
  type ModelInferRequestMessage,
} from '../../../lib/server/grpc/infer-messages';
import type { InferResponse } from '../../../lib/server/protocol/types';
import { bytesOf, clientDecode, clientEncode, clientRoot, serverDecode, serverEncode } from './wire';

const Files = suite('proto/: the files and how they load');

Files('the proto folder is three levels above this module, at the package root', () => {
  assert.is(PROTO_DIR, join(__dirname, '..', '..', '..', 'proto'));
  for (const file of ['grpc_service.proto', 'model_config.proto']) {
    const text = readFileSync(join(PROTO_DIR, file), 'utf8');
    // Triton's definitions keep Triton's licence (BSD-3), at the top of each file.
    assert.ok(text.startsWith('// Copyright 20'), `${file} starts with NVIDIA's copyright line`);
    assert.match(text.slice(0, 2000), /NVIDIA CORPORATION & AFFILIATES/);
    assert.match(text.slice(0, 2000), /Redistribution and use in source and binary forms/);
    assert.match(text, /^package inference;$/m);
  }
  assert.ok(existsSync(join(PROTO_DIR, '..', 'package.json')));
});

Files('the service has Triton\'s 20 rpcs, each at its path, with its request and response types', () => {
  const { service, packageDefinition } = inferenceProtocol();
  const expected: [string, string, string, boolean][] = [
    ['ServerLive', 'ServerLiveRequest', 'ServerLiveResponse', false],
    ['ServerReady', 'ServerReadyRequest', 'ServerReadyResponse', false],
    ['ModelReady', 'ModelReadyRequest', 'ModelReadyResponse', false],
    ['ServerMetadata', 'ServerMetadataRequest', 'ServerMetadataResponse', false],
    ['ModelMetadata', 'ModelMetadataRequest', 'ModelMetadataResponse', false],
    ['ModelInfer', 'ModelInferRequest', 'ModelInferResponse', false],
    ['ModelStreamInfer', 'ModelInferRequest', 'ModelStreamInferResponse', true],
    ['ModelConfig', 'ModelConfigRequest', 'ModelConfigResponse', false],
    ['ModelStatistics', 'ModelStatisticsRequest', 'ModelStatisticsResponse', false],
    ['RepositoryIndex', 'RepositoryIndexRequest', 'RepositoryIndexResponse', false],
    ['RepositoryModelLoad', 'RepositoryModelLoadRequest', 'RepositoryModelLoadResponse', false],
    ['RepositoryModelUnload', 'RepositoryModelUnloadRequest', 'RepositoryModelUnloadResponse', false],
    ['SystemSharedMemoryStatus', 'SystemSharedMemoryStatusRequest', 'SystemSharedMemoryStatusResponse', false],
    ['SystemSharedMemoryRegister', 'SystemSharedMemoryRegisterRequest', 'SystemSharedMemoryRegisterResponse', false],
    ['SystemSharedMemoryUnregister', 'SystemSharedMemoryUnregisterRequest', 'SystemSharedMemoryUnregisterResponse', false],
    ['CudaSharedMemoryStatus', 'CudaSharedMemoryStatusRequest', 'CudaSharedMemoryStatusResponse', false],
    ['CudaSharedMemoryRegister', 'CudaSharedMemoryRegisterRequest', 'CudaSharedMemoryRegisterResponse', false],
    ['CudaSharedMemoryUnregister', 'CudaSharedMemoryUnregisterRequest', 'CudaSharedMemoryUnregisterResponse', false],
    ['TraceSetting', 'TraceSettingRequest', 'TraceSettingResponse', false],
    ['LogSettings', 'LogSettingsRequest', 'LogSettingsResponse', false],
  ];
  assert.equal(Object.keys(service), expected.map(([name]) => name));
  for (const [name, request, response, streaming] of expected) {
    const method = service[name];
    assert.is(method.path, `/${SERVICE_NAME}/${name}`);
    assert.is(method.requestStream, streaming, `${name}: request stream`);
    assert.is(method.responseStream, streaming, `${name}: response stream`);
    const rpc = clientRoot.lookupService(SERVICE_NAME).methods[name];
    assert.is(rpc.requestType, request);
    assert.is(rpc.responseType, response);
  }
  assert.ok(packageDefinition['inference.ModelConfig'], 'model_config.proto was imported');
  assert.is(inferenceProtocol(), inferenceProtocol(), 'loaded once');
});

// ---------------------------------------------------------------------------------
const Numbers = suite('field numbers, against sources other than proto/');

Numbers('a request a client encodes has the bytes worked out by hand from the numbers', () => {
  // model_name = 1: tag (1 << 3) | 2 = 0x0a; inputs = 5: (5 << 3) | 2 = 0x2a, holding
  // name = 1 (0x0a) and shape = 3 packed (0x1a); raw_input_contents = 7: (7 << 3) | 2 = 0x3a.
  const bytes = clientEncode('ModelInferRequest', {
    model_name: 'm',
    inputs: [{ name: 'x', shape: [2, 300] }],
    raw_input_contents: [Buffer.from([7])],
  });
  assert.equal(Array.from(bytes), [0x0a, 0x01, 0x6d, 0x2a, 0x08, 0x0a, 0x01, 0x78, 0x1a, 0x03, 0x02, 0xac, 0x02, 0x3a, 0x01, 0x07]);
});

Numbers('bytes written by hand decode, through the service definition, to the fields they name', () => {
  const bytes = Buffer.from([
    0x0a, 0x01, 0x6d, // model_name (1) "m"
    0x12, 0x01, 0x32, // model_version (2) "2"
    0x1a, 0x02, 0x69, 0x64, // id (3) "id"
    0x22, 0x0c, 0x0a, 0x04, 0x70, 0x72, 0x69, 0x6f, 0x12, 0x04, 0x28, 0xff, 0xff, 0x03, // parameters (4) {"prio": uint64_param (5) 65535}
    0x22, 0x0e, 0x0a, 0x01, 0x64, 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xd0, 0x3f, // parameters (4) {"d": double_param (4) 0.25}
    0x2a, 0x0c, 0x0a, 0x01, 0x78, 0x12, 0x04, 0x49, 0x4e, 0x54, 0x38, 0x1a, 0x01, 0x02, // inputs (5) {name "x", datatype "INT8", shape [2]}
    0x32, 0x03, 0x0a, 0x01, 0x79, // outputs (6) {name "y"}
    0x3a, 0x02, 0x01, 0xff, // raw_input_contents (7) [1, 255]
  ]);
  const request = fromModelInferRequest(serverDecode(bytes));
  assert.is(request.model, 'm');
  assert.is(request.version, '2');
  assert.is(request.id, 'id');
  assert.equal(request.parameters, { prio: 65535, d: 0.25 });
  assert.equal(request.outputs, [{ name: 'y' }]);
  assert.equal(request.inputs.map((i) => [i.name, i.datatype, i.shape, Array.from(i.tensor.data as Int8Array)]), [['x', 'INT8', [2], [1, -1]]]);
});

Numbers('typed contents by hand: bool_contents = 1, int64_contents = 3, fp32_contents = 6, bytes_contents = 8', () => {
  const input = (datatype: string, contents: number[]) => {
    const type = Buffer.from(datatype);
    const tensor = [0x0a, 0x01, 0x78, 0x12, type.length, ...type, 0x1a, 0x01, 0x02, 0x2a, contents.length, ...contents];
    return Buffer.from([0x0a, 0x01, 0x6d, 0x2a, tensor.length, ...tensor]);
  };
  const convert = (bytes: Buffer) => fromModelInferRequest(serverDecode(bytes)).inputs[0].tensor.data;
  assert.equal(Array.from(convert(input('BOOL', [0x0a, 0x02, 0x01, 0x00])) as Uint8Array), [1, 0]);
  // -1 as an int64 varint is ten bytes: nine 0xff then 0x01.
  assert.equal(Array.from(convert(input('INT64', [0x1a, 0x0b, 0x05, ...Array(9).fill(0xff), 0x01])) as BigInt64Array), [5n, -1n]);
  assert.equal(Array.from(convert(input('FP32', [0x32, 0x08, 0, 0, 0xc0, 0x3f, 0, 0, 0x80, 0xbf])) as Float32Array), [1.5, -1]);
  assert.equal(convert(input('BYTES', [0x42, 0x01, 0x61, 0x42, 0x00])), ['a', '']);
});

Numbers('a response encodes with raw_output_contents = 6 and ModelStreamInferResponse with error_message = 1, infer_response = 2', () => {
  const response: InferResponse = {
    model_name: 'm',
    model_version: '',
    outputs: [{ name: 'y', datatype: 'UINT8', shape: [1], tensor: { type: 'uint8', dims: [1], data: new Uint8Array([9]) } }],
  };
  const outputTensor = [0x0a, 0x01, 0x79, 0x12, 0x05, ...Buffer.from('UINT8'), 0x1a, 0x01, 0x01]; // name 1, datatype 2, shape 3
  // model_name 1, model_version 2 and id 3 (protobufjs writes the empty strings too), outputs 5, raw 6.
  const infer = [0x0a, 0x01, 0x6d, 0x12, 0x00, 0x1a, 0x00, 0x2a, outputTensor.length, ...outputTensor, 0x32, 0x01, 0x09];
  assert.equal(Array.from(serverEncode('ModelInfer', toModelInferResponse(response))), infer);
  assert.equal(Array.from(serverEncode('ModelStreamInfer', toModelStreamInferResponse(response))), [0x0a, 0x00, 0x12, infer.length, ...infer]);
  assert.equal(Array.from(serverEncode('ModelStreamInfer', toModelStreamInferError(new Error('e')))), [0x0a, 0x01, 0x65]);
});

/**
 * KServe's grpc_predict_v2.proto (kserve/kserve, docs/predict-api/v2/grpc_predict_v2.proto),
 * the Open Inference Protocol that Triton's service extends, written out field by field:
 * every message and field of it must be in proto/grpc_service.proto with the same
 * number and type.
 */
const KSERVE: Readonly<Record<string, string>> = {
  ServerLiveRequest: '',
  ServerLiveResponse: 'live=1 bool',
  ServerReadyRequest: '',
  ServerReadyResponse: 'ready=1 bool',
  ModelReadyRequest: 'name=1 string; version=2 string',
  ModelReadyResponse: 'ready=1 bool',
  ServerMetadataRequest: '',
  ServerMetadataResponse: 'name=1 string; version=2 string; extensions=3 repeated string',
  ModelMetadataRequest: 'name=1 string; version=2 string',
  ModelMetadataResponse: 'name=1 string; versions=2 repeated string; platform=3 string; inputs=4 repeated TensorMetadata; outputs=5 repeated TensorMetadata',
  'ModelMetadataResponse.TensorMetadata': 'name=1 string; datatype=2 string; shape=3 repeated int64',
  ModelInferRequest:
    'model_name=1 string; model_version=2 string; id=3 string; parameters=4 map<string, InferParameter>; inputs=5 repeated InferInputTensor; ' +
    'outputs=6 repeated InferRequestedOutputTensor; raw_input_contents=7 repeated bytes',
  'ModelInferRequest.InferInputTensor': 'name=1 string; datatype=2 string; shape=3 repeated int64; parameters=4 map<string, InferParameter>; contents=5 InferTensorContents',
  'ModelInferRequest.InferRequestedOutputTensor': 'name=1 string; parameters=2 map<string, InferParameter>',
  ModelInferResponse:
    'model_name=1 string; model_version=2 string; id=3 string; parameters=4 map<string, InferParameter>; outputs=5 repeated InferOutputTensor; raw_output_contents=6 repeated bytes',
  'ModelInferResponse.InferOutputTensor': 'name=1 string; datatype=2 string; shape=3 repeated int64; parameters=4 map<string, InferParameter>; contents=5 InferTensorContents',
  InferParameter: 'bool_param=1 bool in parameter_choice; int64_param=2 int64 in parameter_choice; string_param=3 string in parameter_choice',
  InferTensorContents:
    'bool_contents=1 repeated bool; int_contents=2 repeated int32; int64_contents=3 repeated int64; uint_contents=4 repeated uint32; ' +
    'uint64_contents=5 repeated uint64; fp32_contents=6 repeated float; fp64_contents=7 repeated double; bytes_contents=8 repeated bytes',
};

function describeField(field: protobuf.Field): string {
  const type = field.map ? `map<${(field as unknown as protobuf.MapField).keyType}, ${field.type}>` : field.repeated ? `repeated ${field.type}` : field.type;
  return `${field.name}=${field.id} ${type}${field.partOf ? ` in ${field.partOf.name}` : ''}`;
}

Numbers("every message and field of KServe's grpc_predict_v2.proto is in Triton's, with the same number and type", () => {
  for (const [name, fields] of Object.entries(KSERVE)) {
    const type = clientRoot.lookupType(`inference.${name}`);
    const ours = new Map(type.fieldsArray.map((f) => [f.name, describeField(f)]));
    for (const field of fields === '' ? [] : fields.split('; ')) {
      assert.is(ours.get(field.split('=')[0]), field, `${name}.${field}`);
    }
  }
  const methods = clientRoot.lookupService(SERVICE_NAME).methods;
  for (const rpc of ['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata', 'ModelInfer']) {
    assert.is(methods[rpc].requestType, `${rpc}Request`);
    assert.is(methods[rpc].responseType, `${rpc}Response`);
  }
});

Numbers('what Triton adds to the messages KServe has: InferParameter.double_param = 4 and uint64_param = 5', () => {
  const added = clientRoot.lookupType('inference.InferParameter').fieldsArray.filter((f) => f.id > 3).map(describeField);
  assert.equal(added, ['double_param=4 double in parameter_choice', 'uint64_param=5 uint64 in parameter_choice']);
});

// ---------------------------------------------------------------------------------
const Live = suite('with @grpc/grpc-js: the service definition and the codec over a real connection');

Live('ModelInfer and ModelStreamInfer on 127.0.0.1, unimplemented rpcs answering UNIMPLEMENTED', async () => {
  const { service, Client } = inferenceProtocol();
  // The "model" echoes its inputs as outputs, which checks the data went in and out intact.
  const echo = (message: ModelInferRequestMessage): InferResponse => {
    const request = fromModelInferRequest(message);
    return { model_name: request.model, model_version: '1', id: request.id, outputs: request.inputs.map(({ name, datatype, shape, tensor }) => ({ name, datatype, shape, tensor })) };
  };
  const server = new grpc.Server();
  server.addService(service, {
    ModelInfer: (call: grpc.ServerUnaryCall<ModelInferRequestMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      try {
        callback(null, toModelInferResponse(echo(call.request)));
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    },
    ModelStreamInfer: (call: grpc.ServerDuplexStream<ModelInferRequestMessage, unknown>) => {
      call.on('data', (message: ModelInferRequestMessage) => {
        try {
          call.write(toModelStreamInferResponse(echo(message)));
        } catch (err) {
          call.write(toModelStreamInferError(err, { model: message.model_name ?? '', id: message.id }));
        }
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const deadline = () => ({ deadline: Date.now() + 5000 });
  try {
    const values = new Float32Array([1.5, -2, 3.25]);
    const unary = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.ModelInfer(
        { model_name: 'echo', id: 'u1', inputs: [{ name: 'x', datatype: 'FP32', shape: [3] }], raw_input_contents: [bytesOf(values)] },
        deadline(),
        (err: Error | null, res: Record<string, unknown>) => (err ? reject(err) : resolve(res)),
      ),
    );
    assert.is(unary.id, 'u1');
    assert.equal(unary.outputs, [{ name: 'x', datatype: 'FP32', shape: ['3'], parameters: {}, contents: null }]);
    assert.equal(Array.from(new Float32Array(Uint8Array.from((unary.raw_output_contents as Buffer[])[0]).buffer)), [1.5, -2, 3.25]);

    const invalid = await new Promise<grpc.ServiceError>((resolve) =>
      client.ModelInfer({ model_name: 'echo', inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }], raw_input_contents: [bytesOf(values)] }, deadline(), resolve),
    );
    assert.is(invalid.code, grpc.status.INVALID_ARGUMENT);
    assert.is(invalid.details, "input 'x': shape [4] of FP32 needs 16 bytes, but raw_input_contents[0] has 12");

    const stream = client.ModelStreamInfer(deadline()) as grpc.ClientDuplexStream<unknown, { error_message: string; infer_response: { id: string } | null }>;
    const received: { error_message: string; id: string | undefined }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m) => received.push({ error_message: m.error_message, id: m.infer_response?.id }));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ model_name: 'echo', id: 's1', inputs: [{ name: 's', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([2, 0, 0, 0, 0x68, 0x69])] });
    stream.write({ model_name: 'echo', id: 's2', inputs: [{ name: 's', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0])] });
    stream.end();
    await done;
    assert.equal(received, [
      { error_message: '', id: 's1' },
      { error_message: "input 's': element 0 of raw_input_contents[0] is 9 bytes long, but only 0 bytes remain", id: 's2' },
    ]);

    const unimplemented = await new Promise<grpc.ServiceError>((resolve) => client.ServerLive({}, deadline(), resolve));
    assert.is(unimplemented.code, grpc.status.UNIMPLEMENTED);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

Files.run();
Numbers.run();
Live.run();
