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
#include "small_vector.h"

namespace onnx_native {

struct SessionCore;

// Element type, rank and dims of each output, flattened, on their way to lib/.
using MetaList = SmallVector<double, 32>;

// An OrtValue of `elementType` and shape `dims[0..rank)` over `data`: a TypedArray whose
// memory the value borrows (the caller keeps the array alive while the value is in
// use), or, for strings, an array of JavaScript strings that is copied.
ValuePtr TensorFromJs(Napi::Env env, int elementType, const int64_t* dims, size_t rank, Napi::Value data);

// The data of `value` for JavaScript; appends its element type, rank and dims to `meta`.
// Numeric data is an ArrayBuffer: over the value's own memory, which then keeps `owner`
// (the session whose allocator may own that memory) alive until the buffer is
// collected; or, for small outputs, a copy (see kCopyUpToBytes).
Napi::Value TensorToJs(Napi::Env env, ValuePtr value, const std::shared_ptr<SessionCore>& owner, MetaList& meta);

}  // namespace onnx_native
