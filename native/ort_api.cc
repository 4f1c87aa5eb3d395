#include "ort_api.h"

#ifdef _WIN32
#include <windows.h>
#endif

namespace onnx_native {
namespace {
// Set once by LoadRuntime (under its lock) before any handle exists; read-only after.
const OrtApi* g_api = nullptr;
}  // namespace

const OrtApi& Api() { return *g_api; }

void SetApi(const OrtApi* api) { g_api = api; }

OrtAllocator* DefaultAllocator() {
  OrtAllocator* allocator = nullptr;
  // Cannot fail: the default allocator is a static inside ONNX Runtime.
  Check(Api().GetAllocatorWithDefaultOptions(&allocator));
  return allocator;
}

std::basic_string<ORTCHAR_T> ToOrtPath(const std::string& utf8) {
#ifdef _WIN32
  std::wstring wide(MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), wide.data(), static_cast<int>(wide.size()));
  return wide;
#else
  return utf8;
#endif
}

void FreeAllocated(void* p) {
  if (p != nullptr) Check(Api().AllocatorFree(DefaultAllocator(), p));
}

std::string TakeAllocatedString(char* s) {
  std::string copy = s != nullptr ? s : "";
  FreeAllocated(s);
  return copy;
}

namespace {
const char* OrtCodeName(OrtErrorCode code) {
  switch (code) {
    case ORT_OK: return "OK";
    case ORT_FAIL: return "FAIL";
    case ORT_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ORT_NO_SUCHFILE: return "NO_SUCHFILE";
    case ORT_NO_MODEL: return "NO_MODEL";
    case ORT_ENGINE_ERROR: return "ENGINE_ERROR";
    case ORT_RUNTIME_EXCEPTION: return "RUNTIME_EXCEPTION";
    case ORT_INVALID_PROTOBUF: return "INVALID_PROTOBUF";
    case ORT_MODEL_LOADED: return "MODEL_LOADED";
    case ORT_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ORT_INVALID_GRAPH: return "INVALID_GRAPH";
    case ORT_EP_FAIL: return "EP_FAIL";
  }
  return "FAIL";
}
}  // namespace

void Check(OrtStatus* status) {
  if (status == nullptr) return;
  StatusPtr owned(status);
  throw BindingError(OrtCodeName(Api().GetErrorCode(status)), Api().GetErrorMessage(status));
}

}  // namespace onnx_native
