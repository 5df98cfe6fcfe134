// What the kernel tests (test_kernels*.cpp) share: tensors and frames with sentinels around
// their views, comparisons, and loops over the SIMD targets, thread counts and element types.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/kernels.h"

namespace mattecast::kernel_test {

namespace fast = kernels;
namespace ref = kernels::reference;

inline float to_float(float value) { return value; }
inline float to_float(bf16 value) { return float(value); }

// Storage that the tests fill with this before a kernel runs: untouched elements must keep it.
constexpr float kSentinel = -1234.5f;

// An h x w tensor of `stride` elements per pixel, viewed as channels [offset, offset + c).
template <typename T>
struct Tensor {
  int h, w, c, stride, offset;
  std::vector<T> data;

  Tensor(int h_, int w_, int c_, int stride_ = 0, int offset_ = 0)
      : h(h_),
        w(w_),
        c(c_),
        stride(stride_ ? stride_ : c_),
        offset(offset_),
        data(size_t(h_) * w_ * stride, T(kSentinel)) {}

  View<T> view() { return {data.data() + offset, h, w, c, stride}; }
  View<const T> cview() const { return {data.data() + offset, h, w, c, stride}; }
  bool in_view(size_t index) const {
    const int channel = int(index % size_t(stride));
    return channel >= offset && channel < offset + c;
  }
  void fill(float value) {
    for (T& element : data) element = T(value);
  }
  // Random values in the view, kSentinel outside it.
  void randomize(std::mt19937& rng, float low, float high) {
    std::uniform_real_distribution<float> dist(low, high);
    for (size_t i = 0; i < data.size(); ++i) data[i] = T(in_view(i) ? dist(rng) : kSentinel);
  }
};

// An 8-bit RGB frame whose rows are padded; the buffer ends right after the last pixel so that the
// sanitizer catches reads past it.
struct Frame {
  int width, height;
  ptrdiff_t stride;
  std::vector<uint8_t> bytes;

  Frame(int width_, int height_, std::mt19937& rng)
      : width(width_),
        height(height_),
        stride(3 * width_ + 7),
        bytes(size_t(height_ - 1) * stride + 3 * width_) {
    std::uniform_int_distribution<int> dist(0, 255);
    for (uint8_t& byte : bytes) byte = uint8_t(dist(rng));
  }
  RgbImage image() const { return {bytes.data(), width, height, stride}; }
};

template <typename T>
constexpr float relative_tolerance() {
  return std::is_same_v<T, bf16> ? 1.0f / 128 : 1e-6f;  // one bf16 rounding step may differ
}

// Elements in the view agree within abs_tol + rel_tol * |expected|; elements outside keep
// kSentinel.
template <typename T>
testing::AssertionResult tensors_match(const Tensor<T>& expected, const Tensor<T>& actual,
                                       float abs_tol = 1e-6f,
                                       float rel_tol = relative_tolerance<T>()) {
  for (size_t i = 0; i < actual.data.size(); ++i) {
    const float e = to_float(expected.data[i]), a = to_float(actual.data[i]);
    if (!actual.in_view(i)) {
      if (a != to_float(T(kSentinel)))
        return testing::AssertionFailure()
               << "element " << i << " outside the view was written: " << a;
      continue;
    }
    if (!(std::abs(a - e) <= abs_tol + rel_tol * std::abs(e)))
      return testing::AssertionFailure()
             << "element " << i << " (pixel " << i / actual.stride << ", channel "
             << i % actual.stride - actual.offset << "): expected " << e << ", got " << a;
  }
  return testing::AssertionSuccess();
}

inline testing::AssertionResult arrays_match(const std::vector<float>& expected,
                                             const std::vector<float>& actual,
                                             float abs_tol = 1e-6f) {
  for (size_t i = 0; i < actual.size(); ++i)
    if (!(std::abs(actual[i] - expected[i]) <= abs_tol))
      return testing::AssertionFailure()
             << "element " << i << ": expected " << expected[i] << ", got " << actual[i];
  return testing::AssertionSuccess();
}

// Runs `check` with the fast kernels on every SIMD target they can use at this CPU tier (AVX-512,
// AVX2, SSE4, the scalar fallback), each with 1 and 2 OpenMP threads.
template <class Check>
void for_each_config(const Check& check) {
  const int saved_threads = omp_get_max_threads();
  for (const std::string& target : fast::kernel_targets()) {
    fast::use_kernel_target(target);
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      SCOPED_TRACE(testing::Message() << "target=" << target << " threads=" << threads);
      check();
    }
  }
  fast::use_kernel_target(fast::kernel_targets().front());
  omp_set_num_threads(saved_threads);
}

template <class F>
void for_each_type(const F& f) {
  f(float{});
  f(bf16{});
}

template <class F>
void for_each_type_pair(const F& f) {
  for_each_type([&](auto t) { for_each_type([&](auto u) { f(t, u); }); });
}

struct Size {
  int h, w;
};
inline constexpr Size kSizes[] = {{1, 1}, {3, 5}, {17, 31}, {23, 40}, {135, 240}};

inline std::string type_name(float) { return "float"; }
inline std::string type_name(bf16) { return "bf16"; }

#define TRACE_TYPES(...) SCOPED_TRACE(testing::Message() << "types " << __VA_ARGS__)

}  // namespace mattecast::kernel_test
