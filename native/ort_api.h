// The ONNX Runtime C API as this addon uses it: the function table, RAII owners for
// every handle type, and the one exception type native code throws.
#pragma once

#include <onnxruntime_c_api.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace onnx_native {

// The function table of the ONNX Runtime library that runtime.cc loaded. ONNX Runtime
// is one shared library per process, so the table is process-wide: it is set once,
// before any session exists, and never changes afterwards.
const OrtApi& Api();
void SetApi(const OrtApi* api);  // called once, by LoadRuntime

// An error on its way to JavaScript. `code` is one of lib/core/errors.ts's codes: the name
// of an OrtErrorCode (FAIL, INVALID_ARGUMENT, ...) or one of the binding's own.
class BindingError : public std::runtime_error {
 public:
  BindingError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Throws a BindingError with the status's code and message; does nothing for OK (null).
void Check(OrtStatus* status);

// unique_ptr owners: every handle is released through the table that created it.
#define ONNX_NATIVE_HANDLE(Name)                                      \
  struct Name##Deleter {                                              \
    void operator()(Ort##Name* p) const { Api().Release##Name(p); }   \
  };                                                                  \
  using Name##Ptr = std::unique_ptr<Ort##Name, Name##Deleter>;

ONNX_NATIVE_HANDLE(Env)
ONNX_NATIVE_HANDLE(Status)
ONNX_NATIVE_HANDLE(SessionOptions)
ONNX_NATIVE_HANDLE(Session)
ONNX_NATIVE_HANDLE(RunOptions)
ONNX_NATIVE_HANDLE(Value)
ONNX_NATIVE_HANDLE(MemoryInfo)
ONNX_NATIVE_HANDLE(TypeInfo)
ONNX_NATIVE_HANDLE(TensorTypeAndShapeInfo)
ONNX_NATIVE_HANDLE(ModelMetadata)
ONNX_NATIVE_HANDLE(IoBinding)

#undef ONNX_NATIVE_HANDLE

// ONNX Runtime's default CPU allocator; it lives as long as the library.
OrtAllocator* DefaultAllocator();

// A path as ONNX Runtime takes it: ORTCHAR_T is wchar_t on Windows, char elsewhere.
std::basic_string<ORTCHAR_T> ToOrtPath(const std::string& utf8);

// Frees memory that ONNX Runtime allocated with the default allocator.
void FreeAllocated(void* p);

// Copies a string that ONNX Runtime allocated with the default allocator, then frees it.
std::string TakeAllocatedString(char* s);

}  // namespace onnx_native
