// Registering execution providers with a session's options through the C API.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ort_api.h"

namespace onnx_native {

// A provider as lib/runtime/providers.ts describes it: ONNX Runtime's name for it and its
// option keys and values, already checked there.
struct ProviderSpec {
  std::string name;  // e.g. "CUDAExecutionProvider"
  std::vector<std::pair<std::string, std::string>> options;
  bool optional = false;  // skip it, rather than fail, when it will not register
};

// Adds `provider` to `options`: CUDA and TensorRT through their V2 option structs
// (Create/Update...ProviderOptions, SessionOptionsAppendExecutionProvider_*_V2), others
// through the generic SessionOptionsAppendExecutionProvider. Throws BindingError with
// ONNX Runtime's status when the provider rejects an option or cannot start.
void AppendExecutionProvider(OrtSessionOptions* options, const ProviderSpec& provider);

}  // namespace onnx_native
