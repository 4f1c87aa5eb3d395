// A loaded model: the native half of lib/runtime/session.ts's Session.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "model_info.h"
#include "ort_api.h"

namespace onnx_native {

// What a session's runs share. Held by the JavaScript object, by every run in flight
// and by every output buffer whose memory the session's allocator may own, so that
// release() never frees memory still in use: the OrtSession goes with the last holder.
// Immutable once built, so it is safe to share across threads.
struct SessionCore {
  // What the session uses and must outlive it (the CUDA streams it runs on); declared
  // first, so released after the session.
  std::vector<std::shared_ptr<void>> keepAlive;
  SessionPtr session;
  ModelInfo info;
  std::vector<const char*> inputNames;   // point into info
  std::vector<const char*> outputNames;  // point into info
};

// JavaScript: createSession(model: string | Uint8Array, options) resolves to
// { session: NativeSession, info: ModelInfo }. Loading runs off the JavaScript thread.
Napi::Value CreateSession(const Napi::CallbackInfo& info);

// JavaScript: attachSession(id) => { session: NativeSession, info: ModelInfo,
// abortsOnEmpty: string } for the session another thread shared (shared_sessions.h).
Napi::Value AttachSession(const Napi::CallbackInfo& info);

// JavaScript: run(data, callback, runOptions?), calling callback(error, results) later;
// runSync(data, runOptions?) => results; release(); endProfiling() => path;
// share(abortsOnEmpty) => a number other threads attach by; createBinding() =>
// NativeIoBinding (io_binding.h).
// The rest of each call is in the run header; see run_job.h.
class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeSession(const Napi::CallbackInfo& info);

 private:
  void JS_Run(const Napi::CallbackInfo& info);
  Napi::Value JS_RunSync(const Napi::CallbackInfo& info);
  void JS_Release(const Napi::CallbackInfo& info);
  Napi::Value JS_EndProfiling(const Napi::CallbackInfo& info);
  Napi::Value JS_Share(const Napi::CallbackInfo& info);
  Napi::Value JS_CreateBinding(const Napi::CallbackInfo& info);
  const std::shared_ptr<SessionCore>& Core(Napi::Env env) const;

  std::shared_ptr<SessionCore> core_;  // null once released
};

}  // namespace onnx_native
