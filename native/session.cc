#include "session.h"

#include <string>

#include "addon_data.h"
#include "addon_object.h"
#include "io_binding.h"
#include "run_job.h"
#include "run_options.h"
#include "run_pool.h"
#include "runtime.h"
#include "session_options.h"
#include "session_thread.h"
#include "shared_sessions.h"

namespace onnx_native {
namespace {

// { session, info }: what createSession and attachSession give lib/ for a session.
Napi::Object SessionAndInfo(Napi::Env env, std::shared_ptr<SessionCore> core) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("session", NewAddonObject(AddonData::Of(env).sessionClass, env, core));
  result.Set("info", ModelInfoToJs(env, core->info));
  return result;
}

// Loads a model on the session thread (session_thread.h): CreateSession can take seconds
// (graph optimization, weight prepacking), far too long for the JavaScript thread, and
// on the run pool it would hold up runs. The session is destroyed on that thread too.
class LoadTask : public PromiseTask {
 public:
  LoadTask(Napi::Env env, Napi::Value model, SessionOptionsSpec options)
      : PromiseTask(env), spec_(std::move(options)) {
    if (model.IsString()) {
      path_ = model.As<Napi::String>().Utf8Value();
    } else if (model.IsTypedArray() && model.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array bytes = model.As<Napi::Uint8Array>();
      fromBytes_ = true;
      bytes_ = bytes.Data();
      length_ = bytes.ByteLength();
      model_ = Napi::Persistent(model.As<Napi::Object>());  // read by Run
    } else {
      throw BindingError("INVALID_ARGUMENT", "model must be a path or a Uint8Array");
    }
  }

 protected:
  void Run() override {
    WorkInProgress working;  // the process's exit waits for the load
    const Runtime& runtime = CurrentRuntime();
    built_ = BuildSessionOptions(spec_);
    OrtSession* raw = nullptr;
    if (fromBytes_) {
      Check(Api().CreateSessionFromArray(runtime.env, bytes_, length_, built_.options.get(), &raw));
    } else {
      Check(Api().CreateSession(runtime.env, ToOrtPath(path_).c_str(), built_.options.get(), &raw));
    }
    // Whoever holds the last reference (the JavaScript object, a run, an output's
    // finalizer), the session goes where it was made.
    std::shared_ptr<SessionCore> core(std::make_unique<SessionCore>().release(), [](SessionCore* dead) {
      ReleaseOnSessionThread([dead] { std::unique_ptr<SessionCore> owned(dead); });
    });
    core->keepAlive = spec_.keepAlive;
    core->session.reset(raw);
    core->info = ReadModelInfo(raw);
    for (const ValueInfo& v : core->info.inputs) core->inputNames.push_back(v.name.c_str());
    for (const ValueInfo& v : core->info.outputs) core->outputNames.push_back(v.name.c_str());
    core_ = std::move(core);
  }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object result = SessionAndInfo(env, core_);
    Napi::Object info = result.Get("info").As<Napi::Object>();
    Napi::Array providers = Napi::Array::New(env, built_.providers.size());
    for (size_t i = 0; i < built_.providers.size(); ++i) providers[static_cast<uint32_t>(i)] = built_.providers[i];
    info.Set("providers", providers);
    Napi::Array skipped = Napi::Array::New(env, built_.skippedProviders.size());
    for (size_t i = 0; i < built_.skippedProviders.size(); ++i) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("provider", built_.skippedProviders[i].first);
      entry.Set("reason", built_.skippedProviders[i].second);
      skipped[static_cast<uint32_t>(i)] = entry;
    }
    info.Set("skippedProviders", skipped);
    return result;
  }

 private:
  SessionOptionsSpec spec_;
  BuiltSessionOptions built_;
  std::string path_;
  Napi::ObjectReference model_;
  bool fromBytes_ = false;
  const void* bytes_ = nullptr;
  size_t length_ = 0;
  std::shared_ptr<SessionCore> core_;
};

}  // namespace

Napi::Value CreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    CurrentRuntime();  // fail here, on the caller's stack, if nothing is loaded
    if (!info[1].IsObject()) throw BindingError("INVALID_ARGUMENT", "options must be an object");
    return QueueOnSessionThread(env, std::make_unique<LoadTask>(env, info[0], ReadSessionOptions(info[1].As<Napi::Object>())));
  });
}

Napi::Value AttachSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    // Checked before the cast: a double out of uint64_t's range (NaN, 1e300) casts to
    // anything at all.
    if (!(id >= 1 && id <= 9007199254740991.0 && id == static_cast<double>(static_cast<uint64_t>(id)))) {
      throw BindingError("INVALID_ARGUMENT", "attachSession takes the number share() returned");
    }
    SharedSession shared = FindSharedSession(static_cast<uint64_t>(id));
    Napi::Object result = SessionAndInfo(env, std::move(shared.core));
    result.Set("abortsOnEmpty", shared.abortsOnEmpty);
    return result;
  });
}

Napi::Function NativeSession::Define(Napi::Env env) {
  return DefineClass(env, "NativeSession",
                     {
                         InstanceMethod<&NativeSession::JS_Run>("run"),
                         InstanceMethod<&NativeSession::JS_RunSync>("runSync"),
                         InstanceMethod<&NativeSession::JS_Release>("release"),
                         InstanceMethod<&NativeSession::JS_EndProfiling>("endProfiling"),
                         InstanceMethod<&NativeSession::JS_Share>("share"),
                         InstanceMethod<&NativeSession::JS_CreateBinding>("createBinding"),
                     });
}

NativeSession::NativeSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSession>(info) {
  core_ = AddonObjectState<SessionCore>(info, "sessions are made by createSession()");
}

const std::shared_ptr<SessionCore>& NativeSession::Core(Napi::Env) const {
  if (!core_) throw BindingError("SESSION_RELEASED", "the session has been released");
  return core_;
}

void NativeSession::JS_Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    if (!info[1].IsFunction()) throw BindingError("INVALID_ARGUMENT", "run needs a callback");
    auto job = std::make_unique<RunJob>(env, Core(env), info[0], RunOptions::From(info[2]));
    QueueRun(env, std::move(job), info[0], info[1].As<Napi::Function>());
  });
}

Napi::Value NativeSession::JS_RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    RunJob job(env, Core(env), info[0], RunOptions::From(info[1]));
    {
      WorkInProgress working;
      job.Execute();
    }
    return job.Results(env, OutputMemory::kCopy);
  });
}

Napi::Value NativeSession::JS_Share(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string abortsOnEmpty = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    return Napi::Number::New(env, static_cast<double>(ShareSession(Core(env), std::move(abortsOnEmpty))));
  });
}

Napi::Value NativeSession::JS_CreateBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value { return NativeIoBinding::Create(env, Core(env)); });
}

void NativeSession::JS_Release(const Napi::CallbackInfo&) {
  // Runs in flight and live output buffers hold their own references; the last one
  // dropped queues the session's destruction on the session thread.
  core_.reset();
}

Napi::Value NativeSession::JS_EndProfiling(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    char* path = nullptr;
    Check(Api().SessionEndProfiling(Core(env)->session.get(), DefaultAllocator(), &path));
    return Napi::String::New(env, TakeAllocatedString(path));
  });
}

}  // namespace onnx_native
