// Handing a loaded session to other threads: the owner shares it under a number, and
// any JavaScript environment of the process (a worker thread, say) attaches to it.
// The model is loaded once per process, and every thread runs the same OrtSession,
// which ONNX Runtime allows from many threads at once.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

namespace onnx_native {

struct SessionCore;

// Registers `core` (held weakly: sharing never keeps a session alive) and returns its
// number; sharing the same session again returns the same number.
uint64_t ShareSession(const std::shared_ptr<SessionCore>& core);

// The session shared under `id`; throws SESSION_RELEASED if it is gone, and
// INVALID_ARGUMENT if no session was ever shared under that number.
std::shared_ptr<SessionCore> FindSharedSession(uint64_t id);

}  // namespace onnx_native
