// Module entry: registers the classes and functions lib/runtime/binding.ts sees.
#include <napi.h>

#include "addon_data.h"
#include "cuda_runtime.h"
#include "device_tensor.h"
#include "io_binding.h"
#include "run_pool.h"
#include "runtime.h"
#include "run_options.h"
#include "session.h"
#include "session_thread.h"
#include "shared_library.h"

namespace onnx_native {

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->errorClass.IsEmpty()) {
    return Napi::Error(env, data->errorClass.New({Napi::String::New(env, message), Napi::String::New(env, code)}));
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  return error;
}

namespace {

Napi::Object RuntimeInfo(Napi::Env env, const Runtime& runtime) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("path", runtime.path);
  out.Set("version", runtime.version);
  out.Set("apiVersion", ORT_API_VERSION);
  return out;
}

// loadRuntime(path) => { path, version, apiVersion }, or { entryPointIn } for a library
// that gets OrtGetApiBase from a dependency (nothing is loaded then; see runtime.h).
Napi::Value JS_LoadRuntime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    if (!info[0].IsString()) throw BindingError("INVALID_ARGUMENT", "path must be a string");
    std::string entryPointIn;
    const Runtime* runtime = LoadRuntime(info[0].As<Napi::String>().Utf8Value(), entryPointIn);
    if (runtime != nullptr) return RuntimeInfo(env, *runtime);
    Napi::Object out = Napi::Object::New(env);
    out.Set("entryPointIn", entryPointIn);
    return out;
  });
}

// loadedRuntime() => { path, version, apiVersion } of what this process loaded, from
// whichever thread, or undefined.
Napi::Value JS_LoadedRuntime(const Napi::CallbackInfo& info) {
  const Runtime* runtime = LoadedRuntime();
  return runtime != nullptr ? RuntimeInfo(info.Env(), *runtime) : info.Env().Undefined();
}

// availableProviders() => string[]: the execution providers the loaded library has.
Napi::Value JS_AvailableProviders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    CurrentRuntime();
    char** names = nullptr;
    int count = 0;
    Check(Api().GetAvailableProviders(&names, &count));
    Napi::Array out = Napi::Array::New(env, count);
    for (int i = 0; i < count; ++i) out[static_cast<uint32_t>(i)] = Napi::String::New(env, names[i]);
    Check(Api().ReleaseAvailableProviders(names, count));
    return out;
  });
}

// configure(errorClass, elementSizes): lib/ hands over its error class and dtype table.
void JS_Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction() || !info[1].IsArray()) {
    throw Napi::TypeError::New(env, "configure(errorClass, elementSizes)");
  }
  AddonData& data = AddonData::Of(env);
  data.errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  Napi::Array sizes = info[1].As<Napi::Array>();
  data.elementSizes.assign(sizes.Length(), 0);
  for (uint32_t i = 0; i < sizes.Length(); ++i) {
    data.elementSizes[i] = sizes.Get(i).ToNumber().Uint32Value();
  }
}

// setRunHeader(Float64Array): the buffer lib/ packs each run's arguments into.
void JS_SetRunHeader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "setRunHeader(Float64Array)");
  }
  Napi::Float64Array header = info[0].As<Napi::Float64Array>();
  AddonData& data = AddonData::Of(env);
  data.runHeaderObject = Napi::Persistent(header.As<Napi::Object>());
  data.runHeader = header.Data();
  data.runHeaderLength = header.ElementLength();
}

// drainCompletions() => runs still in flight; see run_pool.h.
Napi::Value JS_DrainCompletions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(DrainCompletions(info.Env())));
}

// setCompletionPolling(on); see run_pool.h.
void JS_SetCompletionPolling(const Napi::CallbackInfo& info) { SetCompletionPolling(info.Env(), info[0].ToBoolean()); }

// stopRunsForExit(status), from process.on('exit'); see run_pool.h.
void JS_StopRunsForExit(const Napi::CallbackInfo& info) {
  StopRunsForExit(info[0].ToNumber().Int32Value());
  FinishSessionReleasesForExit();
}

// setCompletionState(Int32Array of 2 over an ArrayBuffer of its own), once per
// environment; see run_pool.h.
void JS_SetCompletionState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < 2) {
    throw Napi::TypeError::New(env, "setCompletionState(Int32Array of 2)");
  }
  AddonData& data = AddonData::Of(env);
  // Pool threads may write to the cells at any time: they can never move.
  if (!data.completionStateObject.IsEmpty()) throw Napi::Error::New(env, "the completion state is already set");
  Napi::Int32Array cells = info[0].As<Napi::Int32Array>();
  data.completionStateObject = Napi::Persistent(cells.As<Napi::Object>());
  SetCompletionState(env, cells.Data());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Once per process: the run pool's threads run this library's code for as long as the
  // process lives, whichever environments come and go.
  static const bool pinned = PinLibraryContaining(reinterpret_cast<const void*>(&Init));
  if (!pinned) throw Napi::Error::New(env, "onnx-native: cannot keep the addon loaded for its run pool's threads");
  // Node deletes the data when this environment (main thread or worker) shuts down.
  env.SetInstanceData(std::make_unique<AddonData>().release());
  AddonData& data = AddonData::Of(env);
  env.AddCleanupHook([env] {
    ShutdownCompletions(env);
    ShutdownSessionReleases();
  });

  Napi::Function session = NativeSession::Define(env);
  data.sessionClass = Napi::Persistent(session);
  Napi::Function runOptions = RunOptions::Define(env);
  data.runOptionsClass = Napi::Persistent(runOptions);
  data.ioBindingClass = Napi::Persistent(NativeIoBinding::Define(env));
  data.deviceTensorClass = Napi::Persistent(NativeDeviceTensor::Define(env));

  exports.Set("loadRuntime", Napi::Function::New<JS_LoadRuntime>(env, "loadRuntime"));
  exports.Set("loadedRuntime", Napi::Function::New<JS_LoadedRuntime>(env, "loadedRuntime"));
  exports.Set("availableProviders", Napi::Function::New<JS_AvailableProviders>(env, "availableProviders"));
  exports.Set("configure", Napi::Function::New<JS_Configure>(env, "configure"));
  exports.Set("createSession", Napi::Function::New<CreateSession>(env, "createSession"));
  exports.Set("attachSession", Napi::Function::New<AttachSession>(env, "attachSession"));
  exports.Set("setRunHeader", Napi::Function::New<JS_SetRunHeader>(env, "setRunHeader"));
  exports.Set("drainCompletions", Napi::Function::New<JS_DrainCompletions>(env, "drainCompletions"));
  exports.Set("setCompletionPolling", Napi::Function::New<JS_SetCompletionPolling>(env, "setCompletionPolling"));
  exports.Set("setCompletionState", Napi::Function::New<JS_SetCompletionState>(env, "setCompletionState"));
  exports.Set("stopRunsForExit", Napi::Function::New<JS_StopRunsForExit>(env, "stopRunsForExit"));
  exports.Set("RunOptions", runOptions);
  Napi::Function cudaStream = NativeCudaStream::Define(env);
  data.cudaStreamClass = Napi::Persistent(cudaStream);
  exports.Set("CudaStream", cudaStream);
  exports.Set("uploadToDevice", Napi::Function::New<UploadToDevice>(env, "uploadToDevice"));
  exports.Set("allocatePinned", Napi::Function::New<AllocatePinned>(env, "allocatePinned"));
  exports.Set("cudaStatus", Napi::Function::New<CudaStatus>(env, "cudaStatus"));
  exports.Set("apiVersion", Napi::Number::New(env, ORT_API_VERSION));
  exports.Set("cudaToolkitChecked", Napi::Number::New(env, kCudaToolkitChecked));
  return exports;
}

}  // namespace
}  // namespace onnx_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return onnx_native::Init(env, exports); }
NODE_API_MODULE(onnx_native, InitModule)
