#include "cuda_runtime.h"

#include <memory>
#include <mutex>
#include <type_traits>

#include "ort_api.h"
#include "shared_library.h"

namespace onnx_native {
namespace {

struct Loaded {
  std::unique_ptr<CudaRuntime> runtime;  // set when usable
  std::string reason;                    // why not, otherwise
};

void* OpenFirst(std::string& tried, std::string& opened) {
#ifdef _WIN32
  const char* names[] = {"cudart64_13.dll", "cudart64_12.dll"};
#else
  const char* names[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so"};
#endif
  for (const char* name : names) {
    std::string error;
    if (void* lib = OpenSharedLibrary(name, error)) {
      opened = name;
      return lib;
    }
    tried += (tried.empty() ? "" : ", ") + std::string(name);
  }
  return nullptr;
}

Loaded Load() {
  Loaded loaded;
  std::string tried;
  std::string opened;
  void* lib = OpenFirst(tried, opened);
  if (lib == nullptr) {
    loaded.reason = "no CUDA runtime library found (tried " + tried + "): install CUDA 12 or 13, or put its lib folder on the library path";
    return loaded;
  }
  auto runtime = std::make_unique<CudaRuntime>();
  runtime->library = opened;
  bool complete = true;
  auto bind = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(FindSymbol(lib, name));
    complete = complete && fn != nullptr;
  };
#define ONNX_NATIVE_BIND_CUDART(member, symbol) bind(runtime->member, #symbol);
  ONNX_NATIVE_CUDART_FUNCTIONS(ONNX_NATIVE_BIND_CUDART)
#undef ONNX_NATIVE_BIND_CUDART
  if (!complete) {
    loaded.reason = opened + " lacks functions the addon needs: is it the CUDA runtime?";
    return loaded;
  }
  CudaRuntime::Error error = runtime->GetDeviceCount(&runtime->deviceCount);
  if (error != 0 || runtime->deviceCount == 0) {
    loaded.reason = opened + " loaded, but there is no usable GPU: " +
                    (error != 0 ? runtime->GetErrorString(error) : "cudaGetDeviceCount found no device");
    return loaded;
  }
  loaded.runtime = std::move(runtime);
  return loaded;
}

const Loaded& Instance() {
  static std::once_flag once;
  // Never destroyed: device memory may be freed through it at process exit.
  static Loaded* loaded = nullptr;
  std::call_once(once, [] { loaded = std::make_unique<Loaded>(Load()).release(); });
  return *loaded;
}

}  // namespace

void CudaRuntime::Check(Error error, const char* what) const {
  if (error != 0) throw BindingError("CUDA_UNAVAILABLE", std::string(what) + " failed: " + GetErrorString(error));
}

const CudaRuntime& Cuda() {
  const Loaded& loaded = Instance();
  if (!loaded.runtime) throw BindingError("CUDA_UNAVAILABLE", loaded.reason);
  return *loaded.runtime;
}

std::string CudaUnavailableReason() { return Instance().reason; }

}  // namespace onnx_native
