#include "run_options.h"

#include <string>

#include "addon_data.h"

namespace onnx_native {

Napi::Function RunOptions::Define(Napi::Env env) {
  return DefineClass(env, "RunOptions", {InstanceMethod<&RunOptions::JS_Terminate>("terminate")});
}

RunOptions::RunOptions(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RunOptions>(info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    OrtRunOptions* raw = nullptr;
    Check(Api().CreateRunOptions(&raw));
    options_ = std::shared_ptr<OrtRunOptions>(raw, RunOptionsDeleter());
    if (info[0].IsNumber()) Check(Api().RunOptionsSetRunLogSeverityLevel(raw, info[0].As<Napi::Number>().Int32Value()));
    if (info[1].IsString()) Check(Api().RunOptionsSetRunTag(raw, info[1].As<Napi::String>().Utf8Value().c_str()));
    if (info[2].IsArray()) {
      Napi::Array entries = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < entries.Length(); ++i) {
        Napi::Array pair = entries.Get(i).As<Napi::Array>();
        std::string key = pair.Get(0u).ToString().Utf8Value();
        std::string value = pair.Get(1u).ToString().Utf8Value();
        Check(Api().AddRunConfigEntry(raw, key.c_str(), value.c_str()));
      }
    }
  });
}

std::shared_ptr<OrtRunOptions> RunOptions::From(Napi::Value value) {
  if (value.IsEmpty() || value.IsUndefined()) return nullptr;
  Napi::FunctionReference& cls = AddonData::Of(value.Env()).runOptionsClass;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(cls.Value())) {
    throw BindingError("INVALID_ARGUMENT", "runOptions must be a RunOptions object");
  }
  return Unwrap(value.As<Napi::Object>())->options_;
}

void RunOptions::JS_Terminate(const Napi::CallbackInfo& info) {
  // Sets an atomic flag that the running graph checks between kernels.
  Guard(info.Env(), [&] { Check(Api().RunOptionsSetTerminate(options_.get())); });
}

}  // namespace onnx_native
