#include "run_job.h"

#include <optional>
#include <string>

#include "addon_data.h"
#include "session.h"
#include "tensor.h"

namespace onnx_native {
namespace {

Napi::Array FlatList(Napi::Value value, const char* what) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() % 4 != 0) {
    throw BindingError("INVALID_ARGUMENT", std::string(what) + " must be a flat list of [index, type, dims, data]");
  }
  return value.As<Napi::Array>();
}

uint32_t IndexIn(Napi::Value value, size_t count, const char* code, const char* noun) {
  double index = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(index >= 0 && index < static_cast<double>(count))) {
    throw BindingError(code, std::string("no ") + noun + " at index " + value.ToString().Utf8Value());
  }
  return static_cast<uint32_t>(index);
}

}  // namespace

RunJob::RunJob(Napi::Env env, std::shared_ptr<SessionCore> core, Napi::Value inputs, Napi::Value outputs,
               std::shared_ptr<OrtRunOptions> runOptions)
    : core_(std::move(core)), runOptions_(std::move(runOptions)) {
  Napi::Array in = FlatList(inputs, "inputs");
  for (uint32_t i = 0; i < in.Length(); i += 4) {
    uint32_t index = IndexIn(in.Get(i), core_->inputNames.size(), "INVALID_INPUT_NAME", "input");
    int type = in.Get(i + 1).ToNumber().Int32Value();
    inputNames_.push_back(core_->inputNames[index]);
    inputOwners_.push_back(TensorFromJs(env, type, DimsFromJs(in.Get(i + 2)), in.Get(i + 3)));
    inputs_.push_back(inputOwners_.back().get());
  }

  Napi::Array out = FlatList(outputs, "outputs");
  for (uint32_t i = 0; i < out.Length(); i += 4) {
    uint32_t index = IndexIn(out.Get(i), core_->outputNames.size(), "INVALID_OUTPUT_NAME", "output");
    int type = out.Get(i + 1).ToNumber().Int32Value();
    outputNames_.push_back(core_->outputNames[index]);
    if (type == 0) {
      outputOwners_.emplace_back();
    } else {
      outputOwners_.push_back(TensorFromJs(env, type, DimsFromJs(out.Get(i + 2)), out.Get(i + 3)));
    }
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
  Napi::Array results = Napi::Array::New(env, outputs_.size() * 3);
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!providedByCaller_[i]) {
      TensorToJs(env, std::move(outputOwners_[i]), core_, results, static_cast<uint32_t>(i * 3));
    }
  }
  return results;
}

namespace {

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value inputs, Napi::Value outputs)
      : Napi::AsyncWorker(env, "onnx-native:run"),
        deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)),
        inputs_(Napi::Persistent(inputs.As<Napi::Object>())),
        outputs_(Napi::Persistent(outputs.As<Napi::Object>())) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_->Execute();
    } catch (const BindingError& e) {
      failure_ = e;
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Guard(env, [&] { return job_->Results(env); }));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error&) override {
    deferred_.Reject(MakeError(Env(), failure_->code(), failure_->what()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<RunJob> job_;
  // The arrays whose memory the job's tensors borrow: referenced until the run ends.
  Napi::ObjectReference inputs_;
  Napi::ObjectReference outputs_;
  std::optional<BindingError> failure_;
};

}  // namespace

Napi::Promise QueueRun(Napi::Env env, std::unique_ptr<RunJob> job, Napi::Value inputs, Napi::Value outputs) {
  // AsyncWorker deletes itself after OnOK/OnError, on the JavaScript thread.
  auto worker = std::make_unique<RunWorker>(env, std::move(job), inputs, outputs);
  Napi::Promise promise = worker->Promise();
  worker.release()->Queue();
  return promise;
}

}  // namespace onnx_native
