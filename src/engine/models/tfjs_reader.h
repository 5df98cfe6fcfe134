// The official RVM TensorFlow.js release: model.json (graph + weightsManifest) and its .bin
// shards of uint8 per-tensor affine quantized weights. Converted to PyTorch's key names and
// layouts, so the result equals read_pth() on the matching state_dict.
#pragma once

#include <string>

#include "models/weights.h"

namespace mattecast {

// `path` is model.json or the folder holding it.
WeightMap read_tfjs(const std::string& path);

}  // namespace mattecast
