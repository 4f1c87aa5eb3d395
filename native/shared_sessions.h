// Handing a loaded session to other threads: the owner shares it under a number, and
// any JavaScript environment of the process (a worker thread, say) attaches to it.
// The model is loaded once per process, and every thread runs the same OrtSession,
// which ONNX Runtime allows from many threads at once.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

namespace onnx_native {

struct SessionCore;

// A shared session, with what lib/ knows of it beyond its signature (`abortsOnEmpty`: the
// operators for which it refuses empty inputs, learnt from the model file, which other
// threads do not read again).
struct SharedSession {
  std::shared_ptr<SessionCore> core;
  std::string abortsOnEmpty;
};

// Registers `core` (held weakly: sharing never keeps a session alive) with lib/'s
// `abortsOnEmpty`, and returns its number; sharing the same session again returns the same
// number.
uint64_t ShareSession(const std::shared_ptr<SessionCore>& core, std::string abortsOnEmpty);

// The session shared under `id`; throws SESSION_RELEASED if it is gone, and
// INVALID_ARGUMENT if no session was ever shared under that number.
SharedSession FindSharedSession(uint64_t id);

}  // namespace onnx_native
