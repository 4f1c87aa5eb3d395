#include "device_tensor.h"

#include <cstring>
#include <string>

#include "addon_data.h"
#include "addon_object.h"
#include "cuda_runtime.h"
#include "run_pool.h"

namespace onnx_native {
MemoryInfoPtr CudaMemoryInfo(int deviceId) {
  OrtMemoryInfo* info = nullptr;
  Check(Api().CreateMemoryInfo("Cuda", OrtDeviceAllocator, deviceId, OrtMemTypeDefault, &info));
  return MemoryInfoPtr(info);
}

namespace {

// Copies the tensor to host memory on the run pool, then calls back (error, buffer).
class DownloadTask : public CallbackTask {
 public:
  DownloadTask(std::shared_ptr<NativeDeviceTensor::State> state, Napi::ArrayBuffer buffer, Napi::Function callback)
      : CallbackTask(callback),
        state_(std::move(state)),
        target_(buffer.Data()),
        buffer_(Napi::Persistent(buffer.As<Napi::Object>())) {}

 private:
  void Run() override { state_->CopyToHost(target_); }
  Napi::Value Results(Napi::Env) override { return buffer_.Value(); }

  std::shared_ptr<NativeDeviceTensor::State> state_;
  void* target_;
  Napi::ObjectReference buffer_;
};

}  // namespace

NativeDeviceTensor::State::~State() {
  value.reset();
  if (ownMemory != nullptr) Cuda().Free(ownMemory);
}

void NativeDeviceTensor::State::CopyToHost(void* target) const {
  const CudaRuntime& cuda = Cuda();
  void* source = nullptr;
  Check(Api().GetTensorMutableData(value.get(), &source));
  cuda.Check(cuda.SetDevice(deviceId), "cudaSetDevice");
  cuda.Check(cuda.Memcpy(target, source, bytes, CudaRuntime::kDeviceToHost), "cudaMemcpy to the host");
}

bool IsDeviceValue(const OrtValue* value) {
  const OrtMemoryInfo* info = nullptr;
  Check(Api().GetTensorMemoryInfo(value, &info));
  const char* name = nullptr;
  Check(Api().MemoryInfoGetName(info, &name));
  return std::strcmp(name, "Cpu") != 0 && std::strcmp(name, "CudaPinned") != 0;
}

Napi::Function NativeDeviceTensor::Define(Napi::Env env) {
  return DefineClass(env, "NativeDeviceTensor",
                     {
                         InstanceMethod<&NativeDeviceTensor::JS_Info>("info"),
                         InstanceMethod<&NativeDeviceTensor::JS_Download>("download"),
                         InstanceMethod<&NativeDeviceTensor::JS_DownloadSync>("downloadSync"),
                         InstanceMethod<&NativeDeviceTensor::JS_Release>("release"),
                     });
}

NativeDeviceTensor::NativeDeviceTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDeviceTensor>(info) {
  state_ = AddonObjectState<State>(info, "device tensors are made by upload() or by a binding's outputs");
}

Napi::Object NativeDeviceTensor::Wrap(Napi::Env env, ValuePtr value, const TensorShape& shape,
                                      std::shared_ptr<SessionCore> owner) {
  size_t elementSize = ElementSize(env, shape.elementType);
  if (elementSize == 0) throw BindingError("NOT_IMPLEMENTED", "device tensors of this element type cannot be read");
  auto state = std::make_shared<State>();
  const OrtMemoryInfo* memory = nullptr;
  Check(Api().GetTensorMemoryInfo(value.get(), &memory));
  Check(Api().MemoryInfoGetId(memory, &state->deviceId));
  state->elementType = shape.elementType;
  state->dims.assign(shape.dims.data(), shape.dims.data() + shape.dims.size());
  state->bytes = shape.count * elementSize;
  state->value = std::move(value);
  state->owner = std::move(owner);
  return New(env, std::move(state));
}

Napi::Object NativeDeviceTensor::New(Napi::Env env, std::shared_ptr<State> state) {
  return NewAddonObject(AddonData::Of(env).deviceTensorClass, env, std::move(state));
}

const OrtValue* NativeDeviceTensor::ValueOf(Napi::Value object) {
  Napi::Env env = object.Env();
  if (!object.IsObject() || !object.As<Napi::Object>().InstanceOf(AddonData::Of(env).deviceTensorClass.Value())) {
    throw BindingError("INVALID_TENSOR", "not a device tensor");
  }
  return Unwrap(object.As<Napi::Object>())->Live(env).value.get();
}

const NativeDeviceTensor::State& NativeDeviceTensor::Live(Napi::Env) const {
  if (!state_) throw BindingError("SESSION_RELEASED", "the device tensor has been released");
  return *state_;
}

Napi::Value NativeDeviceTensor::JS_Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    const State& s = Live(env);
    Napi::Array dims = Napi::Array::New(env, s.dims.size());
    for (size_t d = 0; d < s.dims.size(); ++d) dims[static_cast<uint32_t>(d)] = static_cast<double>(s.dims[d]);
    Napi::Object out = Napi::Object::New(env);
    out.Set("elementType", s.elementType);
    out.Set("dims", dims);
    out.Set("deviceId", s.deviceId);
    out.Set("bytes", static_cast<double>(s.bytes));
    return out;
  });
}

void NativeDeviceTensor::JS_Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    Live(env);
    if (!info[0].IsFunction()) throw BindingError("INVALID_ARGUMENT", "download needs a callback");
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, state_->bytes);
    QueueOnPool(env, std::make_unique<DownloadTask>(state_, buffer, info[0].As<Napi::Function>()));
  });
}

Napi::Value NativeDeviceTensor::JS_DownloadSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    const State& s = Live(env);
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, s.bytes);
    s.CopyToHost(buffer.Data());
    return buffer;
  });
}

void NativeDeviceTensor::JS_Release(const Napi::CallbackInfo&) {
  // A download or run in flight holds the state; the memory goes with its last holder.
  state_.reset();
}

Napi::Value UploadToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    const CudaRuntime& cuda = Cuda();
    int type = info[0].ToNumber().Int32Value();
    Napi::Array dimsArray = info[1].As<Napi::Array>();
    std::vector<int64_t> dims(dimsArray.Length());
    for (uint32_t d = 0; d < dims.size(); ++d) dims[d] = dimsArray.Get(d).ToNumber().Int64Value();
    TypedArrayMemory host = ReadTensorMemory(env, type, dims.data(), dims.size(), info[2]);
    int deviceId = info[3].ToNumber().Int32Value();
    size_t bytes = host.bytes;

    auto state = std::make_shared<NativeDeviceTensor::State>();
    cuda.Check(cuda.SetDevice(deviceId), "cudaSetDevice");
    cuda.Check(cuda.Malloc(&state->ownMemory, bytes > 0 ? bytes : 1), "cudaMalloc");
    cuda.Check(cuda.Memcpy(state->ownMemory, host.data, bytes, CudaRuntime::kHostToDevice), "cudaMemcpy to the device");
    MemoryInfoPtr memory = CudaMemoryInfo(deviceId);
    OrtValue* value = nullptr;
    Check(Api().CreateTensorWithDataAsOrtValue(memory.get(), state->ownMemory, bytes, dims.data(), dims.size(),
                                               static_cast<ONNXTensorElementDataType>(type), &value));
    state->value.reset(value);
    state->deviceId = deviceId;
    state->elementType = type;
    state->dims = dims;
    state->bytes = bytes;
    return NativeDeviceTensor::New(env, std::move(state));
  });
}

Napi::Value AllocatePinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    const CudaRuntime& cuda = Cuda();
    size_t bytes = static_cast<size_t>(info[0].ToNumber().Int64Value());
    void* memory = nullptr;
    cuda.Check(cuda.MallocHost(&memory, bytes > 0 ? bytes : 1), "cudaMallocHost");
    return Napi::ArrayBuffer::New(env, memory, bytes, [](Napi::Env, void* p) { Cuda().FreeHost(p); });
  });
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), CudaUnavailableReason()); }

CudaStreamState::~CudaStreamState() {
  if (stream != nullptr) Cuda().StreamDestroy(stream);
}

Napi::Function NativeCudaStream::Define(Napi::Env env) {
  return DefineClass(env, "CudaStream",
                     {
                         InstanceAccessor<&NativeCudaStream::JS_Handle>("handle"),
                         InstanceMethod<&NativeCudaStream::JS_Synchronize>("synchronize"),
                         InstanceMethod<&NativeCudaStream::JS_Release>("release"),
                     });
}

NativeCudaStream::NativeCudaStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeCudaStream>(info) {
  Guard(info.Env(), [&] {
    const CudaRuntime& cuda = Cuda();
    int deviceId = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    cuda.Check(cuda.SetDevice(deviceId), "cudaSetDevice");
    auto state = std::make_shared<CudaStreamState>();
    cuda.Check(cuda.StreamCreateWithFlags(&state->stream, CudaRuntime::kStreamNonBlocking), "cudaStreamCreateWithFlags");
    state_ = std::move(state);
  });
}

std::shared_ptr<CudaStreamState> NativeCudaStream::StreamOf(Napi::Value object) {
  Napi::Env env = object.Env();
  if (!object.IsObject() || !object.As<Napi::Object>().InstanceOf(AddonData::Of(env).cudaStreamClass.Value())) {
    throw BindingError("INVALID_OPTION", "not a CudaStream");
  }
  NativeCudaStream* stream = Unwrap(object.As<Napi::Object>());
  if (!stream->state_) throw BindingError("SESSION_RELEASED", "the CUDA stream has been released");
  return stream->state_;
}

Napi::Value NativeCudaStream::JS_Handle(const Napi::CallbackInfo& info) {
  void* stream = state_ ? state_->stream : nullptr;
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(stream)));
}

void NativeCudaStream::JS_Synchronize(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    if (!state_) throw BindingError("SESSION_RELEASED", "the stream has been released");
    Cuda().Check(Cuda().StreamSynchronize(state_->stream), "cudaStreamSynchronize");
  });
}

void NativeCudaStream::JS_Release(const Napi::CallbackInfo&) {
  // Sessions created on the stream hold it too: it is destroyed after the last of them.
  state_.reset();
}

}  // namespace onnx_native
