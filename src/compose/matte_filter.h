// Edge controls from the portrait-segmentation tradition, applied to the alpha before compositing:
// feathering (a blur of the alpha), a smooth-step remap of the edge, and optional temporal
// smoothing. All off by default: RVM's alpha is already soft and stable in time.
#pragma once

#include <memory>

namespace mattecast {

struct MatteFilterParams {
  float feather_px = 0;    // Gaussian-like blur radius of the alpha, pixels; 0: off
  float edge_low = 0;      // smooth-step: alpha <= low becomes 0, >= high becomes 1, in between
  float edge_high = 1;     //   3t^2 - 2t^3; (0, 1) is the identity
  float temporal = 0;      // 0..1: weight of the previous frame's filtered alpha; 0: off
  bool active() const { return feather_px > 0 || edge_low > 0 || edge_high < 1 || temporal > 0; }
};

class MatteFilter {
 public:
  MatteFilter();
  ~MatteFilter();
  MatteFilter(MatteFilter&&) noexcept;
  MatteFilter& operator=(MatteFilter&&) noexcept;

  // Filters width x height alpha in place. Buffers are kept between calls (reallocated only when
  // the size changes); a size change or reset() restarts the temporal smoothing.
  void apply(const MatteFilterParams& params, float* alpha, int width, int height);
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
