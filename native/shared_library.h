// Opening a shared library at run time and finding its symbols: dlopen on POSIX,
// LoadLibrary on Windows. ONNX Runtime and the CUDA runtime both come in this way, so
// that the addon links neither.
#pragma once

#include <string>

namespace onnx_native {

// Opens `path`, a file path or a bare name searched for the platform's way, keeping its
// symbols local (RTLD_LOCAL), so that another copy loaded by someone else (onnxruntime-
// node, say) cannot be picked up by mistake. Returns nullptr and sets `error` on
// failure. Libraries are never closed: their code may still be running at exit.
void* OpenSharedLibrary(const std::string& path, std::string& error);

// The address of `name` in `library`, or nullptr.
void* FindSymbol(void* library, const char* name);

// Keeps the shared library that holds `address` (this addon) loaded until the process
// ends. Node unloads an addon when the last environment that loaded it goes (a worker
// thread that loaded it alone, say), but the run pool's threads outlive every
// environment and run the addon's code. Returns false if the library could not be pinned.
bool PinLibraryContaining(const void* address);

// Where `symbol`, an address FindSymbol found in `library`, is defined when that is not
// `library` itself: dlsym also searches the libraries it depends on, so a program's
// library that links ONNX Runtime yields ONNX Runtime's OrtGetApiBase. Returns the path
// of the dependency that defines it, or "" when `library` defines it itself (or when
// that cannot be told).
std::string DefinedInDependency(void* library, const void* symbol);

}  // namespace onnx_native
