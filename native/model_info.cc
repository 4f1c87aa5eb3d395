#include "model_info.h"

#include <limits>

namespace onnx_native {
namespace {

ValueInfo ReadValueInfo(std::string name, const OrtTypeInfo* typeInfo) {
  ValueInfo info;
  info.name = std::move(name);
  Check(Api().GetOnnxTypeFromTypeInfo(typeInfo, &info.kind));
  if (info.kind != ONNX_TYPE_TENSOR && info.kind != ONNX_TYPE_SPARSETENSOR) return info;

  const OrtTensorTypeAndShapeInfo* tensor = nullptr;  // owned by typeInfo
  Check(Api().CastTypeInfoToTensorInfo(typeInfo, &tensor));
  ONNXTensorElementDataType elementType;
  Check(Api().GetTensorElementType(tensor, &elementType));
  info.elementType = elementType;
  size_t rank = 0;
  Check(Api().GetDimensionsCount(tensor, &rank));
  info.dims.resize(rank);
  Check(Api().GetDimensions(tensor, info.dims.data(), rank));
  std::vector<const char*> symbols(rank, nullptr);
  Check(Api().GetSymbolicDimensions(tensor, symbols.data(), rank));
  for (const char* s : symbols) info.symbols.emplace_back(s != nullptr ? s : "");
  return info;
}

template <typename GetName, typename GetType>
std::vector<ValueInfo> ReadValueInfos(size_t count, GetName getName, GetType getType) {
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < count; ++i) {
    char* name = nullptr;
    Check(getName(i, &name));
    std::string ownedName = TakeAllocatedString(name);
    OrtTypeInfo* typeInfo = nullptr;
    Check(getType(i, &typeInfo));
    TypeInfoPtr ownedType(typeInfo);
    infos.push_back(ReadValueInfo(std::move(ownedName), typeInfo));
  }
  return infos;
}

const char* KindName(ONNXType kind) {
  switch (kind) {
    case ONNX_TYPE_TENSOR: return "tensor";
    case ONNX_TYPE_SEQUENCE: return "sequence";
    case ONNX_TYPE_MAP: return "map";
    case ONNX_TYPE_OPAQUE: return "opaque";
    case ONNX_TYPE_SPARSETENSOR: return "sparse_tensor";
    case ONNX_TYPE_OPTIONAL: return "optional";
    default: return "unknown";
  }
}

Napi::Array ValueInfosToJs(Napi::Env env, const std::vector<ValueInfo>& infos) {
  Napi::Array out = Napi::Array::New(env, infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    const ValueInfo& info = infos[i];
    Napi::Array dims = Napi::Array::New(env, info.dims.size());
    for (size_t d = 0; d < info.dims.size(); ++d) {
      if (info.dims[d] >= 0) {
        dims[d] = Napi::Number::New(env, static_cast<double>(info.dims[d]));
      } else if (!info.symbols[d].empty()) {
        dims[d] = Napi::String::New(env, info.symbols[d]);
      } else {
        dims[d] = env.Null();
      }
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", info.name);
    o.Set("kind", KindName(info.kind));
    o.Set("elementType", info.elementType);
    o.Set("dims", dims);
    out[i] = o;
  }
  return out;
}

}  // namespace

ModelInfo ReadModelInfo(const OrtSession* session) {
  const OrtApi& api = Api();
  OrtAllocator* allocator = DefaultAllocator();
  ModelInfo info;

  size_t count = 0;
  Check(api.SessionGetInputCount(session, &count));
  info.inputs = ReadValueInfos(
      count, [&](size_t i, char** name) { return api.SessionGetInputName(session, i, allocator, name); },
      [&](size_t i, OrtTypeInfo** type) { return api.SessionGetInputTypeInfo(session, i, type); });
  Check(api.SessionGetOutputCount(session, &count));
  info.outputs = ReadValueInfos(
      count, [&](size_t i, char** name) { return api.SessionGetOutputName(session, i, allocator, name); },
      [&](size_t i, OrtTypeInfo** type) { return api.SessionGetOutputTypeInfo(session, i, type); });

  OrtModelMetadata* metadata = nullptr;
  Check(api.SessionGetModelMetadata(session, &metadata));
  ModelMetadataPtr owned(metadata);
  auto text = [&](OrtStatus* (ORT_API_CALL * get)(const OrtModelMetadata*, OrtAllocator*, char**)) {
    char* value = nullptr;
    Check(get(metadata, allocator, &value));
    return TakeAllocatedString(value);
  };
  info.producerName = text(api.ModelMetadataGetProducerName);
  info.graphName = text(api.ModelMetadataGetGraphName);
  info.graphDescription = text(api.ModelMetadataGetGraphDescription);
  info.domain = text(api.ModelMetadataGetDomain);
  info.description = text(api.ModelMetadataGetDescription);
  Check(api.ModelMetadataGetVersion(metadata, &info.version));

  char** keys = nullptr;
  int64_t keyCount = 0;
  Check(api.ModelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &keyCount));
  std::vector<std::string> keyNames;
  for (int64_t k = 0; k < keyCount; ++k) keyNames.push_back(TakeAllocatedString(keys[k]));
  FreeAllocated(keys);
  for (std::string& key : keyNames) {
    char* value = nullptr;
    Check(api.ModelMetadataLookupCustomMetadataMap(metadata, allocator, key.c_str(), &value));
    info.customMetadata.emplace_back(std::move(key), TakeAllocatedString(value));
  }
  return info;
}

Napi::Object ModelInfoToJs(Napi::Env env, const ModelInfo& info) {
  Napi::Object custom = Napi::Object::New(env);
  for (const auto& [key, value] : info.customMetadata) custom.Set(key, value);
  Napi::Object metadata = Napi::Object::New(env);
  metadata.Set("producerName", info.producerName);
  metadata.Set("graphName", info.graphName);
  metadata.Set("graphDescription", info.graphDescription);
  metadata.Set("domain", info.domain);
  metadata.Set("description", info.description);
  // ONNX Runtime reports a model without model_version as INT64_MAX: leave it out.
  if (info.version != std::numeric_limits<int64_t>::max()) {
    metadata.Set("version", Napi::Number::New(env, static_cast<double>(info.version)));
  }
  metadata.Set("custom", custom);

  Napi::Object out = Napi::Object::New(env);
  out.Set("inputs", ValueInfosToJs(env, info.inputs));
  out.Set("outputs", ValueInfosToJs(env, info.outputs));
  out.Set("metadata", metadata);
  return out;
}

}  // namespace onnx_native
