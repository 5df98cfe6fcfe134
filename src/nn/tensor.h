// An NHWC activation buffer whose element type (float or bf16) is chosen at plan time.
// Storage is allocated when a plan is made and reused for every frame after.
#pragma once

#include <cassert>
#include <cstddef>
#include <type_traits>

#include "core/aligned_buffer.h"
#include "core/bf16.h"
#include "nn/conv.h"
#include "nn/view.h"

namespace mattecast {

class Tensor {
 public:
  void allocate(int h, int w, int c, DataType type) {
    reserve(size_t(h) * w * c, type);
    reshape(h, w, c);
  }
  // Capacity for `elements` values; reshape() then picks any shape that fits, allocation-free.
  void reserve(size_t elements, DataType type) {
    type_ = type;
    storage_.resize(elements * element_size(type));
  }
  void reshape(int h, int w, int c) {
    assert(size_t(h) * w * c * element_size(type_) <= storage_.size());
    h_ = h, w_ = w, c_ = c;
  }

  DataType type() const { return type_; }
  int h() const { return h_; }
  int w() const { return w_; }
  int c() const { return c_; }
  void* data() { return storage_.data(); }
  const void* data() const { return storage_.data(); }

  template <typename T>
  View<T> view() {
    assert((std::is_same_v<T, float>) == (type_ == DataType::f32));
    return dense_view(reinterpret_cast<T*>(storage_.data()), h_, w_, c_);
  }
  template <typename T>
  View<const T> view() const {
    assert((std::is_same_v<T, float>) == (type_ == DataType::f32));
    return dense_view(reinterpret_cast<const T*>(storage_.data()), h_, w_, c_);
  }

 private:
  AlignedBuffer<std::byte> storage_;
  int h_ = 0, w_ = 0, c_ = 0;
  DataType type_ = DataType::f32;
};

// Calls f with the tensor's channels [first, first + count) as a View of its element type.
template <typename Tn, typename F>
void with_view(Tn& tensor, F&& f, int first = 0, int count = -1) {
  if (count < 0) count = tensor.c() - first;
  if (tensor.type() == DataType::f32)
    f(tensor.template view<float>().channels(first, count));
  else
    f(tensor.template view<bf16>().channels(first, count));
}

}  // namespace mattecast
