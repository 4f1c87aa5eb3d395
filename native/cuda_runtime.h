// The CUDA runtime, loaded at run time (dlopen), never linked: the same build of the
// addon works on machines without CUDA, and the GPU paths fail there with an error
// that says why instead of a missing-library crash at load.
#pragma once

#include <cstddef>
#include <string>

namespace onnx_native {

// The few cudart functions the addon calls, declared here rather than taken from CUDA's
// headers, so that building needs no CUDA toolkit. Signatures as in cuda_runtime_api.h
// (cudaError_t is an int enum; cudaStream_t a pointer); where the toolkit is installed,
// cuda_toolkit_check.cc holds them against its headers at compile time.
// Each CudaRuntime member with the cudart symbol it is loaded from. One list, so that
// cuda_runtime.cc looks up exactly the functions cuda_toolkit_check.cc checks.
#define ONNX_NATIVE_CUDART_FUNCTIONS(X)                   \
  X(GetDeviceCount, cudaGetDeviceCount)                   \
  X(SetDevice, cudaSetDevice)                             \
  X(Malloc, cudaMalloc)                                   \
  X(Free, cudaFree)                                       \
  X(MallocHost, cudaMallocHost)                           \
  X(FreeHost, cudaFreeHost)                               \
  X(Memcpy, cudaMemcpy)                                   \
  X(MemcpyAsync, cudaMemcpyAsync)                         \
  X(StreamCreateWithFlags, cudaStreamCreateWithFlags)     \
  X(StreamDestroy, cudaStreamDestroy)                     \
  X(StreamSynchronize, cudaStreamSynchronize)             \
  X(RuntimeGetVersion, cudaRuntimeGetVersion)             \
  X(GetErrorString, cudaGetErrorString)

struct CudaRuntime {
  using Error = int;
  Error (*GetDeviceCount)(int*);
  Error (*SetDevice)(int);
  Error (*Malloc)(void**, size_t);
  Error (*Free)(void*);
  Error (*MallocHost)(void**, size_t);
  Error (*FreeHost)(void*);
  Error (*Memcpy)(void*, const void*, size_t, int);
  Error (*MemcpyAsync)(void*, const void*, size_t, int, void*);
  Error (*StreamCreateWithFlags)(void**, unsigned int);
  Error (*StreamDestroy)(void*);
  Error (*StreamSynchronize)(void*);
  Error (*RuntimeGetVersion)(int*);
  const char* (*GetErrorString)(Error);

  std::string library;  // the file it was loaded from
  int deviceCount = 0;  // 0 when the runtime loads but there is no usable GPU

  static constexpr int kHostToDevice = 1;
  static constexpr int kDeviceToHost = 2;
  static constexpr unsigned int kStreamNonBlocking = 1;

  // Throws BindingError CUDA_UNAVAILABLE, saying what failed, unless `error` is success.
  void Check(Error error, const char* what) const;
};

// The loaded runtime, with at least one device; throws BindingError CUDA_UNAVAILABLE
// (no libcudart found, or no usable device, and why) otherwise. Loaded once per process.
const CudaRuntime& Cuda();

// CUDART_VERSION of the headers cuda_toolkit_check.cc checked this build against (the
// CUDA-enabled build), or 0 (the CPU-only build, made without the toolkit).
extern const int kCudaToolkitChecked;

// What Cuda() would say, without throwing: "" when CUDA is usable, else the reason.
std::string CudaUnavailableReason();

}  // namespace onnx_native
