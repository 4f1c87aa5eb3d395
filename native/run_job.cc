#include "run_job.h"

#include <cstring>
#include <optional>
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

Napi::Array RunJob::Results(Napi::Env env, Napi::Value header) {
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
  // The meta goes into the caller's header when it fits (it nearly always does), which
  // spares an ArrayBuffer per call: V8 makes each one a tracked backing store.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, header, &type, &length, &data, nullptr, nullptr) == napi_ok &&
      type == napi_float64_array && length >= meta.size()) {
    std::memcpy(data, meta.data(), meta.size() * sizeof(double));
  } else {
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, meta.size() * sizeof(double));
    std::memcpy(buffer.Data(), meta.data(), meta.size() * sizeof(double));
    results[0u] = Napi::Float64Array::New(env, meta.size(), buffer, 0);
  }
  return results;
}

namespace {

// Runs a job on the pool, then calls back on the JavaScript thread. A callback, not a
// promise: lib/ reads the results out of the header before anything else can reuse
// it, and settles its own promise, one promise per run instead of two.
class RunTask : public PoolTask {
 public:
  RunTask(std::unique_ptr<RunJob> job, Napi::Value header, Napi::Value data, Napi::Function callback)
      : job_(std::move(job)),
        header_(Napi::Persistent(header.As<Napi::Object>())),
        data_(Napi::Persistent(data.As<Napi::Object>())),
        callback_(Napi::Persistent(callback)) {}

  void Execute() override {
    try {
      job_->Execute();
    } catch (const BindingError& e) {
      failure_ = e;
    } catch (const std::exception& e) {
      failure_ = BindingError("FAIL", e.what());
    }
  }

  void Complete(Napi::Env env) override {
    Napi::Value error = env.Null();
    Napi::Value results = env.Undefined();
    if (failure_) {
      error = MakeError(env, failure_->code(), failure_->what()).Value();
    } else {
      try {
        results = Guard(env, [&] { return job_->Results(env, header_.Value()); });
      } catch (const Napi::Error& e) {
        error = e.Value();
      }
    }
    callback_.Call({error, results});
  }

 private:
  std::unique_ptr<RunJob> job_;
  // The header and the arrays whose memory the job's tensors borrow stay referenced
  // until the run ends.
  Napi::ObjectReference header_;
  Napi::ObjectReference data_;
  Napi::FunctionReference callback_;
  std::optional<BindingError> failure_;
};

}  // namespace

void QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value header, Napi::Value data,
              Napi::Function callback) {
  QueueOnPool(env, std::make_unique<RunTask>(std::move(job), header, data, callback));
}

}  // namespace onnx_native
