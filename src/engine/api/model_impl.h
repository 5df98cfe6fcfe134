// What a loaded Model holds: its description and the validated, BatchNorm-folded weights.
#pragma once

#include "mattecast/mattecast.h"
#include "models/rvm_weights.h"
#include "models/segmentation_profile.h"

namespace mattecast {

struct Model::Impl {
  ModelInfo info;
  RvmWeights weights;  // RVM ("pth", "tfjs")
  // A light segmentation network ("tflite"): the file, run by each session's own Segmenter.
  std::vector<uint8_t> tflite_bytes;
  SegmentationProfile profile;
  bool light() const { return !tflite_bytes.empty(); }
};

}  // namespace mattecast
