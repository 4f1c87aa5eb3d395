#include "run_job.h"

#include <string>

#include "addon_data.h"
#include "run_pool.h"
#include "session.h"
#include "tensor.h"

namespace onnx_native {
namespace {

// Reads the header written by lib/runtime/session.ts, checking every bound as it goes.
class HeaderReader {
 public:
  explicit HeaderReader(const AddonData& data) : values_(data.runHeader), length_(data.runHeaderLength) {
    if (values_ == nullptr) throw BindingError("INVALID_ARGUMENT", "no run header has been set");
  }

  double Next() {
    if (position_ >= length_) throw BindingError("INVALID_ARGUMENT", "the run header is truncated");
    return values_[position_++];
  }

  uint32_t Index(size_t count, const char* code, const char* noun) {
    double index = Next();
    if (!(index >= 0 && index < static_cast<double>(count))) {
      throw BindingError(code, std::string("no ") + noun + " at index " + std::to_string(index));
    }
    return static_cast<uint32_t>(index);
  }

  // Element type, rank and dims (appended to `dims`).
  int Tensor(SmallVector<int64_t, 16>& dims) {
    int type = static_cast<int>(Next());
    double rank = Next();
    if (!(rank >= 0 && rank <= 64)) throw BindingError("INVALID_SHAPE", "bad rank in the run header");
    for (int d = 0; d < static_cast<int>(rank); ++d) dims.push_back(static_cast<int64_t>(Next()));
    return type;
  }

 private:
  const double* values_ = nullptr;
  size_t length_ = 0;
  size_t position_ = 0;
};

}  // namespace

RunJob::RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value data,
               std::shared_ptr<RunControl> control)
    : core_(std::move(core)), control_(std::move(control)), elementSizes_(&AddonData::Of(env).elementSizes) {
  if (!data.IsArray()) throw BindingError("INVALID_ARGUMENT", "the run data must be an array");
  Napi::Array list = data.As<Napi::Array>();
  uint32_t next = 0;
  auto nextData = [&] {
    if (next >= list.Length()) throw BindingError("INVALID_ARGUMENT", "the run data is missing a tensor");
    return list.Get(next++);
  };
  // Strings are copied here, while the JavaScript strings can be read; TypedArrays are
  // only looked up, and wrapped by Execute.
  auto read = [&](bool output, uint32_t position, HeaderReader& reader) -> ValuePtr {
    uint32_t dimsAt = static_cast<uint32_t>(borrowedDims_.size());
    int elementType = reader.Tensor(borrowedDims_);
    uint32_t rank = static_cast<uint32_t>(borrowedDims_.size()) - dimsAt;
    if (output) outputSources_.push_back(elementType != 0 ? OutputSource::kCaller : OutputSource::kRuntime);
    if (output && elementType == 0) return ValuePtr();
    Napi::Value value = nextData();
    if (elementType == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
      return TensorFromJs(env, elementType, borrowedDims_.data() + dimsAt, rank, value);
    }
    borrowed_.push_back({output, position, elementType, dimsAt, rank,
                         ReadTensorMemory(env, elementType, borrowedDims_.data() + dimsAt, rank, value)});
    return ValuePtr();
  };

  HeaderReader reader(AddonData::Of(env));
  double inputCount = reader.Next();
  double outputCount = reader.Next();
  for (uint32_t i = 0; i < inputCount; ++i) {
    uint32_t index = reader.Index(core_->inputNames.size(), "INVALID_INPUT_NAME", "input");
    inputNames_.push_back(core_->inputNames[index]);
    inputOwners_.push_back(read(false, i, reader));
    inputs_.push_back(inputOwners_.back().get());
  }
  for (uint32_t i = 0; i < outputCount; ++i) {
    uint32_t index = reader.Index(core_->outputNames.size(), "INVALID_OUTPUT_NAME", "output");
    outputNames_.push_back(core_->outputNames[index]);
    outputOwners_.push_back(read(true, i, reader));
    outputs_.push_back(outputOwners_.back().get());
  }
}

void RunJob::Execute() {
  RunControl& control = control_ ? *control_ : ThreadRunControl();
  if (!control.Start()) throw BindingError("ABORTED", "the run was cancelled before it started");
  for (size_t i = 0; i < borrowed_.size(); ++i) {
    const Borrowed& b = borrowed_[i];
    ValuePtr value = WrapMemory(b.elementType, borrowedDims_.data() + b.dimsAt, b.rank, b.memory);
    if (b.output) {
      outputs_[b.position] = value.get();
      outputOwners_[b.position] = std::move(value);
    } else {
      inputs_[b.position] = value.get();
      inputOwners_[b.position] = std::move(value);
    }
  }
  Check(Api().Run(core_->session.get(), control.options(), inputNames_.data(), inputs_.data(), inputs_.size(),
                  outputNames_.data(), outputNames_.size(), outputs_.data()));
  for (size_t i = 0; i < inputOwners_.size(); ++i) inputOwners_[i].reset();
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputSources_[i] == OutputSource::kCaller) {
      outputOwners_[i].reset();  // the data is in the caller's array
      meta_.meta.push_back(0);
      meta_.meta.push_back(0);
      meta_.meta.push_back(-1);
      continue;
    }
    // Run filled in the outputs it allocated; from here on they are ours to free.
    outputOwners_[i].reset(outputs_[i]);
    DescribeOutput(outputOwners_[i], *elementSizes_, meta_);
    // A graph output that is a graph input comes back as the input's own OrtValue, over
    // the caller's array, which nothing keeps alive once the run is over: copy it.
    if (outputOwners_[i] && BorrowsInput(TensorData(outputOwners_[i].get()))) outputSources_[i] = OutputSource::kInput;
  }
}

bool RunJob::BorrowsInput(const void* data) const {
  for (size_t b = 0; b < borrowed_.size(); ++b) {
    if (!borrowed_[b].output && borrowed_[b].memory.Holds(data)) return true;
  }
  return false;
}

Napi::Value RunJob::Results(Napi::Env env, OutputMemory memory) {
  SmallVector<napi_value, 4> values;
  bool anyValue = false;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    napi_value value = nullptr;
    if (outputOwners_[i]) {
      value = OutputToJs(env, std::move(outputOwners_[i]), core_,
                         outputSources_[i] == OutputSource::kInput ? OutputMemory::kCopy : memory);
    }
    anyValue = anyValue || value != nullptr;
    values.push_back(value);
  }

  // Meta and inline data go over the run header when they fit (they nearly always do),
  // which spares an ArrayBuffer per call: V8 makes each one a tracked backing store.
  const AddonData& addon = AddonData::Of(env);
  size_t total = meta_.Words();
  napi_value own = nullptr;
  double* target = addon.runHeader;
  if (total > addon.runHeaderLength) {
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, total * sizeof(double));
    own = Napi::Float64Array::New(env, total, buffer, 0);
    target = static_cast<double*>(buffer.Data());
  }
  meta_.WriteTo(target);
  if (!anyValue && own == nullptr) return env.Undefined();

  Napi::Array results = Napi::Array::New(env, outputs_.size() + 1);
  if (own != nullptr) results[0u] = Napi::Value(env, own);
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] != nullptr) results[static_cast<uint32_t>(i + 1)] = Napi::Value(env, values[i]);
  }
  return results;
}

namespace {

// Runs a job on the pool, then calls back on the JavaScript thread. A callback, not a
// promise: lib/ reads the results out of the run header before anything else can
// reuse it, and settles its own promise, one promise per run instead of two.
class RunTask : public CallbackTask {
 public:
  RunTask(std::unique_ptr<RunJob> job, Napi::Value data, Napi::Function callback)
      : CallbackTask(callback), job_(std::move(job)), data_(Napi::Persistent(data.As<Napi::Object>())) {}

 private:
  void Run() override { job_->Execute(); }
  Napi::Value Results(Napi::Env env) override { return job_->Results(env, OutputMemory::kWrapLarge); }

  std::unique_ptr<RunJob> job_;
  // The arrays whose memory the job's tensors borrow stay referenced until the run ends.
  Napi::ObjectReference data_;
};

}  // namespace

void QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value data, Napi::Function callback) {
  QueueOnPool(env, std::make_unique<RunTask>(std::move(job), data, callback));
}

}  // namespace onnx_native
