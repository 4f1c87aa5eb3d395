// A vector that keeps its first N elements inline: a run's handful of inputs and
// outputs, and a tensor's dims, without a heap allocation on every call.
#pragma once

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

namespace onnx_native {

template <typename T, size_t N>
class SmallVector {
 public:
  void push_back(T value) {
    if (size_ < N && heap_.empty()) {
      inline_[size_++] = std::move(value);
      return;
    }
    if (heap_.empty()) {
      heap_.reserve(2 * N);
      for (size_t i = 0; i < size_; ++i) heap_.push_back(std::move(inline_[i]));
    }
    heap_.push_back(std::move(value));
    ++size_;
  }

  T* data() { return heap_.empty() ? inline_.data() : heap_.data(); }
  const T* data() const { return heap_.empty() ? inline_.data() : heap_.data(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }

 private:
  std::array<T, N> inline_{};
  std::vector<T> heap_;
  size_t size_ = 0;
};

}  // namespace onnx_native
