// The CUDA-enabled build's check: where the CUDA toolkit is installed, CMakeLists.txt
// defines ONNX_NATIVE_CUDA_TOOLKIT and this file holds cuda_runtime.h's hand-written
// declarations against cudart's own headers, so that a wrong signature, enum value or
// symbol name fails the build instead of corrupting a call on someone's GPU. Nothing
// is linked either way; in the CPU-only build only kCudaToolkitChecked = 0 is left.
#include "cuda_runtime.h"

#ifdef ONNX_NATIVE_CUDA_TOOLKIT

#include <cuda_runtime_api.h>

#include <type_traits>

namespace onnx_native {
namespace {

// Whether a value of type A passes through the C calling convention as one of type B:
// the same type, two object pointers (cudaStream_t is declared void* here), or two
// integers or enums of one size (cudaError_t and cudaMemcpyKind are int here).
template <typename A, typename B>
constexpr bool SameAbi() {
  if constexpr (std::is_same_v<A, B>) {
    return true;
  } else if constexpr (std::is_pointer_v<A> && std::is_pointer_v<B>) {
    return true;
  } else if constexpr ((std::is_integral_v<A> || std::is_enum_v<A>) && (std::is_integral_v<B> || std::is_enum_v<B>)) {
    return sizeof(A) == sizeof(B);
  } else {
    return false;
  }
}

template <typename R1, typename... A1, typename R2, typename... A2>
constexpr bool SameSignature(R1 (*)(A1...), R2 (*)(A2...)) {
  if constexpr (sizeof...(A1) != sizeof...(A2)) {
    return false;
  } else {
    return SameAbi<R1, R2>() && (SameAbi<A1, A2>() && ...);
  }
}

// Each member of CudaRuntime against the function that Load() looks up under the same
// name. A function the headers turn into a macro (per-thread default stream builds)
// would be looked up under the wrong symbol.
#define ONNX_NATIVE_CHECK_CUDART(member, function)                                      \
  static_assert(SameSignature(&::function, decltype(CudaRuntime::member){}),           \
                "CudaRuntime::" #member " does not match " #function " in cuda_runtime_api.h");

ONNX_NATIVE_CUDART_FUNCTIONS(ONNX_NATIVE_CHECK_CUDART)
#undef ONNX_NATIVE_CHECK_CUDART

#if defined(cudaMemcpy) || defined(cudaMemcpyAsync) || defined(cudaStreamSynchronize)
#error "cudart's headers rename these functions here (CUDA_API_PER_THREAD_DEFAULT_STREAM?): Load() looks up the plain names"
#endif

static_assert(cudaSuccess == 0, "CudaRuntime treats 0 as success");
static_assert(cudaMemcpyHostToDevice == CudaRuntime::kHostToDevice, "kHostToDevice");
static_assert(cudaMemcpyDeviceToHost == CudaRuntime::kDeviceToHost, "kDeviceToHost");
static_assert(cudaStreamNonBlocking == CudaRuntime::kStreamNonBlocking, "kStreamNonBlocking");
static_assert(CUDART_VERSION / 1000 == 12 || CUDART_VERSION / 1000 == 13,
              "cuda_runtime.cc loads libcudart 12 or 13 only: add this toolkit's library name there");

}  // namespace

// What the build was checked against, for cudaStatus() to report.
const int kCudaToolkitChecked = CUDART_VERSION;

}  // namespace onnx_native

#else

namespace onnx_native {
const int kCudaToolkitChecked = 0;
}  // namespace onnx_native

#endif
