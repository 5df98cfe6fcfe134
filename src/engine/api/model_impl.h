// What a loaded Model holds: its description and the validated, BatchNorm-folded weights.
#pragma once

#include "mattecast/mattecast.h"
#include "models/rvm_weights.h"

namespace mattecast {

struct Model::Impl {
  ModelInfo info;
  RvmWeights weights;
};

}  // namespace mattecast
