#include "run_options.h"

#include <mutex>
#include <string>

#include "addon_data.h"

namespace onnx_native {
namespace {

// Every live RunControl, linked through their previous_/next_, so that the process's exit
// can stop them all. Never destroyed: controls of threads still running unlink
// themselves during the process's teardown.
struct Controls {
  std::mutex mutex;
  RunControl* first = nullptr;
};

Controls& LiveControls() {
  static Controls* controls = std::make_unique<Controls>().release();
  return *controls;
}

}  // namespace

RunControl::RunControl() {
  OrtRunOptions* raw = nullptr;
  Check(Api().CreateRunOptions(&raw));
  options_.reset(raw);
  Controls& live = LiveControls();
  std::lock_guard<std::mutex> lock(live.mutex);
  next_ = live.first;
  if (next_ != nullptr) next_->previous_ = this;
  live.first = this;
}

RunControl::~RunControl() {
  Controls& live = LiveControls();
  std::lock_guard<std::mutex> lock(live.mutex);
  (previous_ != nullptr ? previous_->next_ : live.first) = next_;
  if (next_ != nullptr) next_->previous_ = previous_;
}

bool RunControl::Start() {
  // Sequentially consistent, with Cancel's mirror image: of a Start and a Cancel that
  // race, at least one sees the other, so a run is never both started and told it never
  // will be.
  started_.store(true);
  return !cancelled_.load();
}

bool RunControl::Cancel() {
  cancelled_.store(true);
  bool before = !started_.load();
  Check(Api().RunOptionsSetTerminate(options_.get()));
  return before;
}

RunControl& ThreadRunControl() {
  thread_local RunControl control;
  return control;
}

void TerminateAllRuns() {
  Controls& live = LiveControls();
  std::lock_guard<std::mutex> lock(live.mutex);
  for (RunControl* c = live.first; c != nullptr; c = c->next_) {
    c->cancelled_.store(true);
    // Cannot fail (it sets a flag); at exit there is no one to tell anyway.
    if (OrtStatus* status = Api().RunOptionsSetTerminate(c->options_.get())) Api().ReleaseStatus(status);
  }
}

Napi::Function RunOptions::Define(Napi::Env env) {
  return DefineClass(env, "RunOptions", {InstanceMethod<&RunOptions::JS_Terminate>("terminate")});
}

RunOptions::RunOptions(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RunOptions>(info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    control_ = std::make_shared<RunControl>();
    OrtRunOptions* raw = control_->options();
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

std::shared_ptr<RunControl> RunOptions::From(Napi::Value value) {
  if (value.IsEmpty() || value.IsUndefined()) return nullptr;
  Napi::FunctionReference& cls = AddonData::Of(value.Env()).runOptionsClass;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(cls.Value())) {
    throw BindingError("INVALID_ARGUMENT", "runOptions must be a RunOptions object");
  }
  return Unwrap(value.As<Napi::Object>())->control_;
}

Napi::Value RunOptions::JS_Terminate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value { return Napi::Boolean::New(env, control_->Cancel()); });
}

}  // namespace onnx_native
