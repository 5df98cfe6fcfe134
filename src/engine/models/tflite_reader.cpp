#include "models/tflite_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

#include "mattecast/mattecast.h"

namespace mattecast::tflite {

namespace {

static_assert(std::endian::native == std::endian::little, "flatbuffers are little-endian");

constexpr uintmax_t kMaxFileBytes = uintmax_t(1) << 30;
constexpr size_t kMaxTensors = 1 << 16;
constexpr size_t kMaxOperators = 1 << 16;
constexpr size_t kMaxRank = 8;
constexpr size_t kMaxElements = size_t(1) << 28;  // per tensor: 1 GiB of float
constexpr size_t kMaxOperands = 1 << 10;           // inputs or outputs of one operator

// A checked view of a flatbuffer: every read names the file on failure.
class Buffer {
 public:
  Buffer(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: not a valid TensorFlow Lite model: {}", name_, what));
  }

  template <typename T>
  T read(size_t pos, const char* what) const {
    if (pos > bytes_.size() || bytes_.size() - pos < sizeof(T))
      fail(fmt::format("{} at byte {} lies outside the file ({} bytes)", what, pos, bytes_.size()));
    T value;
    std::memcpy(&value, bytes_.data() + pos, sizeof(T));
    return value;
  }
  // The target of the uoffset stored at `pos`.
  size_t follow(size_t pos, const char* what) const {
    const uint32_t offset = read<uint32_t>(pos, what);
    const size_t target = pos + offset;
    if (offset == 0 || target >= bytes_.size())
      fail(fmt::format("{}: offset {} at byte {} points outside the file", what, offset, pos));
    return target;
  }
  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const std::string& name() const { return name_; }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
};

// A table: its position and its vtable, checked once.
class Table {
 public:
  Table(const Buffer& buffer, size_t pos, const char* what) : buffer_(&buffer), pos_(pos), what_(what) {
    const int32_t soffset = buffer.read<int32_t>(pos, what);
    const int64_t vtable = int64_t(pos) - int64_t(soffset);
    if (vtable < 0 || vtable >= int64_t(buffer.size()))
      buffer.fail(fmt::format("{}: vtable offset {} at byte {} points outside the file", what,
                              soffset, pos));
    vtable_ = size_t(vtable);
    vtable_size_ = buffer.read<uint16_t>(vtable_, what);
    table_size_ = buffer.read<uint16_t>(vtable_ + 2, what);
    if (vtable_size_ < 4 || vtable_size_ % 2 != 0 || buffer.size() - vtable_ < vtable_size_)
      buffer.fail(fmt::format("{}: vtable at byte {} has a bad size {}", what, vtable_, vtable_size_));
    if (table_size_ < 4 || buffer.size() - pos < table_size_)
      buffer.fail(fmt::format("{}: table at byte {} of {} bytes runs past the end", what, pos,
                              table_size_));
  }

  // The position of field `index` holding `size` bytes, or nothing when absent.
  std::optional<size_t> field(int index, size_t size) const {
    const size_t entry = 4 + 2 * size_t(index);
    if (entry + 2 > vtable_size_) return std::nullopt;
    const uint16_t offset = buffer_->read<uint16_t>(vtable_ + entry, what_);
    if (offset == 0) return std::nullopt;
    if (offset < 4 || size_t(offset) + size > table_size_)
      buffer_->fail(fmt::format("{}: field {} at offset {} lies outside its table ({} bytes)", what_,
                                index, offset, table_size_));
    return pos_ + offset;
  }

  template <typename T>
  T scalar(int index, T fallback) const {
    const auto pos = field(index, sizeof(T));
    return pos ? buffer_->read<T>(*pos, what_) : fallback;
  }

  // A sub-table, or nothing.
  std::optional<Table> table(int index, const char* what) const {
    const auto pos = field(index, 4);
    if (!pos) return std::nullopt;
    return Table(*buffer_, buffer_->follow(*pos, what), what);
  }

  // A vector: its element count and the position of its first element, each element `size`
  // bytes, every byte inside the file. Absent: count 0.
  struct Vector {
    size_t count = 0;
    size_t first = 0;
  };
  Vector vector(int index, size_t element_size, const char* what, size_t max_count) const {
    const auto pos = field(index, 4);
    if (!pos) return {};
    const size_t at = buffer_->follow(*pos, what);
    const uint32_t count = buffer_->read<uint32_t>(at, what);
    if (count > max_count)
      buffer_->fail(fmt::format("{}: vector of {} elements at byte {} (at most {})", what, count, at,
                                max_count));
    const size_t first = at + 4;
    if (first > buffer_->size() || (buffer_->size() - first) / element_size < count)
      buffer_->fail(fmt::format("{}: vector of {} elements at byte {} runs past the end of the file",
                                what, count, at));
    return {count, first};
  }

  template <typename T>
  std::vector<T> scalars(int index, const char* what, size_t max_count) const {
    const Vector v = vector(index, sizeof(T), what, max_count);
    std::vector<T> out(v.count);
    if (v.count) std::memcpy(out.data(), buffer_->bytes().data() + v.first, v.count * sizeof(T));
    return out;
  }

  std::span<const uint8_t> bytes(int index, const char* what) const {
    const Vector v = vector(index, 1, what, std::numeric_limits<uint32_t>::max());
    return buffer_->bytes().subspan(v.first, v.count);
  }

  std::string string(int index, const char* what) const {
    const auto data = bytes(index, what);
    return std::string(data.begin(), data.end());
  }

  // The i-th table of a vector of tables.
  Table element(const Vector& v, size_t i, const char* what) const {
    return Table(*buffer_, buffer_->follow(v.first + 4 * i, what), what);
  }

 private:
  const Buffer* buffer_;
  size_t pos_;
  size_t vtable_ = 0;
  uint16_t vtable_size_ = 0, table_size_ = 0;
  const char* what_;
};

struct NamedCode {
  int32_t code;
  const char* name;
};

// The schema's BuiltinOperator names (tensorflow/lite/schema/schema.fbs), up to HARD_SWISH and a
// few after: enough to name any operator a segmentation model is likely to hold.
constexpr const char* kBuiltinNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2",
    "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL",
    "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK",
    "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V",
    "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF",
    "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL"};

bool supported(int32_t code) {
  switch (Op(code)) {
    case Op::add: case Op::average_pool_2d: case Op::concatenation: case Op::conv_2d:
    case Op::depthwise_conv_2d: case Op::dequantize: case Op::logistic: case Op::max_pool_2d:
    case Op::mul: case Op::relu: case Op::relu6: case Op::reshape: case Op::resize_bilinear:
    case Op::softmax: case Op::custom: case Op::pad: case Op::mean: case Op::strided_slice:
    case Op::prelu: case Op::transpose_conv: case Op::hard_swish:
      return true;
  }
  return false;
}

const char* type_name(int8_t type) {
  constexpr const char* kNames[] = {"FLOAT32", "FLOAT16", "INT32",     "UINT8",   "INT64",
                                    "STRING",  "BOOL",    "INT16",     "COMPLEX64", "INT8",
                                    "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT",
                                    "UINT32",  "UINT16",  "INT4"};
  if (type >= 0 && size_t(type) < std::size(kNames)) return kNames[type];
  return nullptr;
}

bool type_supported(int8_t type) {
  switch (TensorType(type)) {
    case TensorType::float32: case TensorType::float16: case TensorType::int32:
    case TensorType::uint8: case TensorType::int64: case TensorType::int8:
      return true;
  }
  return false;
}

Activation read_activation(const Buffer& buffer, int8_t value, const std::string& op) {
  if (value < 0 || value > int8_t(Activation::tanh))
    buffer.fail(fmt::format("{}: unsupported fused activation {}", op, value));
  return Activation(value);
}

Padding read_padding(const Buffer& buffer, int8_t value, const std::string& op) {
  if (value != int8_t(Padding::same) && value != int8_t(Padding::valid))
    buffer.fail(fmt::format("{}: unknown padding {}", op, value));
  return Padding(value);
}

void check_positive(const Buffer& buffer, int value, const char* what, const std::string& op) {
  if (value < 1 || value > 1 << 16)
    buffer.fail(fmt::format("{}: {} {} (must be 1 to 65536)", op, what, value));
}

// The builtin options table of `op` (schema: Conv2DOptions, Pool2DOptions, ...).
Options read_options(const Buffer& buffer, Op op, const std::optional<Table>& t,
                     const std::string& name) {
  Options o;
  if (!t) return o;
  switch (op) {
    case Op::conv_2d:
      o.padding = read_padding(buffer, t->scalar<int8_t>(0, 0), name);
      o.stride_w = t->scalar<int32_t>(1, 0);
      o.stride_h = t->scalar<int32_t>(2, 0);
      o.activation = read_activation(buffer, t->scalar<int8_t>(3, 0), name);
      o.dilation_w = t->scalar<int32_t>(4, 1);
      o.dilation_h = t->scalar<int32_t>(5, 1);
      break;
    case Op::depthwise_conv_2d:
      o.padding = read_padding(buffer, t->scalar<int8_t>(0, 0), name);
      o.stride_w = t->scalar<int32_t>(1, 0);
      o.stride_h = t->scalar<int32_t>(2, 0);
      o.depth_multiplier = t->scalar<int32_t>(3, 0);
      o.activation = read_activation(buffer, t->scalar<int8_t>(4, 0), name);
      o.dilation_w = t->scalar<int32_t>(5, 1);
      o.dilation_h = t->scalar<int32_t>(6, 1);
      // Converters leave depth_multiplier 0 where the weights' shape says it.
      if (o.depth_multiplier == 0) o.depth_multiplier = 1;
      break;
    case Op::average_pool_2d:
    case Op::max_pool_2d:
      o.padding = read_padding(buffer, t->scalar<int8_t>(0, 0), name);
      o.stride_w = t->scalar<int32_t>(1, 0);
      o.stride_h = t->scalar<int32_t>(2, 0);
      o.filter_w = t->scalar<int32_t>(3, 0);
      o.filter_h = t->scalar<int32_t>(4, 0);
      o.activation = read_activation(buffer, t->scalar<int8_t>(5, 0), name);
      check_positive(buffer, o.filter_w, "filter width", name);
      check_positive(buffer, o.filter_h, "filter height", name);
      break;
    case Op::transpose_conv:
      o.padding = read_padding(buffer, t->scalar<int8_t>(0, 0), name);
      o.stride_w = t->scalar<int32_t>(1, 0);
      o.stride_h = t->scalar<int32_t>(2, 0);
      o.activation = read_activation(buffer, t->scalar<int8_t>(3, 0), name);
      break;
    case Op::add:
    case Op::mul:
      o.activation = read_activation(buffer, t->scalar<int8_t>(0, 0), name);
      break;
    case Op::concatenation:
      o.axis = t->scalar<int32_t>(0, 0);
      o.activation = read_activation(buffer, t->scalar<int8_t>(1, 0), name);
      break;
    case Op::resize_bilinear:
      o.align_corners = t->scalar<uint8_t>(2, 0) != 0;
      o.half_pixel_centers = t->scalar<uint8_t>(3, 0) != 0;
      break;
    case Op::softmax:
      o.beta = t->scalar<float>(0, 1.0f);
      break;
    case Op::mean:
      o.keep_dims = t->scalar<uint8_t>(0, 0) != 0;
      break;
    case Op::strided_slice:
      o.begin_mask = t->scalar<int32_t>(0, 0);
      o.end_mask = t->scalar<int32_t>(1, 0);
      o.ellipsis_mask = t->scalar<int32_t>(2, 0);
      o.new_axis_mask = t->scalar<int32_t>(3, 0);
      o.shrink_axis_mask = t->scalar<int32_t>(4, 0);
      o.slice_offset = t->scalar<uint8_t>(5, 0) != 0;
      break;
    case Op::reshape:
      o.new_shape = t->scalars<int32_t>(0, "RESHAPE new_shape", kMaxRank);
      break;
    default:
      break;
  }
  if (op == Op::conv_2d || op == Op::depthwise_conv_2d || op == Op::average_pool_2d ||
      op == Op::max_pool_2d || op == Op::transpose_conv) {
    check_positive(buffer, o.stride_w, "stride width", name);
    check_positive(buffer, o.stride_h, "stride height", name);
    check_positive(buffer, o.dilation_w, "dilation width", name);
    check_positive(buffer, o.dilation_h, "dilation height", name);
    check_positive(buffer, o.depth_multiplier, "depth multiplier", name);
  }
  return o;
}

// MediaPipe's Convolution2DTransposeBias: TfLiteTransposeConvParams copied raw.
Options read_transpose_bias_options(const Buffer& buffer, std::span<const uint8_t> bytes,
                                    const std::string& name) {
  if (bytes.size() < 12)
    buffer.fail(fmt::format("{}: custom options hold {} bytes, expected 12 (padding, stride w, h)",
                            name, bytes.size()));
  int32_t values[3];
  std::memcpy(values, bytes.data(), sizeof(values));
  Options o;
  if (values[0] == 1)
    o.padding = Padding::same;
  else if (values[0] == 2)
    o.padding = Padding::valid;
  else
    buffer.fail(fmt::format("{}: unknown padding {}", name, values[0]));
  o.stride_w = values[1];
  o.stride_h = values[2];
  check_positive(buffer, o.stride_w, "stride width", name);
  check_positive(buffer, o.stride_h, "stride height", name);
  return o;
}

}  // namespace

const char* to_string(TensorType type) { return type_name(int8_t(type)); }

size_t element_size(TensorType type) {
  switch (type) {
    case TensorType::float32: case TensorType::int32: return 4;
    case TensorType::float16: return 2;
    case TensorType::uint8: case TensorType::int8: return 1;
    case TensorType::int64: return 8;
  }
  return 1;
}

std::string builtin_name(int32_t code) {
  if (code >= 0 && size_t(code) < std::size(kBuiltinNames)) return kBuiltinNames[code];
  return fmt::format("BUILTIN_{}", code);
}

size_t Tensor::elements() const {
  size_t n = 1;
  for (int32_t d : shape) n *= size_t(d);
  return n;
}

namespace {

Model parse_owned(std::vector<uint8_t> bytes, const std::string& name) {
  Model model;
  model.path = name;
  model.bytes = std::move(bytes);
  const Buffer buffer(model.bytes, model.path);
  if (buffer.size() < 8) buffer.fail(fmt::format("only {} bytes", buffer.size()));
  if (std::memcmp(model.bytes.data() + 4, "TFL3", 4) != 0)
    buffer.fail("no TFL3 file identifier at byte 4");

  const Table root(buffer, buffer.follow(0, "Model"), "Model");
  model.version = root.scalar<uint32_t>(0, 0);
  if (model.version != 3)
    buffer.fail(fmt::format("schema version {} (mattecast reads version 3)", model.version));
  model.description = root.string(3, "Model description");

  // Operator codes: the effective code is the larger of the deprecated int8 one and the int32 one.
  struct Code {
    int32_t code;
    std::string custom;
    int version;
  };
  std::vector<Code> codes;
  const auto code_vector = root.vector(1, 4, "operator_codes", kMaxOperators);
  for (size_t i = 0; i < code_vector.count; ++i) {
    const Table t = root.element(code_vector, i, "OperatorCode");
    const int32_t deprecated = t.scalar<int8_t>(0, 0);
    const int32_t code = std::max(deprecated, t.scalar<int32_t>(3, 0));
    codes.push_back({code, t.string(1, "OperatorCode custom_code"), t.scalar<int32_t>(2, 1)});
  }

  const auto buffers = root.vector(4, 4, "buffers", std::numeric_limits<uint32_t>::max() / 4);
  const auto subgraphs = root.vector(2, 4, "subgraphs", 1 << 10);
  if (subgraphs.count == 0) buffer.fail("no subgraph");
  const Table graph = root.element(subgraphs, 0, "SubGraph");

  const auto tensors = graph.vector(0, 4, "tensors", kMaxTensors);
  for (size_t i = 0; i < tensors.count; ++i) {
    const Table t = graph.element(tensors, i, "Tensor");
    Tensor tensor;
    tensor.name = t.string(3, "Tensor name");
    const std::string label = fmt::format("tensor {} '{}'", i, tensor.name);
    tensor.shape = t.scalars<int32_t>(0, "Tensor shape", kMaxRank);
    size_t elements = 1;
    for (int32_t d : tensor.shape) {
      if (d < 0) buffer.fail(fmt::format("{}: negative dimension {}", label, d));
      if (d > 0 && elements > kMaxElements / size_t(d))
        buffer.fail(fmt::format("{}: more than {} elements", label, kMaxElements));
      elements *= size_t(d);
    }
    const int8_t type = t.scalar<int8_t>(1, 0);
    if (!type_supported(type)) {
      const char* type_label = type_name(type);
      buffer.fail(fmt::format("{}: unsupported tensor type {}", label,
                              type_label ? std::string(type_label) : fmt::format("{}", type)));
    }
    tensor.type = TensorType(type);
    tensor.is_variable = t.scalar<uint8_t>(5, 0) != 0;
    const uint32_t buffer_index = t.scalar<uint32_t>(2, 0);
    if (buffer_index >= buffers.count && !(buffer_index == 0 && buffers.count == 0))
      buffer.fail(fmt::format("{}: buffer index {} (the model has {} buffers)", label, buffer_index,
                              buffers.count));
    if (buffers.count) {
      const Table b = root.element(buffers, buffer_index, "Buffer");
      if (b.scalar<uint64_t>(1, 0) > 1)
        buffer.fail(fmt::format("{}: data stored outside the flatbuffer (files over 2 GB) are "
                                "not supported", label));
      tensor.data = b.bytes(0, "Buffer data");
      if (!tensor.data.empty() && tensor.data.size() != elements * element_size(tensor.type))
        buffer.fail(fmt::format("{}: {} bytes of data for shape [{}] of {} ({} expected)", label,
                                tensor.data.size(), fmt::join(tensor.shape, ","),
                                to_string(tensor.type), elements * element_size(tensor.type)));
    }
    if (const auto q = t.table(4, "QuantizationParameters")) {
      tensor.quantization.scale = q->scalars<float>(2, "quantization scale", kMaxElements);
      tensor.quantization.zero_point = q->scalars<int64_t>(3, "quantization zero_point", kMaxElements);
      tensor.quantization.quantized_dimension = q->scalar<int32_t>(6, 0);
      const auto& qz = tensor.quantization;
      if (!qz.scale.empty()) {
        if (qz.zero_point.size() != qz.scale.size())
          buffer.fail(fmt::format("{}: {} quantization scales but {} zero points", label,
                                  qz.scale.size(), qz.zero_point.size()));
        if (qz.scale.size() > 1) {
          if (qz.quantized_dimension < 0 || size_t(qz.quantized_dimension) >= tensor.shape.size() ||
              size_t(tensor.shape[qz.quantized_dimension]) != qz.scale.size())
            buffer.fail(fmt::format("{}: {} quantization scales do not match dimension {}", label,
                                    qz.scale.size(), qz.quantized_dimension));
        }
      }
    }
    model.tensors.push_back(std::move(tensor));
  }

  const auto check_indices = [&](const std::vector<int32_t>& indices, const std::string& what,
                                 bool optional) {
    for (int32_t index : indices)
      if (index >= int32_t(model.tensors.size()) || index < (optional ? -1 : 0))
        buffer.fail(fmt::format("{}: tensor index {} (the subgraph has {} tensors)", what, index,
                                model.tensors.size()));
  };
  model.inputs = graph.scalars<int32_t>(1, "SubGraph inputs", kMaxOperands);
  model.outputs = graph.scalars<int32_t>(2, "SubGraph outputs", kMaxOperands);
  check_indices(model.inputs, "subgraph inputs", false);
  check_indices(model.outputs, "subgraph outputs", false);

  const auto operators = graph.vector(3, 4, "operators", kMaxOperators);
  for (size_t i = 0; i < operators.count; ++i) {
    const Table t = graph.element(operators, i, "Operator");
    Operator op;
    const uint32_t code_index = t.scalar<uint32_t>(0, 0);
    if (code_index >= codes.size())
      buffer.fail(fmt::format("operator {}: operator code index {} (the model has {})", i,
                              code_index, codes.size()));
    const Code& code = codes[code_index];
    op.version = code.version;
    op.name = code.code == int32_t(Op::custom) ? code.custom : builtin_name(code.code);
    if (!supported(code.code) ||
        (code.code == int32_t(Op::custom) && code.custom != kConvolution2DTransposeBias))
      buffer.fail(fmt::format("operator {}: unsupported operator {}{}", i,
                              code.code == int32_t(Op::custom) ? "CUSTOM " : "", op.name));
    op.op = Op(code.code);
    const std::string label = fmt::format("operator {} ({})", i, op.name);
    op.inputs = t.scalars<int32_t>(1, "Operator inputs", kMaxOperands);
    op.outputs = t.scalars<int32_t>(2, "Operator outputs", kMaxOperands);
    check_indices(op.inputs, label + " inputs", true);
    check_indices(op.outputs, label + " outputs", false);
    op.custom_options = t.bytes(5, "Operator custom_options");
    if (op.op == Op::custom)
      op.options = read_transpose_bias_options(buffer, op.custom_options, label);
    else
      op.options = read_options(buffer, op.op, t.table(4, "builtin_options"), label);
    model.operators.push_back(std::move(op));
  }
  return model;
}

}  // namespace

Model parse_tflite(std::span<const uint8_t> bytes, const std::string& name) {
  return parse_owned(std::vector<uint8_t>(bytes.begin(), bytes.end()), name);
}

Model read_tflite(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) throw Error(fmt::format("{}: cannot read: {}", path, error.message()));
  if (size > kMaxFileBytes)
    throw Error(fmt::format("{}: {} bytes; TensorFlow Lite models over 1 GiB are not supported",
                            path, size));
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  if (!file || !file.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    throw Error(fmt::format("{}: cannot read", path));
  return parse_owned(std::move(bytes), path);
}

}  // namespace mattecast::tflite
