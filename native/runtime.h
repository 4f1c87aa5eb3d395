// Loading ONNX Runtime's shared library at run time (dlopen + OrtGetApiBase).
#pragma once

#include <string>

#include "ort_api.h"

namespace onnx_native {

// The loaded library and the process-wide objects made from it.
struct Runtime {
  std::string path;          // as the caller gave it
  std::string version;       // the library's own version string, e.g. "1.30.0"
  const OrtApi* api;         // the table for ORT_API_VERSION
  OrtEnv* env;               // ONNX Runtime allows one environment per process
  OrtMemoryInfo* cpuMemory;  // describes caller-owned host buffers wrapped as tensors
};

// Loads the library at `path` once per process; later calls with the same path return
// the same runtime, and a different path fails (two copies of ONNX Runtime in one
// process would each bring their own thread pools and allocators). Thread-safe: worker
// threads load through here too. Throws BindingError RUNTIME_LOAD_FAILED,
// RUNTIME_TOO_OLD or RUNTIME_CONFLICT.
//
// A library whose OrtGetApiBase is not its own but comes from a library it depends on
// (a program's library that links ONNX Runtime) is not taken for ONNX Runtime: nothing
// is loaded, `entryPointIn` is set to the path of the library that defines the symbol,
// and the result is nullptr. lib/runtime/runtime-library.ts decides what to tell the caller.
const Runtime* LoadRuntime(const std::string& path, std::string& entryPointIn);

// The loaded runtime, or nullptr if LoadRuntime has not succeeded yet (in any thread:
// the runtime is per process, not per JavaScript environment).
const Runtime* LoadedRuntime();

// The loaded runtime; throws RUNTIME_NOT_LOADED if LoadRuntime has not succeeded yet.
const Runtime& CurrentRuntime();

}  // namespace onnx_native
