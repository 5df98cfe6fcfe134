// A lens (bokeh) blur on an 8-channel grid: every cell becomes the weighted mean of the cells
// within a disc of `radius` cells (weight clamp(radius + 1/2 - distance, 0, 1): the rim
// anti-aliased alike in every direction), near the borders the mean of the disc's part inside.
#pragma once

#include <vector>

namespace mattecast::compose_detail {

class DiscBlur {
 public:
  // data: height x width cells of 8 floats, blurred in place; the 8th channel is free (it comes
  // back as 1). Method: the cells copied into a zero border, the 8th channel set to 1 so that it
  // sums the weights that fall inside the frame; prefix sums along each row, so each row of the
  // disc is one span of whole cells (two lookups, whatever the radius) plus its few partial rim
  // cells. No allocation once sized; threads as in composite.h.
  void apply(float* data, int width, int height, float radius, int threads = 1);

 private:
  struct RimTap {
    int dx;
    float weight;
  };
  struct DiscRow {
    int full = -1;                   // cells with |dx| <= full weigh 1 (-1: none)
    int rim_begin = 0, rim_end = 0;  // its partial cells in rim_
  };
  void plan(int width, int height, float radius);

  int width_ = 0, height_ = 0, reach_ = 0;
  float radius_ = -1;
  std::vector<float> padded_;  // (height + 2 reach) x (width + 2 reach) cells, zero border
  std::vector<float> prefix_;  // per padded row: width + 2 reach + 1 running sums
  std::vector<DiscRow> rows_;  // for dy = -reach .. reach
  std::vector<RimTap> rim_;
};

}  // namespace mattecast::compose_detail
