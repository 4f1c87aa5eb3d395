{
  # Builds the addon with node-gyp. CMakeLists.txt (cmake-js, the default) builds the
  # same sources; keep the two in step. ONNX Runtime is loaded at run time, not linked.
  # This is the CPU-only build (prebuilds come from it): it never looks for the CUDA
  # toolkit, so native/cuda_toolkit_check.cc compiles to nothing here.
  "variables": {
    "ort_include_dir%": "<!(node -p \"process.env.ORT_INCLUDE_DIR || 'deps/onnxruntime/include'\")"
  },
  "targets": [
    {
      "target_name": "onnx_native",
      "sources": [
        "native/addon.cc",
        "native/cuda_runtime.cc",
        "native/cuda_toolkit_check.cc",
        "native/device_tensor.cc",
        "native/execution_providers.cc",
        "native/io_binding.cc",
        "native/model_info.cc",
        "native/ort_api.cc",
        "native/run_job.cc",
        "native/run_options.cc",
        "native/run_pool.cc",
        "native/runtime.cc",
        "native/session.cc",
        "native/session_options.cc",
        "native/session_thread.cc",
        "native/shared_library.cc",
        "native/shared_sessions.cc",
        "native/tensor.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(ort_include_dir)"
      ],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: see CMakeLists.txt (terminated worker threads).
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "libraries": ["-ldl"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      },
      "conditions": [
        ["OS=='win'", { "libraries!": ["-ldl"] }]
      ]
    }
  ]
}
