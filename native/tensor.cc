#include "tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "addon_data.h"
#include "runtime.h"
#include "session_thread.h"

namespace onnx_native {
namespace {

size_t TypedArrayElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 2;  // napi_float16_array, which only newer headers declare
  }
}

// run() wraps outputs larger than this (and than kInlineUpToBytes) rather than copying
// them. The default, 0, wraps them all: outputs over memory ONNX Runtime allocated are
// the zero-copy promise, and a copy would be work on the JavaScript thread (about 1 ms
// for 4 MiB). ONNX_NATIVE_COPY_OUTPUTS_UP_TO (bytes) sets another size, which is how
// bench/output-copy.ts measures copying against wrapping.
size_t CopyUpToBytes() {
  static const size_t bytes = [] {
    const char* value = std::getenv("ONNX_NATIVE_COPY_OUTPUTS_UP_TO");
    return value != nullptr ? static_cast<size_t>(std::strtoull(value, nullptr, 10)) : size_t{0};
  }();
  return bytes;
}

// Outputs up to this size travel inside the run header and lib/ copies them into a new
// TypedArray, which V8 then keeps on its own heap: no backing store at all.
constexpr size_t kInlineUpToBytes = 64;

// What an output ArrayBuffer's finalizer frees: the OrtValue, and with it the last
// reference to the session when the session was released before the buffer died.
struct OutputOwner {
  ValuePtr value;
  std::shared_ptr<SessionCore> session;
  int64_t bytes;
};

// A new ArrayBuffer holding a copy of `bytes` bytes at `data`. Through a Node Buffer:
// napi_create_arraybuffer would zero the memory first, a second pass over it.
napi_value CopyToArrayBuffer(Napi::Env env, const void* data, size_t bytes) {
  napi_value buffer;
  napi_value arrayBuffer;
  void* copy = nullptr;
  if (napi_create_buffer_copy(env, bytes, data, &copy, &buffer) != napi_ok ||
      napi_get_typedarray_info(env, buffer, nullptr, nullptr, nullptr, &arrayBuffer, nullptr) != napi_ok) {
    throw BindingError("FAIL", "cannot allocate " + std::to_string(bytes) + " bytes for an output");
  }
  return arrayBuffer;
}

// `elementSize` times the element count of dims[0..rank); nothing if a dim is negative
// or the size overflows.
std::optional<size_t> SizeOf(const int64_t* dims, size_t rank, size_t elementSize) {
  size_t size = elementSize;
  for (size_t d = 0; d < rank; ++d) {
    if (dims[d] < 0) return std::nullopt;
    size_t dim = static_cast<size_t>(dims[d]);
    if (dim != 0 && size > SIZE_MAX / dim) return std::nullopt;
    size *= dim;
  }
  return size;
}

std::string ShapeText(const int64_t* dims, size_t rank) {
  std::string text;
  for (size_t d = 0; d < rank; ++d) text += (d > 0 ? ", " : "") + std::to_string(dims[d]);
  return text;
}

ValuePtr EmptyTensor(int elementType, const int64_t* dims, size_t rank) {
  OrtValue* value = nullptr;
  Check(Api().CreateTensorAsOrtValue(DefaultAllocator(), dims, rank,
                                     static_cast<ONNXTensorElementDataType>(elementType), &value));
  return ValuePtr(value);
}

}  // namespace

ValuePtr TensorFromJs(Napi::Env env, int elementType, const int64_t* dims, size_t rank, Napi::Value data) {
  if (elementType == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
    if (!data.IsArray()) throw BindingError("INVALID_DTYPE", "string tensors take an array of strings");
    Napi::Array array = data.As<Napi::Array>();
    std::optional<size_t> count = SizeOf(dims, rank, 1);
    if (count != array.Length()) {
      throw BindingError("INVALID_SHAPE", "dims [" + ShapeText(dims, rank) + "] do not hold the " +
                                              std::to_string(array.Length()) + " strings of the array");
    }
    std::vector<std::string> strings(array.Length());
    std::vector<const char*> pointers(strings.size());
    for (uint32_t i = 0; i < strings.size(); ++i) {
      Napi::Value s = array.Get(i);
      if (!s.IsString()) throw BindingError("INVALID_DTYPE", "string tensors take an array of strings");
      strings[i] = s.As<Napi::String>().Utf8Value();
      pointers[i] = strings[i].c_str();
    }
    ValuePtr value = EmptyTensor(elementType, dims, rank);
    Check(Api().FillStringTensor(value.get(), pointers.data(), pointers.size()));
    return value;
  }

  return WrapMemory(elementType, dims, rank, ReadTensorMemory(env, elementType, dims, rank, data));
}

TypedArrayMemory ReadTypedArray(Napi::Env env, Napi::Value data) {
  napi_typedarray_type arrayType;
  size_t length = 0;
  void* pointer = nullptr;
  if (napi_get_typedarray_info(env, data, &arrayType, &length, &pointer, nullptr, nullptr) != napi_ok) {
    throw BindingError("INVALID_DTYPE", "tensor data must be a TypedArray");
  }
  return {pointer, length * TypedArrayElementSize(arrayType)};
}

TypedArrayMemory ReadTensorMemory(Napi::Env env, int elementType, const int64_t* dims, size_t rank, Napi::Value data) {
  TypedArrayMemory memory = ReadTypedArray(env, data);
  size_t elementSize = ElementSize(env, elementType);
  if (elementSize == 0) {
    throw BindingError("INVALID_DTYPE", "element type " + std::to_string(elementType) + " has no TypedArray");
  }
  std::optional<size_t> bytes = SizeOf(dims, rank, elementSize);
  if (bytes != memory.bytes) {
    throw BindingError("INVALID_SHAPE", "dims [" + ShapeText(dims, rank) + "] of element type " +
                                            std::to_string(elementType) + " need " +
                                            (bytes ? std::to_string(*bytes) : "more") +
                                            " bytes of data; the array holds " + std::to_string(memory.bytes));
  }
  return memory;
}

ValuePtr WrapMemory(int elementType, const int64_t* dims, size_t rank, TypedArrayMemory memory) {
  // An empty tensor (ReadTensorMemory: bytes are 0 exactly when an element count is 0)
  // needs no memory, and its array may have none at all: ONNX Runtime rejects a null
  // data pointer.
  if (memory.bytes == 0) return EmptyTensor(elementType, dims, rank);
  OrtValue* value = nullptr;
  Check(Api().CreateTensorWithDataAsOrtValue(CurrentRuntime().cpuMemory, memory.data, memory.bytes, dims, rank,
                                             static_cast<ONNXTensorElementDataType>(elementType), &value));
  return ValuePtr(value);
}

void OutputMeta::WriteTo(double* target) const {
  std::memcpy(target, meta.data(), meta.size() * sizeof(double));
  target[0] = static_cast<double>(meta.size());
  if (inlineWords.size() > 0) std::memcpy(target + meta.size(), inlineWords.data(), inlineWords.size() * sizeof(double));
}

TensorShape ReadTensorShape(const OrtValue* value) {
  // lib/ asks only for outputs the model declares as tensors; were one something else,
  // GetTensorTypeAndShape would fail with a clear status.
  const OrtApi& api = Api();
  OrtTensorTypeAndShapeInfo* rawInfo = nullptr;
  Check(api.GetTensorTypeAndShape(value, &rawInfo));
  TensorTypeAndShapeInfoPtr info(rawInfo);
  TensorShape shape{};
  ONNXTensorElementDataType elementType;
  Check(api.GetTensorElementType(rawInfo, &elementType));
  shape.elementType = elementType;
  size_t rank = 0;
  Check(api.GetDimensionsCount(rawInfo, &rank));
  for (size_t d = 0; d < rank; ++d) shape.dims.push_back(0);
  Check(api.GetDimensions(rawInfo, shape.dims.data(), rank));
  Check(api.GetTensorShapeElementCount(rawInfo, &shape.count));
  return shape;
}

void AppendShapeMeta(const TensorShape& shape, OutputMeta& out) {
  out.meta.push_back(shape.elementType);
  out.meta.push_back(static_cast<double>(shape.dims.size()));
  for (size_t d = 0; d < shape.dims.size(); ++d) out.meta.push_back(static_cast<double>(shape.dims[d]));
}

size_t ElementSize(const std::vector<size_t>& sizes, int elementType) {
  return elementType >= 0 && static_cast<size_t>(elementType) < sizes.size() ? sizes[elementType] : 0;
}

size_t ElementSize(Napi::Env env, int elementType) { return ElementSize(AddonData::Of(env).elementSizes, elementType); }

void DescribeOutput(ValuePtr& value, const std::vector<size_t>& elementSizes, OutputMeta& out) {
  const TensorShape shape = ReadTensorShape(value.get());
  AppendShapeMeta(shape, out);
  if (shape.elementType == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
    out.meta.push_back(-1);
    return;
  }
  size_t elementSize = ElementSize(elementSizes, shape.elementType);
  if (elementSize == 0) {
    throw BindingError("NOT_IMPLEMENTED", "the output has element type " + std::to_string(shape.elementType) +
                                              ", which has no JavaScript array");
  }
  size_t bytes = shape.count * elementSize;
  if (bytes > kInlineUpToBytes) {
    out.meta.push_back(-1);
    return;
  }
  out.meta.push_back(static_cast<double>(out.inlineWords.size()));
  size_t words = (bytes + sizeof(double) - 1) / sizeof(double);
  size_t at = out.inlineWords.size();
  for (size_t w = 0; w < words; ++w) out.inlineWords.push_back(0);
  if (bytes > 0) {
    void* data = nullptr;
    Check(Api().GetTensorMutableData(value.get(), &data));
    std::memcpy(&out.inlineWords[at], data, bytes);
  }
  value.reset();
}

napi_value OutputToJs(Napi::Env env, ValuePtr value, const std::shared_ptr<SessionCore>& owner, OutputMemory memory) {
  const OrtApi& api = Api();
  const TensorShape shape = ReadTensorShape(value.get());
  const size_t count = shape.count;

  if (shape.elementType == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
    Napi::Array strings = Napi::Array::New(env, count);
    if (count > 0) {
      size_t total = 0;
      Check(api.GetStringTensorDataLength(value.get(), &total));
      std::string content(total, '\0');
      std::vector<size_t> offsets(count);
      Check(api.GetStringTensorContent(value.get(), content.data(), total, offsets.data(), count));
      for (size_t i = 0; i < count; ++i) {
        size_t end = i + 1 < count ? offsets[i + 1] : total;
        strings[i] = Napi::String::New(env, content.data() + offsets[i], end - offsets[i]);
      }
    }
    return strings;
  }

  size_t bytes = count * ElementSize(env, shape.elementType);
  void* data = nullptr;
  Check(api.GetTensorMutableData(value.get(), &data));
  if (memory == OutputMemory::kCopy || bytes <= CopyUpToBytes()) {
    return CopyToArrayBuffer(env, data, bytes);  // `value` goes back to ONNX Runtime now
  }
  auto holder = std::make_unique<OutputOwner>(OutputOwner{std::move(value), owner, static_cast<int64_t>(bytes)});
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(
      env, data, bytes,
      [](napi_env env, void*, void* hint) {
        std::shared_ptr<OutputOwner> owner(static_cast<OutputOwner*>(hint));
        int64_t ignored;
        napi_adjust_external_memory(env, -owner->bytes, &ignored);
        // Freed on the session thread: Node runs this finalizer on the JavaScript thread,
        // and an image model's outputs (IS-Net's: 124 MB a call) take milliseconds to
        // give back; with the last reference to a released session, its destruction too.
        FreeOnSessionThread([owner]() mutable { owner.reset(); });
      },
      holder.get(), &buffer);
  if (status == napi_ok) {
    // Tell the garbage collector how much memory the small buffer object holds on to,
    // so that it collects sooner under output-heavy loads.
    int64_t ignored;
    napi_adjust_external_memory(env, holder->bytes, &ignored);
    holder.release();  // the finalizer owns it now
    return Napi::Value(env, buffer);
  }
  // Runtimes with a V8 sandbox (Electron) forbid external buffers: copy instead.
  return CopyToArrayBuffer(env, data, bytes);
}

const void* TensorData(const OrtValue* value) {
  void* data = nullptr;
  Check(Api().GetTensorMutableData(const_cast<OrtValue*>(value), &data));
  return data;
}

}  // namespace onnx_native
