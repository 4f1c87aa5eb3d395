#include "session_options.h"

#include "device_tensor.h"

namespace onnx_native {
namespace {

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

Napi::Array ArrayOf(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + " must be an array");
  return v.As<Napi::Array>();
}

// [[key, value], ...] with string or number values, as lib/ flattens maps.
StringPairs PairsOf(Napi::Env env, Napi::Value v, const std::string& what) {
  Napi::Array list = ArrayOf(env, v, what);
  StringPairs pairs;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Array pair = ArrayOf(env, list.Get(i), what + " entry");
    pairs.emplace_back(pair.Get(0u).ToString().Utf8Value(), pair.Get(1u).ToString().Utf8Value());
  }
  return pairs;
}

}  // namespace

SessionOptionsSpec ReadSessionOptions(const Napi::Object& o) {
  Napi::Env env = o.Env();
  SessionOptionsSpec spec;
  spec.intraOpNumThreads = IntField(o, "intraOpNumThreads");
  spec.interOpNumThreads = IntField(o, "interOpNumThreads");
  spec.executionMode = IntField(o, "executionMode");
  spec.graphOptimizationLevel = IntField(o, "graphOptimizationLevel");
  spec.enableCpuMemArena = BoolField(o, "enableCpuMemArena");
  spec.enableMemPattern = BoolField(o, "enableMemPattern");
  spec.logSeverityLevel = IntField(o, "logSeverityLevel");
  spec.logId = StringField(o, "logId");
  spec.optimizedModelFilePath = StringField(o, "optimizedModelFilePath");
  spec.profileFilePrefix = StringField(o, "profileFilePrefix");
  spec.freeDimensionOverrides = PairsOf(env, o.Get("freeDimensionOverrides"), "freeDimensionOverrides");
  spec.configEntries = PairsOf(env, o.Get("configEntries"), "configEntries");
  // [[name, [[key, value], ...], optional], ...]
  Napi::Array providers = ArrayOf(env, o.Get("executionProviders"), "executionProviders");
  for (uint32_t i = 0; i < providers.Length(); ++i) {
    Napi::Array entry = ArrayOf(env, providers.Get(i), "executionProviders entry");
    ProviderSpec provider;
    provider.name = entry.Get(0u).ToString().Utf8Value();
    provider.options = PairsOf(env, entry.Get(1u), "provider options");
    provider.optional = entry.Get(2u).ToBoolean().Value();
    spec.providers.push_back(std::move(provider));
  }
  Napi::Array streams = ArrayOf(env, o.Get("streams"), "streams");
  for (uint32_t i = 0; i < streams.Length(); ++i) spec.keepAlive.push_back(NativeCudaStream::StreamOf(streams.Get(i)));
  return spec;
}

BuiltSessionOptions BuildSessionOptions(const SessionOptionsSpec& spec) {
  const OrtApi& api = Api();
  OrtSessionOptions* raw = nullptr;
  Check(api.CreateSessionOptions(&raw));
  BuiltSessionOptions built{SessionOptionsPtr(raw), {}, {}};

  Check(api.SetIntraOpNumThreads(raw, spec.intraOpNumThreads));
  Check(api.SetInterOpNumThreads(raw, spec.interOpNumThreads));
  Check(api.SetSessionExecutionMode(raw, static_cast<ExecutionMode>(spec.executionMode)));
  Check(api.SetSessionGraphOptimizationLevel(raw, static_cast<GraphOptimizationLevel>(spec.graphOptimizationLevel)));
  Check(spec.enableCpuMemArena ? api.EnableCpuMemArena(raw) : api.DisableCpuMemArena(raw));
  Check(spec.enableMemPattern ? api.EnableMemPattern(raw) : api.DisableMemPattern(raw));
  Check(api.SetSessionLogSeverityLevel(raw, spec.logSeverityLevel));
  if (!spec.logId.empty()) Check(api.SetSessionLogId(raw, spec.logId.c_str()));
  if (!spec.optimizedModelFilePath.empty()) {
    Check(api.SetOptimizedModelFilePath(raw, ToOrtPath(spec.optimizedModelFilePath).c_str()));
  }
  if (!spec.profileFilePrefix.empty()) Check(api.EnableProfiling(raw, ToOrtPath(spec.profileFilePrefix).c_str()));
  for (const auto& [name, value] : spec.freeDimensionOverrides) {
    Check(api.AddFreeDimensionOverrideByName(raw, name.c_str(), std::stoll(value)));
  }
  for (const auto& [key, value] : spec.configEntries) Check(api.AddSessionConfigEntry(raw, key.c_str(), value.c_str()));

  for (const ProviderSpec& provider : spec.providers) {
    try {
      AppendExecutionProvider(raw, provider);
      built.providers.push_back(provider.name);
    } catch (const BindingError& e) {
      if (!provider.optional) {
        throw BindingError("EP_FAIL", provider.name + " would not start: " + e.what());
      }
      built.skippedProviders.emplace_back(provider.name, e.what());
    }
  }
  built.providers.push_back("CPUExecutionProvider");
  return built;
}

}  // namespace onnx_native
