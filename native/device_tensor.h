// Tensors in GPU memory, and the host-side helpers that feed them: pinned (page-locked)
// host buffers, and CUDA streams.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ort_api.h"
#include "tensor.h"

namespace onnx_native {

struct SessionCore;

// A tensor in GPU memory: an OrtValue over device memory that ONNX Runtime allocated (a
// bound output) or the addon did (upload). JavaScript: info() => { elementType, dims,
// deviceId, bytes }; download(callback) / downloadSync() => ArrayBuffer; release().
class NativeDeviceTensor : public Napi::ObjectWrap<NativeDeviceTensor> {
 public:
  struct State {
    ~State();
    std::shared_ptr<SessionCore> owner;  // the session whose allocator owns the memory, if any
    ValuePtr value;
    void* ownMemory = nullptr;  // cudaMalloc'd by upload(), freed with the state
    int deviceId = 0;
    int elementType = 0;
    std::vector<int64_t> dims;
    size_t bytes = 0;

    // Copies all `bytes` to host memory at `target` (any thread; blocks until done).
    void CopyToHost(void* target) const;
  };

  static Napi::Function Define(Napi::Env env);
  explicit NativeDeviceTensor(const Napi::CallbackInfo& info);

  // A JavaScript device tensor holding `state`.
  static Napi::Object New(Napi::Env env, std::shared_ptr<State> state);

  // A JavaScript device tensor over `value` (in device memory, of shape `shape`), kept
  // alive with `owner`.
  static Napi::Object Wrap(Napi::Env env, ValuePtr value, const TensorShape& shape,
                           std::shared_ptr<SessionCore> owner);
  // The OrtValue of a JavaScript device tensor; throws unless `object` is a live one.
  static const OrtValue* ValueOf(Napi::Value object);

 private:
  Napi::Value JS_Info(const Napi::CallbackInfo& info);
  void JS_Download(const Napi::CallbackInfo& info);
  Napi::Value JS_DownloadSync(const Napi::CallbackInfo& info);
  void JS_Release(const Napi::CallbackInfo& info);
  const State& Live(Napi::Env env) const;

  std::shared_ptr<State> state_;
};

// Whether `value`'s memory is a device's rather than the host's.
bool IsDeviceValue(const OrtValue* value);

// ONNX Runtime's description of memory on CUDA device `deviceId`.
MemoryInfoPtr CudaMemoryInfo(int deviceId);

// JavaScript: uploadToDevice(elementType, dims, data, deviceId) => NativeDeviceTensor.
Napi::Value UploadToDevice(const Napi::CallbackInfo& info);
// JavaScript: allocatePinned(bytes) => ArrayBuffer in page-locked host memory.
Napi::Value AllocatePinned(const Napi::CallbackInfo& info);
// JavaScript: cudaStatus() => "" when CUDA is usable, else why not.
Napi::Value CudaStatus(const Napi::CallbackInfo& info);

// A CUDA stream, destroyed with its last holder: the JavaScript object, and every session
// created to run on it (SessionCore::keepAlive), so that neither the garbage collector nor
// release() destroys it under a session.
struct CudaStreamState {
  ~CudaStreamState();
  void* stream = nullptr;
};

// A CUDA stream. JavaScript: new CudaStream(deviceId); handle (bigint, 0n once released);
// synchronize(); release(). Sessions take it as a provider option, by handle, and
// createSession keeps the stream of each CudaStream it was given (StreamOf).
class NativeCudaStream : public Napi::ObjectWrap<NativeCudaStream> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeCudaStream(const Napi::CallbackInfo& info);

  // The stream of a JavaScript CudaStream; throws INVALID_OPTION for anything else, and
  // SESSION_RELEASED for a released one.
  static std::shared_ptr<CudaStreamState> StreamOf(Napi::Value object);

 private:
  Napi::Value JS_Handle(const Napi::CallbackInfo& info);
  void JS_Synchronize(const Napi::CallbackInfo& info);
  void JS_Release(const Napi::CallbackInfo& info);

  std::shared_ptr<CudaStreamState> state_;  // null once released
};

}  // namespace onnx_native
