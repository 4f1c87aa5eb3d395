// What the addon keeps per JavaScript environment (the main thread and each worker
// thread get their own): the constructors it builds objects with, and the tables
// lib/ hands it at start-up. Nothing here is shared between threads.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "ort_api.h"

namespace onnx_native {

class CompletionQueue;

struct AddonData {
  std::shared_ptr<CompletionQueue> completions;  // native/run_pool.h, made on first use
  Napi::FunctionReference errorClass;    // lib/core/errors.ts OrtError(message, code)
  Napi::FunctionReference sessionClass;  // native/session.h NativeSession
  Napi::FunctionReference runOptionsClass;
  Napi::FunctionReference ioBindingClass;     // native/io_binding.h
  Napi::FunctionReference deviceTensorClass;  // native/device_tensor.h
  Napi::FunctionReference cudaStreamClass;    // native/device_tensor.h
  // Bytes per element, indexed by ONNX element type; 0 where JavaScript has no
  // natural array for the type. Comes from lib/core/dtypes.ts, the one dtype table.
  std::vector<size_t> elementSizes;
  // The run header (run_job.h) that lib/ rewrites before each run, and reads results from.
  Napi::ObjectReference runHeaderObject;
  double* runHeader = nullptr;
  size_t runHeaderLength = 0;
  // Where lib/ watches runs finish (run_pool.h SetCompletionState).
  Napi::ObjectReference completionStateObject;

  static AddonData& Of(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
};

// A JavaScript error of lib/core/errors.ts's class (a plain Error with `code` set, if
// lib/ has not registered its class yet).
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

// Runs `body` on the JavaScript thread, turning a BindingError (or any C++ exception)
// into a JavaScript exception, so that no C++ exception ever crosses into Node.
template <typename Body>
auto Guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const BindingError& e) {
    throw MakeError(env, e.code(), e.what());
  } catch (const std::exception& e) {
    throw MakeError(env, "FAIL", e.what());
  }
}

}  // namespace onnx_native
