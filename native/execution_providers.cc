#include "execution_providers.h"

#include <memory>

namespace onnx_native {
namespace {

struct CudaOptionsDeleter {
  void operator()(OrtCUDAProviderOptionsV2* p) const { Api().ReleaseCUDAProviderOptions(p); }
};
struct TensorRtOptionsDeleter {
  void operator()(OrtTensorRTProviderOptionsV2* p) const { Api().ReleaseTensorRTProviderOptions(p); }
};

struct KeyValues {
  std::vector<const char*> keys;
  std::vector<const char*> values;

  explicit KeyValues(const ProviderSpec& provider) {
    for (const auto& [key, value] : provider.options) {
      keys.push_back(key.c_str());
      values.push_back(value.c_str());
    }
  }
};

}  // namespace

void AppendExecutionProvider(OrtSessionOptions* options, const ProviderSpec& provider) {
  const OrtApi& api = Api();
  KeyValues kv(provider);
  if (provider.name == "CUDAExecutionProvider") {
    OrtCUDAProviderOptionsV2* raw = nullptr;
    Check(api.CreateCUDAProviderOptions(&raw));
    std::unique_ptr<OrtCUDAProviderOptionsV2, CudaOptionsDeleter> cuda(raw);
    Check(api.UpdateCUDAProviderOptions(raw, kv.keys.data(), kv.values.data(), kv.keys.size()));
    Check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, raw));
  } else if (provider.name == "TensorrtExecutionProvider") {
    OrtTensorRTProviderOptionsV2* raw = nullptr;
    Check(api.CreateTensorRTProviderOptions(&raw));
    std::unique_ptr<OrtTensorRTProviderOptionsV2, TensorRtOptionsDeleter> tensorrt(raw);
    Check(api.UpdateTensorRTProviderOptions(raw, kv.keys.data(), kv.values.data(), kv.keys.size()));
    Check(api.SessionOptionsAppendExecutionProvider_TensorRT_V2(options, raw));
  } else {
    Check(api.SessionOptionsAppendExecutionProvider(options, provider.name.c_str(), kv.keys.data(), kv.values.data(),
                                                    kv.keys.size()));
  }
}

}  // namespace onnx_native
