#include "shared_library.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace onnx_native {

void* OpenSharedLibrary(const std::string& path, std::string& error) {
#ifdef _WIN32
  // Paths come from JavaScript as UTF-8.
  int length = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
  std::wstring wide(length > 0 ? length : 1, L'\0');
  MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, wide.data(), length);
  // For a full path, look for the library's own dependencies beside it (ONNX Runtime's
  // provider DLLs); the flag is undefined for bare names, which use the normal search.
  bool isPath = path.find_first_of("\\/") != std::string::npos;
  HMODULE lib = LoadLibraryExW(wide.c_str(), nullptr, isPath ? LOAD_WITH_ALTERED_SEARCH_PATH : 0);
  if (lib == nullptr) error = "LoadLibrary failed with error " + std::to_string(GetLastError());
  return reinterpret_cast<void*>(lib);
#else
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    error = why != nullptr ? why : "dlopen failed";
  }
  return lib;
#endif
}

bool PinLibraryContaining(const void* address) {
#ifdef _WIN32
  HMODULE module = nullptr;
  return GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            static_cast<LPCWSTR>(address), &module) != 0;
#else
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return false;
  // A second reference that is never closed, marked never to be unloaded.
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
#endif
}

void* FindSymbol(void* library, const char* name) {
#ifdef _WIN32
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(library), name));
#else
  return dlsym(library, name);
#endif
}

std::string DefinedInDependency(void* library, const void* symbol) {
#ifdef _WIN32
  // GetProcAddress looks only at the module's own export table, never at the DLLs it
  // imports: what FindSymbol found is always the library's own.
  (void)library;
  (void)symbol;
  return "";
#else
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr || info.dli_fname[0] == '\0') return "";
  // The object that holds the address, by the name the loader knows it by; RTLD_NOLOAD
  // only looks it up (it is loaded: the address is in it) and takes a reference, which
  // dlclose gives back.
  void* owner = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (owner == nullptr) return "";
  dlclose(owner);
  return owner == library ? "" : info.dli_fname;
#endif
}

}  // namespace onnx_native
