#include "run_job.h"

#include <cstring>
#include <string>

#include "addon_data.h"
#include "run_pool.h"
#include "session.h"
#include "tensor.h"

namespace onnx_native {
namespace {

// Reads the header written by lib/session.ts, checking every bound as it goes.
class HeaderReader {
 public:
  HeaderReader(Napi::Env env, Napi::Value header) {
    napi_typedarray_type type;
    void* data = nullptr;
    if (!header.IsTypedArray() ||
        napi_get_typedarray_info(env, header, &type, &length_, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array) {
      throw BindingError("INVALID_ARGUMENT", "the run header must be a Float64Array");
    }
    values_ = static_cast<const double*>(data);
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

  // Element type, rank and dims.
  int Tensor(SmallVector<int64_t, 8>& dims) {
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

RunJob::RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value header, Napi::Value data,
               std::shared_ptr<OrtRunOptions> runOptions)
    : core_(std::move(core)), runOptions_(std::move(runOptions)) {
  if (!data.IsArray()) throw BindingError("INVALID_ARGUMENT", "the run data must be an array");
  Napi::Array list = data.As<Napi::Array>();
  uint32_t next = 0;
  auto nextData = [&] {
    if (next >= list.Length()) throw BindingError("INVALID_ARGUMENT", "the run data is missing a tensor");
    return list.Get(next++);
  };

  HeaderReader reader(env, header);
  double inputCount = reader.Next();
  double outputCount = reader.Next();
  for (double i = 0; i < inputCount; ++i) {
    uint32_t index = reader.Index(core_->inputNames.size(), "INVALID_INPUT_NAME", "input");
    SmallVector<int64_t, 8> dims;
    int type = reader.Tensor(dims);
    inputNames_.push_back(core_->inputNames[index]);
    inputOwners_.push_back(TensorFromJs(env, type, dims.data(), dims.size(), nextData()));
    inputs_.push_back(inputOwners_.back().get());
  }
  for (double i = 0; i < outputCount; ++i) {
    uint32_t index = reader.Index(core_->outputNames.size(), "INVALID_OUTPUT_NAME", "output");
    SmallVector<int64_t, 8> dims;
    int type = reader.Tensor(dims);
    outputNames_.push_back(core_->outputNames[index]);
    outputOwners_.push_back(type == 0 ? ValuePtr() : TensorFromJs(env, type, dims.data(), dims.size(), nextData()));
    providedByCaller_.push_back(type != 0);
    outputs_.push_back(outputOwners_.back().get());
  }
}

void RunJob::Execute() {
  Check(Api().Run(core_->session.get(), runOptions_.get(), inputNames_.data(), inputs_.data(), inputs_.size(),
                  outputNames_.data(), outputNames_.size(), outputs_.data()));
  // Run filled in the outputs it allocated; from here on they are ours to free.
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!providedByCaller_[i]) outputOwners_[i].reset(outputs_[i]);
  }
}

Napi::Array RunJob::Results(Napi::Env env) {
  Napi::Array results = Napi::Array::New(env, outputs_.size() + 1);
  MetaList meta;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (providedByCaller_[i]) {
      meta.push_back(0);
      meta.push_back(0);
    } else {
      results[static_cast<uint32_t>(i + 1)] = TensorToJs(env, std::move(outputOwners_[i]), core_, meta);
    }
  }
  Napi::ArrayBuffer metaBuffer = Napi::ArrayBuffer::New(env, meta.size() * sizeof(double));
  std::memcpy(metaBuffer.Data(), meta.data(), meta.size() * sizeof(double));
  results[0u] = Napi::Float64Array::New(env, meta.size(), metaBuffer, 0);
  return results;
}

namespace {

class RunTask : public PromiseTask {
 public:
  RunTask(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value data)
      : PromiseTask(env), job_(std::move(job)), data_(Napi::Persistent(data.As<Napi::Object>())) {}

 protected:
  void Run() override { job_->Execute(); }
  Napi::Value Resolve(Napi::Env env) override { return job_->Results(env); }

 private:
  std::unique_ptr<RunJob> job_;
  // Holds the arrays whose memory the job's tensors borrow until the run ends.
  Napi::ObjectReference data_;
};

}  // namespace

Napi::Promise QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value data) {
  return QueuePromiseTask(env, std::make_unique<RunTask>(env, std::move(job), data));
}

}  // namespace onnx_native
