// PyTorch `torch.save` state_dict files (zip archive: a pickle plus raw storages).
// The pickle is parsed by a restricted reader that understands only what torch.save emits for a
// dict of tensors; anything else (other globals, other opcodes) is rejected, never executed.
#pragma once

#include <string>

#include "models/weights.h"

namespace mattecast {

// Floating tensors (float32, float16, bfloat16, float64) are returned as float; integer tensors
// (BatchNorm's num_batches_tracked) are skipped. Throws Error naming the file and the problem.
WeightMap read_pth(const std::string& path);

}  // namespace mattecast
