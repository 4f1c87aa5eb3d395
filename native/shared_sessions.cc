#include "shared_sessions.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include "ort_api.h"

namespace onnx_native {
namespace {

// Process-wide, like the sessions it names; entries are weak, and expired ones are
// swept on every share.
struct Entry {
  std::weak_ptr<SessionCore> core;
  const SessionCore* key;  // what idOf knows it by, valid only as a key
  std::string abortsOnEmpty;
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<uint64_t, Entry> byId;
  std::unordered_map<const SessionCore*, uint64_t> idOf;
  uint64_t next = 1;
};

Registry& TheRegistry() {
  // Never destroyed: worker threads may still look sessions up while the process exits.
  static Registry* registry = std::make_unique<Registry>().release();
  return *registry;
}

}  // namespace

uint64_t ShareSession(const std::shared_ptr<SessionCore>& core, std::string abortsOnEmpty) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto it = r.byId.begin(); it != r.byId.end();) {
    if (it->second.core.expired()) {
      r.idOf.erase(it->second.key);
      it = r.byId.erase(it);
    } else {
      ++it;
    }
  }
  auto found = r.idOf.find(core.get());
  if (found != r.idOf.end()) return found->second;
  uint64_t id = r.next++;
  r.byId.emplace(id, Entry{core, core.get(), std::move(abortsOnEmpty)});
  r.idOf.emplace(core.get(), id);
  return id;
}

SharedSession FindSharedSession(uint64_t id) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto found = r.byId.find(id);
  if (found == r.byId.end()) {
    throw BindingError("INVALID_ARGUMENT", "no session was shared under " + std::to_string(id));
  }
  std::shared_ptr<SessionCore> core = found->second.core.lock();
  if (!core) throw BindingError("SESSION_RELEASED", "the shared session " + std::to_string(id) + " has been released");
  return {std::move(core), found->second.abortsOnEmpty};
}

}  // namespace onnx_native
