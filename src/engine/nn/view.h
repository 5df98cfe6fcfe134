// A view of an NHWC activation (batch 1): h rows of w pixels, each pixel `c` contiguous channels.
// Pixels are `pixel_stride` elements apart, so a view can be a channel slice of a wider buffer
// (the concatenations of the decoder are written in place this way).
#pragma once

#include <cstddef>

namespace mattecast {

template <typename T>
struct View {
  T* data = nullptr;
  int h = 0;
  int w = 0;
  int c = 0;
  ptrdiff_t pixel_stride = 0;  // >= c

  T* pixel(int y, int x) const { return data + (ptrdiff_t(y) * w + x) * pixel_stride; }
  T* row(int y) const { return pixel(y, 0); }
  size_t pixels() const { return size_t(h) * size_t(w); }
  bool dense() const { return pixel_stride == c; }

  // Channels [first, first + count) of this view.
  View channels(int first, int count) const { return {data + first, h, w, count, pixel_stride}; }
  operator View<const T>() const { return {data, h, w, c, pixel_stride}; }
};

template <typename T>
View<const T> as_const(View<T> view) {
  return view;
}

template <typename T>
View<T> dense_view(T* data, int h, int w, int c) {
  return {data, h, w, c, c};
}

}  // namespace mattecast
