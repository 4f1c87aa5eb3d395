// A session's signature and model metadata, read once when the session loads.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ort_api.h"

namespace onnx_native {

struct ValueInfo {
  std::string name;
  ONNXType kind = ONNX_TYPE_UNKNOWN;  // tensor, sequence, map, ...
  int elementType = 0;               // ONNXTensorElementDataType, for tensors
  std::vector<int64_t> dims;         // -1 where the dimension is dynamic
  std::vector<std::string> symbols;  // the dynamic dimensions' names ("" if unnamed)
};

struct ModelInfo {
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::string producerName, graphName, graphDescription, domain, description;
  int64_t version = 0;
  std::vector<std::pair<std::string, std::string>> customMetadata;
};

// Reads everything above from a loaded session. Safe on any thread.
ModelInfo ReadModelInfo(const OrtSession* session);

// { inputs: [{ name, kind, elementType, dims }], outputs: [...], metadata: {...} },
// where a dynamic dimension is its name, or null when it has none.
Napi::Object ModelInfoToJs(Napi::Env env, const ModelInfo& info);

}  // namespace onnx_native
