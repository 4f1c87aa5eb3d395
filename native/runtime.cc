#include "runtime.h"

#include <atomic>
#include <mutex>

#include "shared_library.h"

namespace onnx_native {
namespace {

std::mutex g_loadMutex;
// Written once under g_loadMutex, then only read (on every run, hence no lock to read
// it). Deliberately never destroyed: ONNX Runtime tears down its own globals at exit
// in an order we do not control, and releasing the environment after them crashes;
// the OS reclaims everything anyway.
std::atomic<const Runtime*> g_runtime{nullptr};

using GetApiBaseFn = const OrtApiBase*(ORT_API_CALL*)();

// OrtGetApiBase of the library at `path`, or nullptr with `entryPointIn` set when the
// symbol found is a dependency's (see LoadRuntime).
GetApiBaseFn OpenLibrary(const std::string& path, std::string& entryPointIn) {
  std::string error;
  void* lib = OpenSharedLibrary(path, error);
  if (lib == nullptr) throw BindingError("RUNTIME_LOAD_FAILED", error);
  void* symbol = FindSymbol(lib, "OrtGetApiBase");
  if (symbol == nullptr) {
    throw BindingError("RUNTIME_LOAD_FAILED",
                       "the library has no OrtGetApiBase symbol: it is not ONNX Runtime");
  }
  entryPointIn = DefinedInDependency(lib, symbol);
  if (!entryPointIn.empty()) return nullptr;
  return reinterpret_cast<GetApiBaseFn>(symbol);
}

}  // namespace

const Runtime* LoadRuntime(const std::string& path, std::string& entryPointIn) {
  std::lock_guard<std::mutex> lock(g_loadMutex);
  if (const Runtime* loaded = g_runtime.load()) {
    if (loaded->path != path) {
      throw BindingError("RUNTIME_CONFLICT", "ONNX Runtime is already loaded from " + loaded->path +
                                                 "; one process can use one copy");
    }
    return loaded;
  }

  GetApiBaseFn getApiBase = OpenLibrary(path, entryPointIn);
  if (getApiBase == nullptr) return nullptr;
  const OrtApiBase* base = getApiBase();
  if (base == nullptr) {
    throw BindingError("RUNTIME_LOAD_FAILED", "its OrtGetApiBase returned no API: it is not ONNX Runtime");
  }
  std::string version = base->GetVersionString();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    throw BindingError("RUNTIME_TOO_OLD", "ONNX Runtime " + version + " does not serve API version " +
                                              std::to_string(ORT_API_VERSION) + " (ONNX Runtime 1." +
                                              std::to_string(ORT_API_VERSION) + " or newer does)");
  }
  SetApi(api);

  OrtEnv* env = nullptr;
  Check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "onnx-native", &env));
  EnvPtr envOwner(env);
  OrtMemoryInfo* cpu = nullptr;
  Check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &cpu));
  MemoryInfoPtr cpuOwner(cpu);

  auto runtime = std::make_unique<Runtime>(
      Runtime{path, version, api, envOwner.release(), cpuOwner.release()});
  g_runtime.store(runtime.release());
  return g_runtime.load();
}

const Runtime* LoadedRuntime() { return g_runtime.load(std::memory_order_acquire); }

const Runtime& CurrentRuntime() {
  const Runtime* runtime = g_runtime.load(std::memory_order_acquire);
  if (runtime == nullptr) {
    throw BindingError("RUNTIME_NOT_LOADED", "ONNX Runtime has not been loaded yet");
  }
  return *runtime;
}

}  // namespace onnx_native
