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

// What a run's outputs send back besides JavaScript values: per output its element
// type, rank, dims and where its data is (see run_job.h), and the data of outputs small
// enough to travel inline, in 8-byte words.
struct OutputMeta {
  OutputMeta() { meta.push_back(0); }  // meta[0]: the meta's length, set by WriteTo

  SmallVector<double, 32> meta;
  SmallVector<double, 16> inlineWords;

  // How many doubles WriteTo writes.
  size_t Words() const { return meta.size() + inlineWords.size(); }
  // Writes the meta, its length first, then the inline data: Words() doubles.
  void WriteTo(double* target) const;
};

// An OrtValue of `elementType` and shape `dims[0..rank)` over `data`: a TypedArray whose
// memory the value borrows (the caller keeps the array alive while the value is in
// use), or, for strings, an array of JavaScript strings that is copied.
ValuePtr TensorFromJs(Napi::Env env, int elementType, const int64_t* dims, size_t rank, Napi::Value data);

// The memory of a TypedArray; throws INVALID_DTYPE if `data` is not one. JavaScript
// thread.
struct TypedArrayMemory {
  void* data;
  size_t bytes;

  // Whether `p` points into this memory.
  bool Holds(const void* p) const {
    return p >= data && static_cast<const uint8_t*>(p) < static_cast<const uint8_t*>(data) + bytes;
  }
};
TypedArrayMemory ReadTypedArray(Napi::Env env, Napi::Value data);

// The memory of `data`, a TypedArray that is to hold a tensor of `elementType` and shape
// `dims[0..rank)`. Throws INVALID_DTYPE if it is not a TypedArray (or the type has none),
// INVALID_SHAPE unless its byte length is exactly what the shape needs. lib/ checks the
// same in TypeScript, but there a TypedArray subclass can lie about its length: this is
// the check native memory relies on. JavaScript thread.
TypedArrayMemory ReadTensorMemory(Napi::Env env, int elementType, const int64_t* dims, size_t rank, Napi::Value data);

// An OrtValue of `elementType` and shape `dims[0..rank)` borrowing `memory`, as
// ReadTensorMemory checked it. Any thread: run() makes its inputs' values on the thread
// that runs them.
ValuePtr WrapMemory(int elementType, const int64_t* dims, size_t rank, TypedArrayMemory memory);

// A tensor's element type, dims and element count, as ONNX Runtime reports them.
struct TensorShape {
  int elementType;
  SmallVector<int64_t, 8> dims;
  size_t count;
};
TensorShape ReadTensorShape(const OrtValue* value);

// Appends `shape`'s element type, rank and dims to `out.meta`.
void AppendShapeMeta(const TensorShape& shape, OutputMeta& out);

// Bytes per element of `elementType` in lib/'s dtype table (AddonData::elementSizes); 0
// for types that have no JavaScript array (strings among them).
size_t ElementSize(const std::vector<size_t>& sizes, int elementType);
size_t ElementSize(Napi::Env env, int elementType);

// How outputs' data reaches JavaScript.
enum class OutputMemory {
  // Wrap ONNX Runtime's memory in an external ArrayBuffer when the output is large (no
  // copy; freed by a finalizer, which Node runs on a later turn of the event loop).
  kWrapLarge,
  // Always copy: for runSync(), whose callers may loop without ever letting finalizers
  // run, so that wrapped outputs would pile up (measured: 13x slower per call at 1 MiB).
  kCopy,
};

// Describes an output in `out`, on any thread: its element type and dims, then its
// numeric data inline if it takes at most 64 bytes, in which case `value` is released
// here. Otherwise `value` is left for OutputToJs. `elementSizes` as for ElementSize.
void DescribeOutput(ValuePtr& value, const std::vector<size_t>& elementSizes, OutputMeta& out);

// The data of an output DescribeOutput left, for JavaScript: strings as an array; under
// OutputMemory::kCopy, a copy in a new ArrayBuffer; otherwise an ArrayBuffer over the
// value's own memory, which then keeps `owner` (the session whose allocator may own
// that memory) alive until the buffer is collected.
napi_value OutputToJs(Napi::Env env, ValuePtr value, const std::shared_ptr<SessionCore>& owner, OutputMemory memory);

// The data of a tensor OrtValue (null for an empty one).
const void* TensorData(const OrtValue* value);

}  // namespace onnx_native
