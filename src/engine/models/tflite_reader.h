// TensorFlow Lite flatbuffers (schema version 3): the first subgraph's tensors, constant data and
// operators, read by a hand-written reader of the schema fields mattecast needs. The file is
// untrusted: every offset, vtable, vector length, string, buffer index, tensor index and shape is
// checked against the file's bytes before it is used; anything out of range, any operator or
// tensor type outside the supported set, raises Error naming the file and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mattecast::tflite {

// TensorType values of the schema (the ones accepted; others are rejected by name).
enum class TensorType : int8_t {
  float32 = 0,
  float16 = 1,
  int32 = 2,
  uint8 = 3,
  int64 = 4,
  int8 = 9,
};
const char* to_string(TensorType type);
size_t element_size(TensorType type);

// BuiltinOperator values of the schema for the operators accepted; `custom` carries a name.
enum class Op : int32_t {
  add = 0,
  average_pool_2d = 1,
  concatenation = 2,
  conv_2d = 3,
  depthwise_conv_2d = 4,
  dequantize = 6,
  logistic = 14,
  max_pool_2d = 17,
  mul = 18,
  relu = 19,
  relu6 = 21,
  reshape = 22,
  resize_bilinear = 23,
  softmax = 25,
  custom = 32,
  pad = 34,
  mean = 40,
  strided_slice = 45,
  prelu = 54,
  transpose_conv = 67,
  hard_swish = 117,
};
// The schema's name of a builtin operator code ("CONV_2D"); "BUILTIN_<n>" for codes not listed.
std::string builtin_name(int32_t code);

enum class Padding : int8_t { same = 0, valid = 1 };
enum class Activation : int8_t { none = 0, relu = 1, relu_n1_to_1 = 2, relu6 = 3, tanh = 4 };

// The builtin options of the supported operators, flattened; fields an operator lacks keep their
// defaults (the schema's defaults).
struct Options {
  Padding padding = Padding::same;
  int stride_w = 1, stride_h = 1;
  int dilation_w = 1, dilation_h = 1;
  int depth_multiplier = 1;
  int filter_w = 1, filter_h = 1;  // pools
  Activation activation = Activation::none;
  int axis = 0;                    // CONCATENATION
  bool align_corners = false;      // RESIZE_BILINEAR
  bool half_pixel_centers = false;
  float beta = 1.0f;               // SOFTMAX
  bool keep_dims = false;          // MEAN
  int begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0, shrink_axis_mask = 0;
  bool slice_offset = false;       // STRIDED_SLICE
  std::vector<int32_t> new_shape;  // RESHAPE (may be empty: the shape input decides)
};

struct Quantization {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int quantized_dimension = 0;
  bool empty() const { return scale.empty(); }
};

struct Tensor {
  std::string name;
  TensorType type = TensorType::float32;
  std::vector<int32_t> shape;  // every dimension >= 0 (a scalar has none)
  // Constant data (little-endian, `elements() * element_size(type)` bytes), a view into the
  // model's bytes; empty for activations.
  std::span<const uint8_t> data;
  Quantization quantization;
  bool is_variable = false;
  size_t elements() const;
  bool constant() const { return !data.empty(); }
};

struct Operator {
  Op op = Op::add;
  std::string name;  // "CONV_2D", or the custom code ("Convolution2DTransposeBias")
  int version = 1;
  std::vector<int32_t> inputs;   // tensor indices; -1 marks an omitted optional input
  std::vector<int32_t> outputs;
  Options options;
  std::span<const uint8_t> custom_options;  // a view into the model's bytes
};

struct Model {
  std::string path;
  uint32_t version = 0;
  std::string description;
  std::vector<Tensor> tensors;  // of the first subgraph
  std::vector<Operator> operators;
  std::vector<int32_t> inputs, outputs;
  std::vector<uint8_t> bytes;  // the file; Tensor::data and Operator::custom_options point here

  Model() = default;
  Model(const Model&) = delete;  // the spans point into `bytes`
  Model& operator=(const Model&) = delete;
  Model(Model&&) = default;  // a moved vector keeps its storage
  Model& operator=(Model&&) = default;
};

// Reads a .tflite file (at most 1 GiB). Throws Error naming `path` and the problem.
Model read_tflite(const std::string& path);
// The same from bytes already in memory; `name` stands for the file in messages.
Model parse_tflite(std::span<const uint8_t> bytes, const std::string& name);

// MediaPipe's custom transposed convolution with bias: inputs (input, weights [O,H,W,I], bias [O]);
// its custom options are TfLiteTransposeConvParams (int32 padding: 1 same, 2 valid; stride w, h).
inline constexpr const char* kConvolution2DTransposeBias = "Convolution2DTransposeBias";

}  // namespace mattecast::tflite
