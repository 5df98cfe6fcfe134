// Runs the first subgraph of a TFLite model (models/tflite_reader.h) in fp32, NHWC, batch 1, at
// the shapes stored in the file (the model's native input size). plan() prepares everything once:
// constants dequantized to float (fp16, uint8, int8 weights), one buffer per activation, the
// convolutions compiled on oneDNN (asymmetric SAME padding as TFLite computes it, fused
// activation as a post-op); run() then allocates nothing. The other operators are plain loops.
// Fully quantized graphs (int8 activations, one scale each) run the same way: each int8 tensor
// holds the float values it stands for, rounded to its grid after the operator that writes it,
// which reproduces the integer kernels up to their fixed-point rounding. The input and output
// are floats either way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/tflite_reader.h"

namespace mattecast::tflite {

class Graph {
 public:
  explicit Graph(Model model);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const Model& model() const { return model_; }
  // The input tensor's values (NHWC float, its shape as in the file), filled by the caller.
  float* input();
  const std::vector<int32_t>& input_shape() const;
  // After run(): the output tensor's values.
  const float* output() const;
  const std::vector<int32_t>& output_shape() const;
  void run();
  // Any tensor's float values after run() (constants: dequantized; empty if never computed), for
  // diagnostics and tests.
  const std::vector<float>& values(int tensor) const;

 private:
  struct Impl;
  Model model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast::tflite
