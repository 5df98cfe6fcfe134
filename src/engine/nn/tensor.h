// An NHWC activation buffer whose element type (float or bf16) is chosen at plan time.
// Storage is allocated when a plan is made and reused for every frame after.
#pragma once

#include <algorithm>
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
  // Bytes allocated past every tensor's end: oneDNN 2.6's AMX 1x1 kernels with a post-op
  // (jit_1x1:avx512_core_amx_bf16) write whole 16-pixel tiles, past the end of a destination
  // whose pixel count is not a multiple of 16 (measured: 1280 bytes for 40 channels at 6x8).
  static constexpr size_t kOverrunSlack = 16 * 960 * sizeof(float);

  void allocate(int h, int w, int c, DataType type) {
    reserve(size_t(h) * w * c, type);
    reshape(h, w, c);
  }
  // Capacity for `elements` values; reshape() then picks any shape that fits, allocation-free.
  void reserve(size_t elements, DataType type) {
    type_ = type;
    borrowed_ = nullptr;
    storage_.resize(std::max(storage_.size(), elements * element_size(type) + kOverrunSlack));
  }
  void reshape(int h, int w, int c) {
    assert(size_t(h) * w * c * element_size(type_) <= capacity_bytes());
    h_ = h, w_ = w, c_ = c;
  }
  // Uses `owner`'s storage: for an activation whose lifetime never overlaps the owner's.
  // The owner must be reserved large enough for both and outlive this tensor.
  void alias(Tensor& owner, int h, int w, int c, DataType type) {
    borrowed_ = &owner;
    type_ = type;
    reshape(h, w, c);
  }

  DataType type() const { return type_; }
  int h() const { return h_; }
  int w() const { return w_; }
  int c() const { return c_; }
  size_t capacity_bytes() const { return borrowed_ ? borrowed_->storage_.size() : storage_.size(); }
  void* data() { return bytes(); }
  const void* data() const { return bytes(); }

  template <typename T>
  View<T> view() {
    assert((std::is_same_v<T, float>) == (type_ == DataType::f32));
    return dense_view(reinterpret_cast<T*>(bytes()), h_, w_, c_);
  }
  template <typename T>
  View<const T> view() const {
    assert((std::is_same_v<T, float>) == (type_ == DataType::f32));
    return dense_view(reinterpret_cast<const T*>(bytes()), h_, w_, c_);
  }

 private:
  std::byte* bytes() const {
    return borrowed_ ? borrowed_->storage_.data() : const_cast<std::byte*>(storage_.data());
  }

  AlignedBuffer<std::byte> storage_;
  Tensor* borrowed_ = nullptr;
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
