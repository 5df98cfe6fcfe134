// The TF.js reader: the official int8 release must give exactly the weights of the .pth converted
// from it; damaged copies of the release and hostile manifests must raise Error naming the file.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/pth_reader.h"
#include "models/tfjs_manifest.h"
#include "models/tfjs_reader.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kModels = fs::path(MATTECAST_SHARED_DIR) / "models";
const fs::path kRelease = kModels / "rvm_mobilenetv3_tfjs_int8";
const fs::path kPth = kModels / "rvm_mobilenetv3_from_tfjs.pth";
const std::string kShard = "group1-shard1of1.bin";
const std::string kGraphPrefix =
    "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/";
const std::string kProjectWeight = kGraphPrefix + "conv2d_62/Conv2D/ReadVariableOp";
const std::string kProjectBias = kGraphPrefix + "conv2d_62/BiasAdd/ReadVariableOp";

// From models/README.md: the .pth holds 363 tensors, of which 52 are integer num_batches_tracked.
constexpr size_t kFloatTensorCount = 311;
constexpr size_t kParameterCount = 3772832;

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// Runs `action` and checks it throws mattecast::Error whose message holds every `fragment`.
void expect_error(const std::function<void()>& action, const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "no Error thrown; expected one mentioning " << fragments.front();
  } catch (const Error& error) {
    for (const std::string& fragment : fragments) EXPECT_THAT(error.what(), HasSubstr(fragment));
  }
}

const WeightMap& official_weights() {
  static const WeightMap weights = read_tfjs(kRelease.string());
  return weights;
}

// A copy of the release in this test's own scratch folder, to be damaged before write().
class ReleaseCopy {
 public:
  ReleaseCopy()
      : folder_(fs::path(MATTECAST_TEST_TMP) / "tfjs_reader" /
                ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        model_json_text_(read_file(kRelease / "model.json")),
        layout_(parse_tfjs_manifest(model_json_text_, "release")),
        model_json_(json::parse(model_json_text_)),
        shard_(read_file(kRelease / kShard)) {
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }

  json& model_json() { return model_json_; }
  json& weights() { return model_json_["weightsManifest"][0]["weights"]; }
  std::string& shard() { return shard_; }
  fs::path model_json_path() const { return folder_ / "model.json"; }
  fs::path shard_path() const { return folder_ / kShard; }
  const fs::path& folder() const { return folder_; }

  // The manifest entry of `name` and where its bytes lie in the original shard.
  json& entry(const std::string& name) { return weights()[index(name)]; }
  const TfjsWeight& layout(const std::string& name) const {
    return layout_.groups[0].weights[index(name)];
  }

  // Removes a tensor from the manifest and its bytes from the shard.
  void remove(const std::string& name) {
    const TfjsWeight& stored = layout(name);
    shard_.erase(size_t(stored.offset), size_t(stored.bytes));
    weights().erase(index(name));
  }

  void write(const std::string& json_text) const {
    write_file(model_json_path(), json_text);
    write_file(shard_path(), shard_);
  }
  void write() const { write(model_json_.dump()); }

 private:
  size_t index(const std::string& name) const {
    const std::vector<TfjsWeight>& stored = layout_.groups[0].weights;
    for (size_t i = 0; i < stored.size(); ++i)
      if (stored[i].name == name) return i;
    throw std::logic_error("no tensor " + name + " in the release");
  }

  fs::path folder_;
  std::string model_json_text_;
  TfjsManifest layout_;  // offsets in the original shard (removals shift later tensors)
  json model_json_;
  std::string shard_;
};

void expect_read_error(const ReleaseCopy& copy, const std::vector<std::string>& fragments) {
  expect_error([&] { read_tfjs(copy.folder().string()); }, fragments);
}

// ---------------------------------------------------------------------------------------------
// The official release

TEST(TfjsReader, ReadsTheOfficialRelease) {
  const WeightMap& weights = official_weights();
  EXPECT_EQ(weights.size(), kFloatTensorCount);
  EXPECT_EQ(weights.parameter_count(), kParameterCount);
  EXPECT_EQ(weights.source(), (kRelease / "model.json").string());

  weights.get("backbone.features.0.0.weight", {16, 3, 3, 3});
  weights.get("backbone.features.1.block.0.0.weight", {16, 1, 3, 3});
  weights.get("backbone.features.4.block.2.fc1.weight", {24, 72, 1, 1});
  weights.get("backbone.features.13.block.1.0.weight", {672, 1, 5, 5});
  weights.get("backbone.features.16.0.weight", {960, 160, 1, 1});
  weights.get("aspp.aspp2.1.weight", {128, 960, 1, 1});
  weights.get("decoder.decode3.conv.0.weight", {80, 171, 3, 3});
  weights.get("decoder.decode4.gru.ih.0.weight", {128, 128, 3, 3});
  weights.get("decoder.decode4.gru.hh.0.weight", {64, 128, 3, 3});
  weights.get("project_mat.conv.weight", {4, 16, 1, 1});
  EXPECT_FALSE(weights.contains("aspp.aspp2.1.bias"));
  EXPECT_FALSE(weights.contains("project_seg.conv.weight"));  // not part of the tfjs release
  EXPECT_FALSE(weights.contains("backbone.features.0.1.num_batches_tracked"));
}

// The folded BatchNorms become identities: 1 / sqrt(running_var + eps) is exactly 1.0f.
TEST(TfjsReader, FoldedBatchNormIsAnExactIdentity) {
  const WeightMap& weights = official_weights();
  auto check = [&](const std::string& key, int64_t channels, double eps, bool unit_weight) {
    SCOPED_TRACE(key);
    const float running_var = float(1.0 - eps);
    EXPECT_EQ(1.0f / std::sqrt(running_var + float(eps)), 1.0f);
    for (float value : weights.get(key + ".running_var", {channels}).values)
      ASSERT_EQ(value, running_var);
    for (float value : weights.get(key + ".running_mean", {channels}).values)
      ASSERT_EQ(value, 0.0f);
    const std::vector<float>& scale = weights.get(key + ".weight", {channels}).values;
    EXPECT_EQ(std::count(scale.begin(), scale.end(), 1.0f) == channels, unit_weight);
  };
  check("backbone.features.0.1", 16, 1e-3, true);
  check("backbone.features.12.block.3.1", 112, 1e-3, true);
  check("backbone.features.16.1", 960, 1e-3, true);
  check("aspp.aspp1.1", 128, 1e-5, true);
  check("decoder.decode0.conv.4", 16, 1e-5, true);
  // The dilated depthwise layers keep their BN scale (FusedBatchNormV3/Scaled).
  check("backbone.features.13.block.1.1", 672, 1e-3, false);
  check("backbone.features.14.block.1.1", 960, 1e-3, false);
  check("backbone.features.15.block.1.1", 960, 1e-3, false);
}

// Independent of the .pth: one element recomputed from the raw bytes and the manifest.
TEST(TfjsReader, DequantizesInDoubleAndTransposesToOihw) {
  ReleaseCopy release;
  const TfjsWeight& stored = release.layout(kProjectWeight);  // HWIO [1, 1, 16, 4]
  const std::vector<float>& oihw =
      official_weights().get("project_mat.conv.weight", {4, 16, 1, 1}).values;
  for (int64_t in = 0; in < 16; ++in) {
    for (int64_t out = 0; out < 4; ++out) {
      uint8_t q = uint8_t(release.shard()[size_t(stored.offset + in * 4 + out)]);
      float expected = float(double(q) * stored.quantization->scale + stored.quantization->min);
      ASSERT_EQ(oihw[out * 16 + in], expected) << "in " << in << " out " << out;
    }
  }
}

TEST(TfjsReader, AcceptsModelJsonOrItsFolder) {
  WeightMap from_file = read_tfjs((kRelease / "model.json").string());
  EXPECT_EQ(from_file.source(), official_weights().source());
  EXPECT_EQ(from_file.size(), official_weights().size());
}

// models/README.md: the .pth was converted from this release; every value must be bit-identical.
TEST(TfjsReader, EqualsThePthBitForBit) {
  const WeightMap& tfjs = official_weights();
  const WeightMap pth = read_pth(kPth.string());
  ASSERT_EQ(pth.size(), tfjs.size());
  for (const auto& [name, expected] : pth.tensors()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(tfjs.contains(name));
    const WeightTensor& actual = tfjs.get(name, expected.shape);
    ASSERT_EQ(std::memcmp(actual.values.data(), expected.values.data(),
                          expected.values.size() * sizeof(float)),
              0);
  }
}

// ---------------------------------------------------------------------------------------------
// Damaged copies of the release

TEST(TfjsReaderDamaged, UnchangedCopyReads) {
  ReleaseCopy copy;
  copy.write();
  EXPECT_EQ(read_tfjs(copy.folder().string()).size(), kFloatTensorCount);
}

TEST(TfjsReaderDamaged, TruncatedShard) {
  ReleaseCopy copy;
  copy.shard().pop_back();
  copy.write();
  expect_read_error(copy,
                    {copy.shard_path().string(), "3739354 bytes, too short for the 3739355 bytes"});
}

TEST(TfjsReaderDamaged, ShardWithTrailingBytes) {
  ReleaseCopy copy;
  copy.shard() += '\0';
  copy.write();
  expect_read_error(copy, {copy.shard_path().string(), "longer than"});
}

TEST(TfjsReaderDamaged, MissingShard) {
  ReleaseCopy copy;
  copy.write();
  fs::remove(copy.shard_path());
  expect_read_error(copy, {copy.shard_path().string(), "missing"});
}

TEST(TfjsReaderDamaged, MissingModelJson) {
  ReleaseCopy copy;
  expect_error([&] { read_tfjs(copy.folder().string()); },
               {copy.model_json_path().string(), "no such"});
}

TEST(TfjsReaderDamaged, MalformedJson) {
  ReleaseCopy copy;
  std::string text = copy.model_json().dump();
  copy.write(text.substr(0, text.size() / 2));
  expect_read_error(copy, {copy.model_json_path().string(), "not valid JSON"});
}

// Python's json module writes NaN as a bare NaN, which is not JSON.
TEST(TfjsReaderDamaged, NanScale) {
  ReleaseCopy copy;
  copy.entry(kProjectBias)["quantization"]["scale"] = "PLACEHOLDER";
  std::string text = copy.model_json().dump();
  text.replace(text.find("\"PLACEHOLDER\""), 13, "NaN");
  copy.write(text);
  expect_read_error(copy, {copy.model_json_path().string(), "not valid JSON"});
}

TEST(TfjsReaderDamaged, InfiniteScale) {
  ReleaseCopy copy;
  copy.entry(kProjectBias)["quantization"]["scale"] = "PLACEHOLDER";
  std::string text = copy.model_json().dump();
  text.replace(text.find("\"PLACEHOLDER\""), 13, "1e999");
  copy.write(text);
  expect_read_error(copy, {copy.model_json_path().string(), "not valid JSON", "1e999"});
}

TEST(TfjsReaderDamaged, NegativeScale) {
  ReleaseCopy copy;
  copy.entry(kProjectBias)["quantization"]["scale"] = -0.5;
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectBias, "negative"});
}

TEST(TfjsReaderDamaged, ShardPathLeavingTheFolder) {
  ReleaseCopy copy;
  copy.write();
  // The shard exists at the traversed path: only the path check stops it.
  copy.model_json()["weightsManifest"][0]["paths"][0] =
      "../" + copy.folder().filename().string() + "/" + kShard;
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), "leaves the model folder"});
}

TEST(TfjsReaderDamaged, AbsoluteShardPath) {
  ReleaseCopy copy;
  copy.model_json()["weightsManifest"][0]["paths"][0] = copy.shard_path().string();
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), "not a relative path"});
}

// Same element count, so the shard still matches and only the layout check can catch it.
TEST(TfjsReaderDamaged, WrongShape) {
  ReleaseCopy copy;
  copy.entry(kProjectWeight)["shape"] = {1, 1, 4, 16};
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectWeight,
                           "shape [1, 1, 4, 16], expected [1, 1, 16, 4]"});
}

TEST(TfjsReaderDamaged, MissingWeight) {
  ReleaseCopy copy;
  copy.remove(kProjectBias);
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), "missing tensor", kProjectBias});
}

TEST(TfjsReaderDamaged, UnexpectedFloatTensor) {
  ReleaseCopy copy;
  const std::string name = kGraphPrefix + "extra/conv2d_99/Conv2D/ReadVariableOp";
  copy.weights().push_back(
      {{"name", name},
       {"shape", {2}},
       {"dtype", "float32"},
       {"quantization", {{"dtype", "uint8"}, {"min", -1.0}, {"scale", 0.01}}}});
  copy.shard() += "\x01\x02";
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), "unexpected float tensor", name});
}

TEST(TfjsReaderDamaged, UnknownDtype) {
  ReleaseCopy copy;
  copy.entry(kProjectBias)["dtype"] = "float64";
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectBias, "unsupported dtype"});
}

// The 4 quantized bytes of the bias reinterpreted as one int32: sizes agree, the dtype does not.
TEST(TfjsReaderDamaged, WeightWithIntegerDtype) {
  ReleaseCopy copy;
  json& entry = copy.entry(kProjectBias);
  entry["dtype"] = "int32";
  entry["shape"] = {1};
  entry.erase("quantization");
  copy.write();
  expect_read_error(
      copy, {copy.model_json_path().string(), kProjectBias, "dtype int32, expected float32"});
}

TEST(TfjsReaderDamaged, DuplicateTensorName) {
  ReleaseCopy copy;
  copy.weights().push_back(copy.entry(kProjectBias));
  copy.shard() += "\x01\x02\x03\x04";
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectBias, "appears twice"});
}

TEST(TfjsReaderDamaged, GraphConstantWithAnotherValue) {
  ReleaseCopy copy;
  const std::string name = kGraphPrefix + "recurrent_decoder/bottleneck_block/conv_gru/sub/x";
  copy.entry(name)["quantization"]["min"] = 2.0;
  copy.write();
  expect_read_error(copy,
                    {copy.model_json_path().string(), name, "holds 2 at element 0, expected 1"});
}

TEST(TfjsReaderDamaged, HugeShape) {
  ReleaseCopy copy;
  copy.entry(kProjectBias)["shape"] = {65536, 65536, 65536};
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectBias, "elements"});
}

// Unquantized float32 weights (a conversion without --quantize_uint8) are read as they are.
TEST(TfjsReaderDamaged, RawFloat32WeightIsAccepted) {
  ReleaseCopy copy;
  const TfjsWeight& stored = copy.layout(kProjectBias);
  const std::vector<float>& bias = official_weights().get("project_mat.conv.bias", {4}).values;
  copy.shard().replace(size_t(stored.offset), size_t(stored.bytes), float_bytes(bias));
  copy.entry(kProjectBias).erase("quantization");
  copy.write();
  EXPECT_EQ(read_tfjs(copy.folder().string()).get("project_mat.conv.bias", {4}).values, bias);
}

TEST(TfjsReaderDamaged, RawFloat32WeightWithNan) {
  ReleaseCopy copy;
  const TfjsWeight& stored = copy.layout(kProjectBias);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  copy.shard().replace(size_t(stored.offset), size_t(stored.bytes), float_bytes({0, nan, 0, 0}));
  copy.entry(kProjectBias).erase("quantization");
  copy.write();
  expect_read_error(copy, {copy.model_json_path().string(), kProjectBias, "non-finite"});
}

// ---------------------------------------------------------------------------------------------
// parse_tfjs_manifest on hand-written model.json texts

std::string model_json_with(const std::string& paths, const std::string& weights) {
  return fmt::format(
      R"({{"format": "graph-model", "weightsManifest": [{{"paths": {}, "weights": [{}]}}]}})",
      paths, weights);
}

std::string model_json_with_weight(const std::string& weight) {
  return model_json_with(R"(["a.bin"])", weight);
}

TEST(TfjsManifest, ComputesOffsetsAndSizes) {
  const std::string text = model_json_with(R"(["sub/a.bin", "b.bin"])",
                                           R"({"name": "q", "shape": [2, 3], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": -1, "scale": 0.5, "original_dtype": "float32"}},
         {"name": "i", "shape": [2], "dtype": "int32"},
         {"name": "b", "shape": [3], "dtype": "bool"},
         {"name": "f", "shape": [], "dtype": "float32"},
         {"name": "empty", "shape": [0, 5], "dtype": "float32"})");
  TfjsManifest manifest = parse_tfjs_manifest(text, "test.json");
  ASSERT_EQ(manifest.groups.size(), 1u);
  const TfjsWeightGroup& group = manifest.groups[0];
  EXPECT_EQ(group.paths, (std::vector<std::string>{"sub/a.bin", "b.bin"}));
  ASSERT_EQ(group.weights.size(), 5u);
  EXPECT_EQ(group.bytes, 6 + 8 + 3 + 4);
  const std::vector<int64_t> offsets = {0, 6, 14, 17, 21}, numels = {6, 2, 3, 1, 0};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(group.weights[i].offset, offsets[i]) << i;
    EXPECT_EQ(group.weights[i].numel, numels[i]) << i;
  }
  EXPECT_EQ(group.weights[0].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_TRUE(group.weights[0].quantization);
  EXPECT_EQ(group.weights[0].quantization->scale, 0.5);
  EXPECT_EQ(group.weights[0].quantization->min, -1.0);
  EXPECT_EQ(group.weights[1].dtype, TfjsDtype::int32);
  EXPECT_EQ(group.weights[2].dtype, TfjsDtype::boolean);
  EXPECT_FALSE(group.weights[3].quantization);
  EXPECT_TRUE(group.weights[3].shape.empty());
}

// `count` int32 tensors of the largest allowed element count (2^32), 16 GiB each.
std::string largest_int32_tensors(int count) {
  std::vector<std::string> entries;
  for (int i = 0; i < count; ++i)
    entries.push_back(
        fmt::format(R"({{"name": "w{}", "shape": [4294967296], "dtype": "int32"}})", i));
  return fmt::format("{}", fmt::join(entries, ", "));
}

struct BadManifest {
  std::string text;
  std::string message;
};

TEST(TfjsManifest, RejectsBadFiles) {
  const std::string quant = R"("quantization": {"dtype": "uint8", "min": 0, "scale": 1})";
  const std::vector<BadManifest> cases = {
      {"", "not valid JSON"},
      {"{\"format\": \"graph-model\", \"weightsManifest\": [", "not valid JSON"},
      {"[1, 2]", "not an object"},
      {R"({"weightsManifest": []})", "missing field \"format\""},
      {R"({"format": "layers-model", "weightsManifest": []})", "not a TF.js graph model"},
      {R"({"format": "graph-model"})", "missing field \"weightsManifest\""},
      {R"({"format": "graph-model", "weightsManifest": {}})", "is not an array"},
      {R"({"format": "graph-model", "weightsManifest": []})", "empty"},
      {R"({"format": "graph-model", "weightsManifest": [7]})", "weightsManifest[0]: not an object"},
      {R"({"format": "graph-model", "weightsManifest": [{"weights": []}]})", "\"paths\""},
      {model_json_with("[]", ""), "no shard paths"},
      {model_json_with("[3]", ""), "not a string"},
      {model_json_with(R"([""])", ""), "empty shard path"},
      {model_json_with(R"(["../a.bin"])", ""), "leaves the model folder"},
      {model_json_with(R"(["x/../../a.bin"])", ""), "leaves the model folder"},
      {model_json_with(R"(["x/.."])", ""), "leaves the model folder"},
      {model_json_with(R"(["/etc/passwd"])", ""), "not a relative path"},
      {model_json_with(R"(["x\\a.bin"])", ""), "not a relative path"},
      {model_json_with(R"(["a\u0000.bin"])", ""), "NUL"},
      {model_json_with(R"(["a.bin"])", "5"), "weightsManifest[0].weights[0]: not an object"},
      {model_json_with_weight(R"({"shape": [], "dtype": "int32"})"), "missing field \"name\""},
      {model_json_with_weight(R"({"name": 5, "shape": [], "dtype": "int32"})"), "not a string"},
      {model_json_with_weight(R"({"name": "", "shape": [], "dtype": "int32"})"), "empty"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float64"})"),
       "('w'): unsupported dtype 'float64'"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "string"})"),
       "unsupported dtype"},
      {model_json_with_weight(R"({"name": "w", "dtype": "int32"})"), "missing field \"shape\""},
      {model_json_with_weight(R"({"name": "w", "shape": 3, "dtype": "int32"})"), "not an array"},
      {model_json_with_weight(R"({"name": "w", "shape": [2, -1], "dtype": "int32"})"),
       "negative dimension"},
      {model_json_with_weight(R"({"name": "w", "shape": [2.5], "dtype": "int32"})"),
       "not an integer"},
      {model_json_with_weight(R"({"name": "w", "shape": ["2"], "dtype": "int32"})"),
       "not an integer"},
      {model_json_with_weight(R"({"name": "w", "shape": [18446744073709551615], "dtype": "bool"})"),
       "elements"},
      {model_json_with_weight(
           R"({"name": "w", "shape": [4294967295, 4294967295, 4294967295], "dtype": "bool"})"),
       "elements"},
      {model_json_with_weight(R"({"name": "w", "shape": [1,1,1,1,1,1,1,1,1], "dtype": "bool"})"),
       "rank 9"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "int32", )" + quant + "}"),
       "int32 tensor cannot be quantized"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": 1})"),
       "not an object"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint16", "min": 0, "scale": 1}})"),
       "unsupported quantization dtype 'uint16'"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0}})"),
       "missing field \"scale\""},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0, "scale": "1"}})"),
       "not a number"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": -1e999, "scale": 1}})"),
       "not valid JSON"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": -1e300, "scale": 1}})"),
       "exceeds float32"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0, "scale": -1e-9}})"),
       "negative"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0, "scale": 1e37}})"),
       "exceeds float32"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0, "scale": 1, "original_dtype": "int32"}})"),
       "original_dtype"},
      {model_json_with_weight(R"({"name": "w", "shape": [], "dtype": "bool"},
                                 {"name": "w", "shape": [], "dtype": "bool"})"),
       "weights[1] ('w'): tensor name appears twice"},
      {model_json_with_weight(largest_int32_tensors(65)), "weights[64] ('w64'): the weights of"},
  };
  for (const BadManifest& bad : cases) {
    SCOPED_TRACE(bad.text);
    expect_error([&] { parse_tfjs_manifest(bad.text, "test.json"); }, {"test.json: ", bad.message});
  }
}

}  // namespace
}  // namespace mattecast
