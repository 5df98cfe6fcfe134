// int8 calibration: the largest |x| each int8 layer's input reaches on representative video,
// measured once by an fp32 run (`mattecast calibrate`) and stored as JSON with a fingerprint of
// the weights it was measured with. Built in for the official RVM weights.
#pragma once

#include <string>
#include <string_view>

#include "models/rvm.h"
#include "models/rvm_weights.h"

namespace mattecast {

struct Int8Calibration {
  std::string weights;  // weights_fingerprint() of the model it was measured with
  Int8Ranges ranges;
  int frames = 0;  // how many frames the ranges were observed over
};

// 16 hex digits: FNV-1a over every layer's weights and biases in network order.
std::string weights_fingerprint(const RvmWeights& weights);

// Parses calibration JSON; `source` names it in errors (a file path, or "built-in").
Int8Calibration parse_int8_calibration(std::string_view json, const std::string& source);
std::string to_json(const Int8Calibration& calibration);

// The calibration for `weights`: read from `path`, or the built-in one when `path` is empty.
// Throws Error when there is none for these weights, or the file's was made for other weights.
Int8Calibration load_int8_calibration(const RvmWeights& weights, const std::string& path);

}  // namespace mattecast
