// Tensors crossing between JavaScript and ONNX Runtime.
//
// Inputs and caller-provided outputs wrap the caller's TypedArray memory: no copy.
// Outputs that ONNX Runtime allocates come back as external ArrayBuffers over that
// memory, freed by the buffer's finalizer. Strings are the one copy that cannot be
// avoided: JavaScript strings are UTF-16 and ONNX Runtime's are std::string.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ort_api.h"

namespace onnx_native {

struct SessionCore;

// Reads a dims array of non-negative integers (lib/ has validated it).
std::vector<int64_t> DimsFromJs(Napi::Value dims);

// An OrtValue of `elementType` and `dims` over `data`: a TypedArray whose memory the
// value borrows (the caller keeps the array alive while the value is in use), or, for
// strings, an array of JavaScript strings that is copied.
ValuePtr TensorFromJs(Napi::Env env, int elementType, const std::vector<int64_t>& dims, Napi::Value data);

// Writes [elementType, dims, data] of `value` into out[at..at+2]. Numeric data is an
// ArrayBuffer over the value's own memory, which keeps `owner` (the session whose
// allocator may own that memory) alive until the buffer is collected.
void TensorToJs(Napi::Env env, ValuePtr value, const std::shared_ptr<SessionCore>& owner, Napi::Array out,
                uint32_t at);

}  // namespace onnx_native
