// The floor for a binding's per-call cost: the C API called directly, doing what one
// runSync() call on the tiny model does (wrap the caller's input buffer as a tensor,
// Run with ONNX Runtime allocating the output, read it, release both), timed in
// batches. Prints one JSON line: {"medianNsPerCall": ..., "batches": ..., "callsPerBatch": ...}.
//
// Usage: c_floor LIBONNXRUNTIME MODEL.onnx [batches] [callsPerBatch]
#include <dlfcn.h>
#include <onnxruntime_c_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

static const OrtApi* api = nullptr;

static void Check(OrtStatus* status) {
  if (status != nullptr) {
    std::fprintf(stderr, "onnxruntime: %s\n", api->GetErrorMessage(status));
    std::exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LIBONNXRUNTIME MODEL.onnx [batches] [callsPerBatch]\n", argv[0]);
    return 2;
  }
  int batches = argc > 3 ? std::atoi(argv[3]) : 200;
  int callsPerBatch = argc > 4 ? std::atoi(argv[4]) : 1000;

  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto getApiBase = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(lib, "OrtGetApiBase"));
  api = getApiBase()->GetApi(ORT_API_VERSION);

  OrtEnv* env;
  Check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "c_floor", &env));
  OrtSessionOptions* options;
  Check(api->CreateSessionOptions(&options));
  Check(api->SetIntraOpNumThreads(options, 1));
  OrtSession* session;
  Check(api->CreateSession(env, argv[2], options, &session));
  OrtMemoryInfo* memory;
  Check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));

  float input[2] = {-1.0f, 2.0f};
  const int64_t dims[1] = {2};
  const char* inputNames[1] = {"x"};
  const char* outputNames[1] = {"y"};
  volatile float sink = 0;

  auto call = [&] {
    OrtValue* x = nullptr;
    Check(api->CreateTensorWithDataAsOrtValue(memory, input, sizeof(input), dims, 1,
                                              ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &x));
    OrtValue* y = nullptr;
    Check(api->Run(session, nullptr, inputNames, &x, 1, outputNames, 1, &y));
    float* out;
    Check(api->GetTensorMutableData(y, reinterpret_cast<void**>(&out)));
    sink = sink + out[1];
    api->ReleaseValue(y);
    api->ReleaseValue(x);
  };

  for (int i = 0; i < callsPerBatch * 10; ++i) call();  // warm-up
  std::vector<double> perCall;
  for (int b = 0; b < batches; ++b) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < callsPerBatch; ++i) call();
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    perCall.push_back(elapsed.count() / callsPerBatch);
  }
  std::sort(perCall.begin(), perCall.end());
  std::printf("{\"medianNsPerCall\": %.1f, \"batches\": %d, \"callsPerBatch\": %d}\n", perCall[perCall.size() / 2],
              batches, callsPerBatch);

  api->ReleaseMemoryInfo(memory);
  api->ReleaseSession(session);
  api->ReleaseSessionOptions(options);
  api->ReleaseEnv(env);
  return 0;
}
