#include "session_options.h"

#include <string>
#include <utility>
#include <vector>

namespace onnx_native {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Checked reads: lib/ builds the object, so a wrong type here is a bug in lib/, and
// it still gets a JavaScript TypeError rather than undefined behaviour.
int IntField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

bool BoolField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string StringField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// [[key, value], ...] with string or number values, as lib/ flattens maps.
Pairs PairsOf(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + " must be an array of pairs");
  Napi::Array list = v.As<Napi::Array>();
  Pairs pairs;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list[i];
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2) {
      throw Napi::TypeError::New(env, what + " must be an array of pairs");
    }
    Napi::Array pair = item.As<Napi::Array>();
    pairs.emplace_back(pair.Get(0u).ToString().Utf8Value(), pair.Get(1u).ToString().Utf8Value());
  }
  return pairs;
}

}  // namespace

SessionOptionsPtr BuildSessionOptions(const Napi::Object& o) {
  const OrtApi& api = Api();
  Napi::Env env = o.Env();
  OrtSessionOptions* raw = nullptr;
  Check(api.CreateSessionOptions(&raw));
  SessionOptionsPtr options(raw);

  Check(api.SetIntraOpNumThreads(raw, IntField(o, "intraOpNumThreads")));
  Check(api.SetInterOpNumThreads(raw, IntField(o, "interOpNumThreads")));
  Check(api.SetSessionExecutionMode(raw, static_cast<ExecutionMode>(IntField(o, "executionMode"))));
  Check(api.SetSessionGraphOptimizationLevel(
      raw, static_cast<GraphOptimizationLevel>(IntField(o, "graphOptimizationLevel"))));
  Check(BoolField(o, "enableCpuMemArena") ? api.EnableCpuMemArena(raw) : api.DisableCpuMemArena(raw));
  Check(BoolField(o, "enableMemPattern") ? api.EnableMemPattern(raw) : api.DisableMemPattern(raw));
  Check(api.SetSessionLogSeverityLevel(raw, IntField(o, "logSeverityLevel")));

  std::string logId = StringField(o, "logId");
  if (!logId.empty()) Check(api.SetSessionLogId(raw, logId.c_str()));
  std::string optimized = StringField(o, "optimizedModelFilePath");
  if (!optimized.empty()) Check(api.SetOptimizedModelFilePath(raw, ToOrtPath(optimized).c_str()));
  std::string profile = StringField(o, "profileFilePrefix");
  if (!profile.empty()) Check(api.EnableProfiling(raw, ToOrtPath(profile).c_str()));

  for (const auto& [name, value] : PairsOf(env, o.Get("freeDimensionOverrides"), "freeDimensionOverrides")) {
    Check(api.AddFreeDimensionOverrideByName(raw, name.c_str(), std::stoll(value)));
  }
  for (const auto& [key, value] : PairsOf(env, o.Get("configEntries"), "configEntries")) {
    Check(api.AddSessionConfigEntry(raw, key.c_str(), value.c_str()));
  }

  // [[name, [[key, value], ...]], ...], in priority order. The CPU provider is always
  // present as the last resort, so it needs no registration of its own.
  Napi::Value providers = o.Get("executionProviders");
  if (!providers.IsArray()) throw Napi::TypeError::New(env, "executionProviders must be an array");
  Napi::Array list = providers.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Array entry = list.Get(i).As<Napi::Array>();
    std::string name = entry.Get(0u).ToString().Utf8Value();
    if (name == "CPUExecutionProvider") continue;
    Pairs pairs = PairsOf(env, entry.Get(1u), "provider options");
    std::vector<const char*> keys, values;
    for (const auto& [key, value] : pairs) {
      keys.push_back(key.c_str());
      values.push_back(value.c_str());
    }
    Check(api.SessionOptionsAppendExecutionProvider(raw, name.c_str(), keys.data(), values.data(), keys.size()));
  }
  return options;
}

}  // namespace onnx_native
