// Session options: read from the plain object lib/runtime/options.ts builds (on the JavaScript
// thread), then turned into an OrtSessionOptions (on the session thread: registering
// a GPU provider loads its libraries, which takes a while).
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "execution_providers.h"
#include "ort_api.h"

namespace onnx_native {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct SessionOptionsSpec {
  int intraOpNumThreads = 0;
  int interOpNumThreads = 0;
  int executionMode = 0;
  int graphOptimizationLevel = 99;
  bool enableCpuMemArena = true;
  bool enableMemPattern = true;
  int logSeverityLevel = 2;
  std::string logId;
  std::string optimizedModelFilePath;
  std::string profileFilePrefix;
  StringPairs freeDimensionOverrides;
  StringPairs configEntries;
  std::vector<ProviderSpec> providers;  // in order of preference; CPU implied, last
  std::vector<std::shared_ptr<void>> keepAlive;  // what the session must hold (its CUDA streams)
};

// Reads lib/runtime/options.ts's NativeSessionOptions. The object is one lib/ made itself, so
// no user getter runs in here; a wrong type is still a TypeError, not a crash.
SessionOptionsSpec ReadSessionOptions(const Napi::Object& options);

struct BuiltSessionOptions {
  SessionOptionsPtr options;
  std::vector<std::string> providers;  // registered, in order, CPUExecutionProvider last
  StringPairs skippedProviders;        // optional providers that would not register: name, why
};

// Builds the OrtSessionOptions; any thread. Throws BindingError.
BuiltSessionOptions BuildSessionOptions(const SessionOptionsSpec& spec);

}  // namespace onnx_native
