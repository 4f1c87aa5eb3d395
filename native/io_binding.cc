#include "io_binding.h"

#include "addon_data.h"
#include "addon_object.h"
#include "device_tensor.h"
#include "run_options.h"
#include "run_pool.h"
#include "runtime.h"
#include "session.h"
#include "small_vector.h"
#include "tensor.h"

namespace onnx_native {
namespace {

const char* NameAt(const SessionCore& core, Napi::Value index, bool input) {
  const auto& names = input ? core.inputNames : core.outputNames;
  double i = index.IsNumber() ? index.As<Napi::Number>().DoubleValue() : -1;
  if (!(i >= 0 && i < static_cast<double>(names.size()))) {
    throw BindingError(input ? "INVALID_INPUT_NAME" : "INVALID_OUTPUT_NAME", "no such input or output");
  }
  return names[static_cast<size_t>(i)];
}

ValuePtr TensorFromArgs(const Napi::CallbackInfo& info) {
  Napi::Value dimsValue = info[2];
  if (!dimsValue.IsArray()) throw BindingError("INVALID_SHAPE", "dims must be an array");
  Napi::Array dimsArray = dimsValue.As<Napi::Array>();
  SmallVector<int64_t, 8> dims;
  for (uint32_t d = 0; d < dimsArray.Length(); ++d) dims.push_back(dimsArray.Get(d).ToNumber().Int64Value());
  return TensorFromJs(info.Env(), info[1].ToNumber().Int32Value(), dims.data(), dims.size(), info[3]);
}

// RunWithBinding with `control`, or the calling thread's when null; throws ABORTED
// without running when the run was cancelled first. Any thread.
void RunBinding(const SessionCore& core, OrtIoBinding* binding, RunControl* control) {
  RunControl& use = control != nullptr ? *control : ThreadRunControl();
  if (!use.Start()) throw BindingError("ABORTED", "the run was cancelled before it started");
  Check(Api().RunWithBinding(core.session.get(), use.options(), binding));
}

// RunWithBinding on the pool; calls back (error) on the JavaScript thread.
class BindingRunTask : public CallbackTask {
 public:
  BindingRunTask(std::shared_ptr<SessionCore> core, std::shared_ptr<void> keepBinding, OrtIoBinding* binding,
                 std::shared_ptr<RunControl> control, Napi::Function callback)
      : CallbackTask(callback),
        core_(std::move(core)),
        keepBinding_(std::move(keepBinding)),
        binding_(binding),
        control_(std::move(control)) {}

 private:
  void Run() override { RunBinding(*core_, binding_, control_.get()); }

  std::shared_ptr<SessionCore> core_;
  std::shared_ptr<void> keepBinding_;
  OrtIoBinding* binding_;
  std::shared_ptr<RunControl> control_;
};

}  // namespace

Napi::Function NativeIoBinding::Define(Napi::Env env) {
  return DefineClass(env, "NativeIoBinding",
                     {
                         InstanceMethod<&NativeIoBinding::JS_BindInput>("bindInput"),
                         InstanceMethod<&NativeIoBinding::JS_BindOutput>("bindOutput"),
                         InstanceMethod<&NativeIoBinding::JS_BindOutputToHost>("bindOutputToHost"),
                         InstanceMethod<&NativeIoBinding::JS_BindInputDevice>("bindInputDevice"),
                         InstanceMethod<&NativeIoBinding::JS_BindOutputToDevice>("bindOutputToDevice"),
                         InstanceMethod<&NativeIoBinding::JS_Run>("run"),
                         InstanceMethod<&NativeIoBinding::JS_RunSync>("runSync"),
                         InstanceMethod<&NativeIoBinding::JS_Outputs>("outputs"),
                         InstanceMethod<&NativeIoBinding::JS_ClearInputs>("clearInputs"),
                         InstanceMethod<&NativeIoBinding::JS_ClearOutputs>("clearOutputs"),
                         InstanceMethod<&NativeIoBinding::JS_Release>("release"),
                     });
}

NativeIoBinding::NativeIoBinding(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeIoBinding>(info) {
  auto core = AddonObjectState<SessionCore>(info, "bindings are made by session.createBinding()");
  Guard(info.Env(), [&] {
    OrtIoBinding* raw = nullptr;
    Check(Api().CreateIoBinding(core->session.get(), &raw));
    state_ = std::make_shared<State>(State{std::move(core), IoBindingPtr(raw)});
  });
}

Napi::Object NativeIoBinding::Create(Napi::Env env, std::shared_ptr<SessionCore> core) {
  return NewAddonObject(AddonData::Of(env).ioBindingClass, env, std::move(core));
}

OrtIoBinding* NativeIoBinding::Binding(Napi::Env) const {
  if (!state_) throw BindingError("SESSION_RELEASED", "the binding has been released");
  return state_->binding.get();
}

// bindInput and bindOutput: a tensor over the caller's array.
void NativeIoBinding::BindTensor(const Napi::CallbackInfo& info, bool input) {
  Guard(info.Env(), [&] {
    OrtIoBinding* binding = Binding(info.Env());
    const char* name = NameAt(*state_->core, info[0], input);
    ValuePtr value = TensorFromArgs(info);
    // ONNX Runtime keeps its own reference to the value; the array it borrows stays
    // referenced here until something else is bound under the name, or all is cleared.
    Check(input ? Api().BindInput(binding, name, value.get()) : Api().BindOutput(binding, name, value.get()));
    if (info[3].IsObject()) (input ? borrowedInputs_ : borrowedOutputs_)[name] = Napi::Persistent(info[3].As<Napi::Object>());
  });
}

void NativeIoBinding::JS_BindInput(const Napi::CallbackInfo& info) { BindTensor(info, true); }

void NativeIoBinding::JS_BindOutput(const Napi::CallbackInfo& info) { BindTensor(info, false); }

void NativeIoBinding::JS_BindOutputToHost(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    OrtIoBinding* binding = Binding(info.Env());
    const char* name = NameAt(*state_->core, info[0], false);
    Check(Api().BindOutputToDevice(binding, name, CurrentRuntime().cpuMemory));
    borrowedOutputs_.erase(name);
  });
}

void NativeIoBinding::JS_BindInputDevice(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    OrtIoBinding* binding = Binding(info.Env());
    const char* name = NameAt(*state_->core, info[0], true);
    Check(Api().BindInput(binding, name, NativeDeviceTensor::ValueOf(info[1])));
    borrowedInputs_[name] = Napi::Persistent(info[1].As<Napi::Object>());
  });
}

void NativeIoBinding::JS_BindOutputToDevice(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    OrtIoBinding* binding = Binding(info.Env());
    const char* name = NameAt(*state_->core, info[0], false);
    MemoryInfoPtr memory = CudaMemoryInfo(info[1].ToNumber().Int32Value());
    Check(Api().BindOutputToDevice(binding, name, memory.get()));
    borrowedOutputs_.erase(name);
  });
}

void NativeIoBinding::JS_Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    OrtIoBinding* binding = Binding(env);
    if (!info[0].IsFunction()) throw BindingError("INVALID_ARGUMENT", "run needs a callback");
    QueueOnPool(env, std::make_unique<BindingRunTask>(state_->core, state_, binding, RunOptions::From(info[1]),
                                                      info[0].As<Napi::Function>()));
  });
}

void NativeIoBinding::JS_RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    OrtIoBinding* binding = Binding(env);
    std::shared_ptr<RunControl> control = RunOptions::From(info[0]);
    WorkInProgress working;
    RunBinding(*state_->core, binding, control.get());
  });
}

Napi::Value NativeIoBinding::JS_Outputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    OrtIoBinding* binding = Binding(env);
    const OrtApi& api = Api();
    OrtAllocator* allocator = DefaultAllocator();

    char* nameBuffer = nullptr;
    size_t* lengths = nullptr;
    size_t count = 0;
    Check(api.GetBoundOutputNames(binding, allocator, &nameBuffer, &lengths, &count));
    Napi::Array names = Napi::Array::New(env, count);
    for (size_t i = 0, at = 0; i < count; at += lengths[i], ++i) {
      names[static_cast<uint32_t>(i)] = Napi::String::New(env, nameBuffer + at, lengths[i]);
    }
    FreeAllocated(nameBuffer);
    FreeAllocated(lengths);

    OrtValue** values = nullptr;
    size_t valueCount = 0;
    Check(api.GetBoundOutputValues(binding, allocator, &values, &valueCount));
    // Own every value at once, so that none leaks if converting an earlier one throws.
    std::vector<ValuePtr> owned(values, values + valueCount);
    FreeAllocated(values);

    // The arrays of the bound host inputs: a graph output that is a graph input comes
    // back over one of them, which the caller may drop or rebind once this returns.
    SmallVector<TypedArrayMemory, 4> inputs;
    for (const auto& [name, array] : borrowedInputs_) {
      if (array.Value().IsTypedArray()) inputs.push_back(ReadTypedArray(env, array.Value()));
    }
    auto borrowsInput = [&](const void* data) {
      for (size_t k = 0; k < inputs.size(); ++k) {
        if (inputs[k].Holds(data)) return true;
      }
      return false;
    };

    Napi::Array results = Napi::Array::New(env, valueCount + 2);
    results[0u] = names;
    OutputMeta out;
    const std::vector<size_t>& elementSizes = AddonData::Of(env).elementSizes;
    for (size_t i = 0; i < valueCount; ++i) {
      if (IsDeviceValue(owned[i].get())) {
        // In GPU memory: a device tensor, marked -2 where host data would say where it is.
        TensorShape shape = ReadTensorShape(owned[i].get());
        AppendShapeMeta(shape, out);
        out.meta.push_back(-2);
        results[static_cast<uint32_t>(i + 2)] = NativeDeviceTensor::Wrap(env, std::move(owned[i]), shape, state_->core);
        continue;
      }
      DescribeOutput(owned[i], elementSizes, out);
      if (!owned[i]) continue;  // its data went inline
      OutputMemory memory = borrowsInput(TensorData(owned[i].get())) ? OutputMemory::kCopy : OutputMemory::kWrapLarge;
      results[static_cast<uint32_t>(i + 2)] = Napi::Value(env, OutputToJs(env, std::move(owned[i]), state_->core, memory));
    }
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, out.Words() * sizeof(double));
    out.WriteTo(static_cast<double*>(buffer.Data()));
    results[1u] = Napi::Float64Array::New(env, out.Words(), buffer, 0);
    return results;
  });
}

void NativeIoBinding::JS_ClearInputs(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    Api().ClearBoundInputs(Binding(info.Env()));
    borrowedInputs_.clear();
  });
}

void NativeIoBinding::JS_ClearOutputs(const Napi::CallbackInfo& info) {
  Guard(info.Env(), [&] {
    Api().ClearBoundOutputs(Binding(info.Env()));
    borrowedOutputs_.clear();
  });
}

void NativeIoBinding::JS_Release(const Napi::CallbackInfo&) {
  // A run in flight holds the state; the arrays it reads stay referenced by lib/'s
  // IoBinding until that run settles.
  state_.reset();
  borrowedInputs_.clear();
  borrowedOutputs_.clear();
}

}  // namespace onnx_native
