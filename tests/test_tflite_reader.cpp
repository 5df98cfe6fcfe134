// The TFLite reader: the seven shared .tflite files list the operators and tensor shapes their
// READMEs give; truncated and corrupted copies (made in a temp folder at test time) and small
// hand-built flatbuffers with one bad field raise Error naming the file and the problem.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/tflite_reader.h"

namespace mattecast::tflite {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kModels = fs::path(MATTECAST_SHARED_DIR) / "models";

struct Expected {
  std::string file;
  std::string input;
  TensorType input_type;
  std::vector<int32_t> input_shape;
  std::string output;
  TensorType output_type;
  std::vector<int32_t> output_shape;
  std::map<std::string, int> operators;
};

// From the READMEs beside the files.
const std::vector<Expected> kExpected = {
    {"mediapipe-selfie/selfie_segmentation.tflite", "input_1", TensorType::float32, {1, 256, 256, 3},
     "activation_10", TensorType::float32, {1, 256, 256, 1},
     {{"DEQUANTIZE", 110}, {"CONV_2D", 43}, {"RELU", 22}, {"ADD", 14}, {"HARD_SWISH", 11},
      {"DEPTHWISE_CONV_2D", 11}, {"LOGISTIC", 11}, {"AVERAGE_POOL_2D", 10}, {"MUL", 10},
      {"RESIZE_BILINEAR", 3}, {"Convolution2DTransposeBias", 1}}},
    {"mediapipe-selfie/selfie_segmentation_landscape.tflite", "input_1", TensorType::float32,
     {1, 144, 256, 3}, "segment_back", TensorType::float32, {1, 144, 256, 1},
     {{"DEQUANTIZE", 110}, {"CONV_2D", 43}, {"RELU", 22}, {"ADD", 14}, {"HARD_SWISH", 11},
      {"DEPTHWISE_CONV_2D", 11}, {"LOGISTIC", 11}, {"MEAN", 10}, {"MUL", 10},
      {"RESIZE_BILINEAR", 3}, {"Convolution2DTransposeBias", 1}}},
    {"portrait-segmentation/bilinear_fin_munet_uint8.tflite", "input_1", TensorType::float32,
     {1, 128, 128, 3}, "flatten_1/Reshape", TensorType::float32, {1, 16384},
     {{"CONV_2D", 39}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 11}, {"DEQUANTIZE", 10}, {"PAD", 5},
      {"RESIZE_BILINEAR", 5}, {"CONCATENATION", 4}, {"TRANSPOSE_CONV", 1}, {"LOGISTIC", 1},
      {"RESHAPE", 1}}},
    {"portrait-segmentation/mnv3_seg_float.tflite", "input_1", TensorType::float32,
     {1, 256, 256, 3}, "Identity", TensorType::float32, {1, 256, 256, 2},
     {{"CONV_2D", 36}, {"DEPTHWISE_CONV_2D", 19}, {"ADD", 13}, {"RESIZE_BILINEAR", 5}, {"PAD", 4}}},
    {"portrait-segmentation/prisma-net.tflite", "input_3", TensorType::float32, {1, 256, 256, 3},
     "reshape_2/Reshape", TensorType::float32, {1, 65536},
     {{"CONV_2D", 51}, {"DEPTHWISE_CONV_2D", 46}, {"ADD", 32}, {"RELU", 23}, {"TRANSPOSE_CONV", 5},
      {"LOGISTIC", 1}, {"RESHAPE", 1}}},
    {"portrait-segmentation/slim_reshape_v2.tflite", "ip", TensorType::float32, {1, 512, 512, 3},
     "reshape/Reshape", TensorType::float32, {1, 262144},
     {{"PRELU", 100}, {"CONV_2D", 90}, {"ADD", 36}, {"DEPTHWISE_CONV_2D", 28},
      {"TRANSPOSE_CONV", 5}, {"MAX_POOL_2D", 3}, {"RESIZE_BILINEAR", 3}, {"CONCATENATION", 2},
      {"SOFTMAX", 1}, {"STRIDED_SLICE", 1}, {"RESHAPE", 1}}},
    {"portrait-segmentation/portrait_video_quant.tflite", "input.1", TensorType::int8,
     {1, 224, 224, 4}, "Identity", TensorType::int8, {1, 50176},
     {{"CONV_2D", 51}, {"PAD", 29}, {"DEPTHWISE_CONV_2D", 27}, {"ADD", 18}, {"STRIDED_SLICE", 6},
      {"TRANSPOSE_CONV", 5}, {"SOFTMAX", 1}, {"RESHAPE", 1}}},
};

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

fs::path temp_dir() {
  const fs::path dir = fs::path(MATTECAST_TEST_TMP) / "tflite_reader";
  fs::create_directories(dir);
  return dir;
}

void expect_error(const std::function<void()>& action, const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "no Error thrown; expected one mentioning " << fragments.front();
  } catch (const Error& error) {
    for (const auto& fragment : fragments) EXPECT_THAT(error.what(), HasSubstr(fragment));
  }
}

TEST(TfliteReader, SharedModelsListTheirOperatorsAndShapes) {
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.file);
    const Model model = read_tflite((kModels / e.file).string());
    EXPECT_EQ(model.version, 3u);
    std::map<std::string, int> counts;
    for (const Operator& op : model.operators) counts[op.name]++;
    EXPECT_EQ(counts, e.operators);
    ASSERT_EQ(model.inputs.size(), 1u);
    ASSERT_EQ(model.outputs.size(), 1u);
    const Tensor& input = model.tensors[model.inputs[0]];
    const Tensor& output = model.tensors[model.outputs[0]];
    EXPECT_EQ(input.name, e.input);
    EXPECT_EQ(input.type, e.input_type);
    EXPECT_EQ(input.shape, e.input_shape);
    EXPECT_FALSE(input.constant());
    EXPECT_EQ(output.name, e.output);
    EXPECT_EQ(output.type, e.output_type);
    EXPECT_EQ(output.shape, e.output_shape);
    // Every operand is a tensor of the subgraph, and constants hold their whole shape.
    for (const Operator& op : model.operators) {
      for (int32_t i : op.inputs) {
        if (i < 0) continue;
        ASSERT_LT(size_t(i), model.tensors.size());
        const Tensor& t = model.tensors[i];
        if (t.constant()) EXPECT_EQ(t.data.size(), t.elements() * element_size(t.type)) << t.name;
      }
    }
  }
}

TEST(TfliteReader, ReadsOptionsOfTheSharedModels) {
  // MediaPipe: the first layer is a 3x3 stride-2 SAME convolution of 16 filters; the custom
  // transposed convolution doubles the size (stride 2).
  const Model selfie = read_tflite((kModels / kExpected[0].file).string());
  const Operator* first_conv = nullptr;
  const Operator* transpose = nullptr;
  for (const Operator& op : selfie.operators) {
    if (op.op == Op::conv_2d && !first_conv) first_conv = &op;
    if (op.op == Op::custom) transpose = &op;
  }
  ASSERT_TRUE(first_conv && transpose);
  EXPECT_EQ(first_conv->options.padding, Padding::same);
  EXPECT_EQ(first_conv->options.stride_w, 2);
  EXPECT_EQ(first_conv->options.stride_h, 2);
  EXPECT_EQ(selfie.tensors[first_conv->outputs[0]].shape, (std::vector<int32_t>{1, 128, 128, 16}));
  EXPECT_EQ(transpose->options.stride_w, 2);
  EXPECT_EQ(transpose->options.stride_h, 2);
  EXPECT_EQ(transpose->inputs.size(), 3u);
  // The fp16 weights are dequantized in the graph: constant FLOAT16 tensors feed DEQUANTIZE.
  int fp16 = 0;
  for (const Operator& op : selfie.operators)
    if (op.op == Op::dequantize && selfie.tensors[op.inputs[0]].type == TensorType::float16 &&
        selfie.tensors[op.inputs[0]].constant())
      ++fp16;
  EXPECT_EQ(fp16, 110);
  // The int8 video model carries per-tensor quantization on its input.
  const Model video = read_tflite((kModels / kExpected[6].file).string());
  const Tensor& input = video.tensors[video.inputs[0]];
  ASSERT_EQ(input.quantization.scale.size(), 1u);
  EXPECT_GT(input.quantization.scale[0], 0.0f);
}

TEST(TfliteReader, TruncatedCopiesFailNamingTheFile) {
  const auto original = read_bytes(kModels / kExpected[0].file);
  const fs::path path = temp_dir() / "truncated.tflite";
  // Lengths across the whole file: the header, the tables, the middle of the weights.
  std::vector<size_t> lengths = {0, 3, 4, 7, 8, 12, 31, 64, 200, 1000};
  for (int i = 1; i < 16; ++i) lengths.push_back(original.size() * i / 16);
  lengths.push_back(original.size() - 1);
  for (size_t length : lengths) {
    SCOPED_TRACE(length);
    write_bytes(path, std::vector<uint8_t>(original.begin(), original.begin() + length));
    expect_error([&] { read_tflite(path.string()); }, {path.string()});
  }
}

TEST(TfliteReader, CorruptedCopiesParseOrFailCleanly) {
  // Random byte changes in the first 64 KiB (tables, vtables, offsets, shapes) and anywhere: the
  // reader must either accept the file or raise Error naming it; under the sanitizers any
  // out-of-bounds read shows as a failure.
  const auto original = read_bytes(kModels / kExpected[3].file);
  const fs::path path = temp_dir() / "corrupted.tflite";
  std::mt19937 random(15);
  int failed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto bytes = original;
    const size_t span = trial % 3 == 0 ? bytes.size() : std::min<size_t>(bytes.size(), 65536);
    const int changes = 1 + trial % 4;
    for (int c = 0; c < changes; ++c) {
      const size_t at = std::uniform_int_distribution<size_t>(0, span - 1)(random);
      bytes[at] = trial % 2 ? uint8_t(random()) : uint8_t(0xff);
    }
    write_bytes(path, bytes);
    try {
      read_tflite(path.string());
    } catch (const Error& error) {
      ++failed;
      EXPECT_THAT(error.what(), HasSubstr(path.string()));
    }
  }
  EXPECT_GT(failed, 0);
  // The file identifier.
  auto bytes = original;
  bytes[4] = 'X';
  write_bytes(path, bytes);
  expect_error([&] { read_tflite(path.string()); }, {path.string(), "TFL3"});
  expect_error([&] { read_tflite((temp_dir() / "missing.tflite").string()); }, {"missing.tflite"});
}

// A small forward flatbuffer writer: a table's children are written after it, so every offset
// points forward, as the format requires.
class Builder {
 public:
  struct Field {
    int index;
    std::vector<uint8_t> scalar;                 // inline bytes, or
    std::function<size_t(Builder&)> child = {};  // an offset to what this writes
  };
  template <typename T>
  static std::vector<uint8_t> bytes_of(T value) {
    std::vector<uint8_t> out(sizeof(T));
    std::memcpy(out.data(), &value, sizeof(T));
    return out;
  }
  template <typename T>
  static Field scalar(int index, T value) {
    return {index, bytes_of(value)};
  }
  template <typename T>
  static Field vector(int index, std::vector<T> values) {
    return {index, {}, [values](Builder& b) {
              const size_t at = b.put(uint32_t(values.size()));
              for (const T& v : values) b.put(v);
              return at;
            }};
  }
  static Field string(int index, std::string text) {
    return {index, {}, [text](Builder& b) {
              const size_t at = b.put(uint32_t(text.size()));
              for (char c : text) b.put(c);
              b.put('\0');
              return at;
            }};
  }
  static Field table(int index, std::vector<Field> fields) {
    return {index, {}, [fields](Builder& b) { return b.write_table(fields); }};
  }
  static Field tables(int index, std::vector<std::vector<Field>> list) {
    return {index, {}, [list](Builder& b) {
              const size_t at = b.put(uint32_t(list.size()));
              std::vector<size_t> slots;
              for (size_t i = 0; i < list.size(); ++i) slots.push_back(b.put(uint32_t(0)));
              for (size_t i = 0; i < list.size(); ++i) b.patch(slots[i], b.write_table(list[i]));
              return at;
            }};
  }

  static std::vector<uint8_t> model(const std::vector<Field>& fields) {
    Builder b;
    b.put(uint32_t(0));
    for (char c : std::string("TFL3")) b.put(c);
    b.patch(0, b.write_table(fields));
    return b.bytes_;
  }

 private:
  template <typename T>
  size_t put(T value) {
    const size_t at = bytes_.size();
    const auto b = bytes_of(value);
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return at;
  }
  void patch(size_t slot, size_t target) {
    const uint32_t offset = uint32_t(target - slot);
    std::memcpy(bytes_.data() + slot, &offset, 4);
  }
  size_t write_table(const std::vector<Field>& fields) {
    int max_index = -1;
    for (const Field& f : fields) max_index = std::max(max_index, f.index);
    const size_t vtable = put(uint16_t(4 + 2 * (max_index + 1)));
    const size_t table_size_at = put(uint16_t(0));
    for (int i = 0; i <= max_index; ++i) put(uint16_t(0));
    while (bytes_.size() % 4) put(uint8_t(0));
    const size_t table = put(int32_t(0));
    const int32_t soffset = int32_t(table - vtable);
    std::memcpy(bytes_.data() + table, &soffset, 4);
    std::vector<std::pair<size_t, const Field*>> children;
    for (const Field& f : fields) {
      const size_t at = bytes_.size();
      const uint16_t offset = uint16_t(at - table);
      std::memcpy(bytes_.data() + vtable + 4 + 2 * f.index, &offset, 2);
      if (f.child) {
        put(uint32_t(0));
        children.push_back({at, &f});
      } else {
        bytes_.insert(bytes_.end(), f.scalar.begin(), f.scalar.end());
      }
    }
    const uint16_t table_size = uint16_t(bytes_.size() - table);
    std::memcpy(bytes_.data() + table_size_at, &table_size, 2);
    for (auto& [slot, f] : children) patch(slot, f->child(*this));
    return table;
  }

  std::vector<uint8_t> bytes_;
};

using B = Builder;

// One operator (`code`, or a custom one) on tensors 0 (input, float [1,4,4,2]) -> 1, weights in
// buffer 1; `tweak` edits the description before it is built.
struct Description {
  int32_t code = 19;  // RELU
  std::string custom;
  int8_t tensor_type = 0;
  std::vector<int32_t> shape = {1, 4, 4, 2};
  uint32_t buffer_index = 0;
  std::vector<uint8_t> weights = {};
  std::vector<int32_t> op_inputs = {0};
  uint32_t opcode_index = 0;
  uint32_t version = 3;
  std::vector<uint8_t> custom_options = {};
};

std::vector<uint8_t> build(const Description& d) {
  std::vector<B::Field> opcode = {B::scalar<int8_t>(0, int8_t(std::min(d.code, 127))),
                                  B::scalar<int32_t>(3, d.code)};
  if (!d.custom.empty()) opcode.push_back(B::string(1, d.custom));
  std::vector<B::Field> op = {B::scalar<uint32_t>(0, d.opcode_index), B::vector(1, d.op_inputs),
                              B::vector(2, std::vector<int32_t>{1})};
  if (!d.custom_options.empty()) op.push_back(B::vector(5, d.custom_options));
  return B::model({
      B::scalar<uint32_t>(0, d.version),
      B::tables(1, {opcode}),
      B::tables(2, {{B::tables(0, {{B::vector(0, d.shape), B::scalar<int8_t>(1, d.tensor_type),
                                    B::scalar<uint32_t>(2, d.buffer_index), B::string(3, "x")},
                                   {B::vector(0, d.shape), B::scalar<int8_t>(1, 0),
                                    B::scalar<uint32_t>(2, 0), B::string(3, "y")}}),
                     B::vector(1, std::vector<int32_t>{0}), B::vector(2, std::vector<int32_t>{1}),
                     B::tables(3, {op})}}),
      B::tables(4, {{}, {B::vector(0, d.weights)}}),
  });
}

TEST(TfliteReader, HandBuiltModelParses) {
  const Model model = parse_tflite(build({}), "tiny.tflite");
  ASSERT_EQ(model.operators.size(), 1u);
  EXPECT_EQ(model.operators[0].op, Op::relu);
  EXPECT_EQ(model.operators[0].name, "RELU");
  ASSERT_EQ(model.tensors.size(), 2u);
  EXPECT_EQ(model.tensors[0].shape, (std::vector<int32_t>{1, 4, 4, 2}));
  EXPECT_EQ(model.tensors[1].name, "y");
  // A constant of the right size.
  Description d;
  d.buffer_index = 1;
  d.weights.assign(32 * 4, 0);
  EXPECT_EQ(parse_tflite(build(d), "tiny.tflite").tensors[0].data.size(), 128u);
}

TEST(TfliteReader, BadFieldsAreNamed) {
  const auto fails = [](Description d, std::vector<std::string> fragments) {
    fragments.insert(fragments.begin(), "tiny.tflite");
    expect_error([&] { parse_tflite(build(d), "tiny.tflite"); }, fragments);
  };
  Description d;
  d.code = 9;
  fails(d, {"unsupported operator FULLY_CONNECTED"});
  d = {};
  d.code = 32;
  d.custom = "FlexErf";
  fails(d, {"unsupported operator CUSTOM FlexErf"});
  d = {};
  d.code = 300;
  fails(d, {"unsupported operator BUILTIN_300"});
  d = {};
  d.tensor_type = 5;
  fails(d, {"unsupported tensor type STRING", "'x'"});
  d = {};
  d.tensor_type = 10;
  fails(d, {"unsupported tensor type FLOAT64"});
  d = {};
  d.shape = {1, -4, 4, 2};
  fails(d, {"negative dimension -4"});
  d = {};
  d.shape = {65536, 65536, 65536};
  fails(d, {"more than"});
  d = {};
  d.shape = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  fails(d, {"Tensor shape", "at most 8"});
  d = {};
  d.buffer_index = 7;
  fails(d, {"buffer index 7"});
  d = {};
  d.buffer_index = 1;
  d.weights.assign(31 * 4, 0);
  fails(d, {"124 bytes of data for shape [1,4,4,2]"});
  d = {};
  d.op_inputs = {5};
  fails(d, {"tensor index 5"});
  d = {};
  d.op_inputs = {-2};
  fails(d, {"tensor index -2"});
  d = {};
  d.opcode_index = 3;
  fails(d, {"operator code index 3"});
  d = {};
  d.version = 2;
  fails(d, {"schema version 2"});
  d = {};
  d.code = 32;
  d.custom = kConvolution2DTransposeBias;
  d.custom_options = {1, 0, 0, 0, 2, 0, 0, 0};
  fails(d, {"custom options hold 8 bytes"});
  d.custom_options = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
  fails(d, {"stride height 0"});
  d.custom_options = {1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0};
  EXPECT_EQ(parse_tflite(build(d), "tiny.tflite").operators[0].options.stride_h, 2);
}

TEST(TfliteReader, HostileOffsetsAreRejected) {
  // Every single-byte change of the hand-built model (all of it tables and offsets) either
  // parses or raises Error; and every truncation raises Error (the last bytes are the constant's
  // data, which the reader checks).
  Description d;
  d.buffer_index = 1;
  d.weights.assign(32 * 4, 1);
  const auto original = build(d);
  for (size_t at = 0; at < original.size(); ++at)
    for (uint8_t value : {uint8_t(0), uint8_t(0x7f), uint8_t(0x80), uint8_t(0xff)}) {
      auto bytes = original;
      bytes[at] = value;
      try {
        parse_tflite(bytes, "tiny.tflite");
      } catch (const Error& error) {
        EXPECT_THAT(error.what(), HasSubstr("tiny.tflite"));
      }
    }
  for (size_t length = 0; length < original.size(); ++length)
    expect_error(
        [&] {
          parse_tflite(std::span(original.data(), length), "tiny.tflite");
        },
        {"tiny.tflite"});
}

}  // namespace
}  // namespace mattecast::tflite
