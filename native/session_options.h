// OrtSessionOptions from the plain object lib/options.ts builds (already validated there).
#pragma once

#include <napi.h>

#include "ort_api.h"

namespace onnx_native {

// Reads lib/options.ts's NativeSessionOptions. Runs on the JavaScript thread; the
// object is one lib/ made itself, so no user getter runs in here.
SessionOptionsPtr BuildSessionOptions(const Napi::Object& options);

}  // namespace onnx_native
