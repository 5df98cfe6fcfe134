#include "models/tfjs_reader.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "mattecast/mattecast.h"
#include "models/tfjs_manifest.h"

namespace mattecast {

namespace {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "the .bin shards are little-endian");

// model.json holds the graph too (626 KB for RVM); anything near this limit is not a model.
constexpr uintmax_t kMaxModelJsonBytes = uintmax_t(256) << 20;

// Every tensor of the release is named after its Keras layer path inside the SavedModel function
// the converter exported; constant folding and function inlining add their own prefixes.
constexpr std::string_view kGraphPrefix =
    "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/";
constexpr std::string_view kConstantFoldingPrefix = "ConstantFolding/";
constexpr std::string_view kInlinedInputPrefix =
    "Func/StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/input/";

// BatchNorm epsilon: torchvision's MobileNetV3 uses 1e-3, the RVM modules PyTorch's default 1e-5.
constexpr double kBackboneBnEps = 1e-3;
constexpr double kDefaultBnEps = 1e-5;

constexpr int64_t kImageChannels = 3;  // the decoder concatenates the downsampled RGB input

// One inverted residual block of torchvision's MobileNetV3-Large as RVM configures it
// (model/mobilenetv3.py). The dilated blocks are the ones the converter did not fold.
struct InvertedResidualConfig {
  int64_t in, kernel, expanded, out;
  bool squeeze_excite, dilated;
};

constexpr InvertedResidualConfig kMobileNetV3Large[] = {
    {16, 3, 16, 16, false, false},    // features.1
    {16, 3, 64, 24, false, false},    // features.2
    {24, 3, 72, 24, false, false},    // features.3
    {24, 5, 72, 40, true, false},     // features.4
    {40, 5, 120, 40, true, false},    // features.5
    {40, 5, 120, 40, true, false},    // features.6
    {40, 3, 240, 80, false, false},   // features.7
    {80, 3, 200, 80, false, false},   // features.8
    {80, 3, 184, 80, false, false},   // features.9
    {80, 3, 184, 80, false, false},   // features.10
    {80, 3, 480, 112, true, false},   // features.11
    {112, 3, 672, 112, true, false},  // features.12
    {112, 5, 672, 160, true, true},   // features.13
    {160, 5, 960, 160, true, true},   // features.14
    {160, 5, 960, 160, true, true},   // features.15
};
constexpr int64_t kStemChannels = 16;
constexpr int64_t kBackboneOutChannels = 960;
constexpr int64_t kAsppChannels = 128;

// RVM's RecurrentDecoder([16, 24, 40, 128], [80, 40, 32, 16]): one block per scale.
struct UpsamplingConfig {
  const char* key;
  int64_t in, skip, out;
};
constexpr UpsamplingConfig kUpsamplingBlocks[] = {
    {"decode3", 128, 40, 80}, {"decode2", 80, 24, 40}, {"decode1", 40, 16, 32}};
constexpr int64_t kOutputBlockChannels = 16;
constexpr int64_t kProjectMatChannels = 4;  // foreground residual RGB + alpha

// torchvision's _make_divisible(expanded // 4, 8): the squeeze-excitation width.
int64_t squeeze_channels(int64_t expanded) {
  int64_t quarter = expanded / 4;
  int64_t rounded = std::max<int64_t>(8, (quarter + 4) / 8 * 8);
  if (rounded < 0.9 * double(quarter)) rounded += 8;
  return rounded;
}

// Keras names every layer after its snake_case class, suffixed _1, _2, ... for later instances in
// construction order. Replaying RVM's construction order regenerates the release's names.
class KerasLayerNames {
 public:
  std::string next(const std::string& layer_class) {
    int index = counts_[layer_class]++;
    return index == 0 ? layer_class : fmt::format("{}_{}", layer_class, index);
  }

 private:
  std::map<std::string, int> counts_;
};

void read_exactly(const fs::path& path, char* destination, uintmax_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in || !in.read(destination, std::streamsize(size)))
    throw Error(fmt::format("{}: cannot read {} bytes", path.string(), size));
}

std::string read_model_json(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error))
    throw Error(fmt::format("{}: no such model.json file", path.string()));
  uintmax_t size = fs::file_size(path, error);
  if (error) throw Error(fmt::format("{}: {}", path.string(), error.message()));
  if (size > kMaxModelJsonBytes)
    throw Error(fmt::format("{}: {} bytes is too large for a model.json", path.string(), size));
  std::string text(size, '\0');
  read_exactly(path, text.data(), size);
  return text;
}

struct StoredTensor {
  const TfjsWeight* weight;
  const uint8_t* data;  // weight->bytes bytes
};

// The bytes of every shard, and where each tensor lies in them.
struct ShardContents {
  std::vector<std::vector<uint8_t>> groups;
  std::map<std::string, StoredTensor> tensors;
};

// Reads a group's shards back to back after checking that together they hold exactly the bytes
// the manifest describes: a truncated download or a mismatched .bin is reported, not misread.
std::vector<uint8_t> read_group(const TfjsWeightGroup& group, const fs::path& folder,
                                const std::string& source) {
  std::vector<std::pair<fs::path, uintmax_t>> shards;
  uintmax_t total = 0;
  for (const std::string& relative : group.paths) {
    fs::path shard = folder / relative;
    std::error_code error;
    if (!fs::is_regular_file(shard, error))
      throw Error(fmt::format("{}: weight shard listed in {} is missing", shard.string(), source));
    uintmax_t size = fs::file_size(shard, error);
    if (error) throw Error(fmt::format("{}: {}", shard.string(), error.message()));
    total += std::min(size, uintmax_t(group.bytes) + 1);  // clamped: the sum cannot overflow
    shards.emplace_back(shard, size);
  }
  if (total != uintmax_t(group.bytes)) {
    std::vector<std::string> shard_names;
    for (const auto& [shard, size] : shards) shard_names.push_back(shard.string());
    // Below the expected size no shard was clamped, so `total` is exact.
    std::string problem = total < uintmax_t(group.bytes)
                              ? fmt::format("{} bytes, too short for", total)
                              : std::string("longer than");
    throw Error(fmt::format("{}: {} the {} bytes of weights listed in {}",
                            fmt::join(shard_names, ", "), problem, group.bytes, source));
  }
  std::vector<uint8_t> bytes(group.bytes);
  char* position = reinterpret_cast<char*>(bytes.data());
  for (const auto& [shard, size] : shards) {
    read_exactly(shard, position, size);
    position += size;
  }
  return bytes;
}

ShardContents read_shards(const TfjsManifest& manifest, const fs::path& folder,
                          const std::string& source) {
  ShardContents contents;
  contents.groups.reserve(manifest.groups.size());  // keeps the tensors' data pointers valid
  for (const TfjsWeightGroup& group : manifest.groups) {
    const std::vector<uint8_t>& bytes =
        contents.groups.emplace_back(read_group(group, folder, source));
    for (const TfjsWeight& weight : group.weights)
      contents.tensors.emplace(weight.name, StoredTensor{&weight, bytes.data() + weight.offset});
  }
  return contents;
}

// The value of every possible stored byte, computed as TF.js does: product and sum each rounded to
// double, then the result to float32. The separate, volatile product keeps the compiler from
// contracting it into an FMA, whose single rounding could differ from the release's .pth.
std::array<float, 256> dequantization_table(const TfjsQuantization& quantization) {
  std::array<float, 256> table;
  for (int q = 0; q < 256; ++q) {
    volatile double product = double(q) * quantization.scale;
    table[q] = float(product + quantization.min);
  }
  return table;
}

std::vector<float> decode_float(const StoredTensor& tensor, const std::string& source) {
  const TfjsWeight& weight = *tensor.weight;
  std::vector<float> values(weight.numel);
  if (weight.quantization) {
    std::array<float, 256> table = dequantization_table(*weight.quantization);
    for (int64_t i = 0; i < weight.numel; ++i) values[i] = table[tensor.data[i]];
    return values;
  }
  if (weight.numel > 0)  // an empty tensor's pointers may be null, which memcpy must not see
    std::memcpy(values.data(), tensor.data, weight.numel * sizeof(float));
  for (float value : values)
    if (!std::isfinite(value))
      throw Error(fmt::format("{}: tensor '{}' holds a non-finite value", source, weight.name));
  return values;
}

// TensorFlow stores convolution kernels HWIO [kh, kw, in, out]; PyTorch OIHW [out, in, kh, kw].
// A depthwise kernel [kh, kw, C, 1] comes out as [1, C, kh, kw], the same memory as PyTorch's
// depthwise [C, 1, kh, kw].
std::vector<float> hwio_to_oihw(const std::vector<float>& hwio, int64_t kh, int64_t kw, int64_t in,
                                int64_t out) {
  std::vector<float> oihw(hwio.size());
  for (int64_t y = 0; y < kh; ++y)
    for (int64_t x = 0; x < kw; ++x)
      for (int64_t i = 0; i < in; ++i)
        for (int64_t o = 0; o < out; ++o)
          oihw[((o * in + i) * kh + y) * kw + x] = hwio[((y * kw + x) * in + i) * out + o];
  return oihw;
}

// A float constant of the release's graph that is not a weight. The network code hard-codes these,
// so a model whose constants differ would silently compute something else.
struct GraphConstant {
  const char* role;
  std::vector<double> values;  // one value: every element must equal it
  double tolerance = 0.0;
};

std::optional<GraphConstant> known_graph_constant(std::string_view name) {
  // The box filter of the fast guided filter, inlined into the graph as function inputs.
  if (name.starts_with(kInlinedInputPrefix))
    return GraphConstant{"guided-filter box filter", {double(1.0f / 3.0f)}};
  if (name.starts_with(kConstantFoldingPrefix)) name.remove_prefix(kConstantFoldingPrefix.size());
  if (!name.starts_with(kGraphPrefix)) return std::nullopt;
  name.remove_prefix(kGraphPrefix.size());

  // The ImageNet normalization, itself quantized in this release (see models/README.md).
  if (name == "mobile_net_v3_encoder/Const")
    return GraphConstant{"ImageNet mean", {0.485, 0.456, 0.406}, 1e-3};
  if (name == "mobile_net_v3_encoder/truediv_recip")
    return GraphConstant{"ImageNet 1/std", {1 / 0.229, 1 / 0.224, 1 / 0.225}, 1e-3};
  if (name.ends_with("fast_guided_filter/add/y"))
    return GraphConstant{"guided-filter epsilon", {double(1e-5f)}};
  // hard-swish x * relu6(x + 3) / 6 and hard-sigmoid relu6(x + 3) / 6
  if (name.ends_with("/truediv_recip"))
    return GraphConstant{"hard-swish/hard-sigmoid 1/6", {double(1.0f / 6.0f)}};
  if (name.ends_with("/add/y")) return GraphConstant{"hard-swish/hard-sigmoid offset", {3.0}};
  if (name.ends_with("/sub/x")) return GraphConstant{"ConvGRU 1 - z", {1.0}};
  // clamp(0, 1) of the outputs, and the `downsample_ratio == 1` tests
  if (name.starts_with("clip_by_value") && name.ends_with("/Minimum/y"))
    return GraphConstant{"output clamp maximum", {1.0}};
  if (name.starts_with("clip_by_value") && name.ends_with("/y"))
    return GraphConstant{"output clamp minimum", {0.0}};
  if (name == "x" || name == "x_1") return GraphConstant{"downsample ratio 1", {1.0}};
  return std::nullopt;
}

void check_graph_constant(const GraphConstant& expected, const TfjsWeight& weight,
                          const std::vector<float>& values, const std::string& source) {
  const bool broadcast = expected.values.size() == 1;
  if (values.empty() || (!broadcast && values.size() != expected.values.size()))
    throw Error(
        fmt::format("{}: graph constant '{}' ({}) has {} elements, expected {}", source,
                    weight.name, expected.role, values.size(),
                    broadcast ? std::string("some") : std::to_string(expected.values.size())));
  for (size_t i = 0; i < values.size(); ++i) {
    double wanted = expected.values[broadcast ? 0 : i];
    if (std::fabs(double(values[i]) - wanted) > expected.tolerance)
      throw Error(fmt::format("{}: graph constant '{}' ({}) holds {} at element {}, expected {}",
                              source, weight.name, expected.role, values[i], i, wanted));
  }
}

// Builds PyTorch's state_dict of MattingNetwork('mobilenetv3', refiner='fast_guided_filter') by
// walking its modules in construction order, generating the Keras name of each tfjs tensor.
class RvmTfjsConverter {
 public:
  RvmTfjsConverter(const ShardContents& shards, const std::string& source)
      : shards_(shards), weights_(source) {}

  WeightMap convert() && {
    backbone();
    lraspp();
    decoder();
    check_remaining_tensors();
    return std::move(weights_);
  }

 private:
  const std::string& source() const { return weights_.source(); }

  // The dequantized float tensor `keras_path`, which must have exactly `shape`.
  std::vector<float> take(const std::string& keras_path, const std::vector<int64_t>& shape) {
    std::string name = fmt::format("{}{}", kGraphPrefix, keras_path);
    auto it = shards_.tensors.find(name);
    if (it == shards_.tensors.end())
      throw Error(
          fmt::format("{}: missing tensor '{}' (shape {})", source(), name, shape_string(shape)));
    const TfjsWeight& weight = *it->second.weight;
    if (weight.dtype != TfjsDtype::float32)
      throw Error(fmt::format("{}: tensor '{}' has dtype {}, expected float32", source(), name,
                              to_string(weight.dtype)));
    if (weight.shape != shape)
      throw Error(fmt::format("{}: tensor '{}' has shape {}, expected {}", source(), name,
                              shape_string(weight.shape), shape_string(shape)));
    used_.insert(name);
    return decode_float(it->second, source());
  }

  void add(const std::string& key, std::vector<int64_t> shape, std::vector<float> values) {
    weights_.add(key, WeightTensor{std::move(shape), std::move(values)});
  }

  // The converter folded BatchNorm into the preceding convolution, so PyTorch gets an identity
  // BatchNorm: running_var + eps rounds to exactly 1 in float32 and eval mode computes
  // weight * x + bias.
  void add_batchnorm(const std::string& key, std::vector<float> weight, std::vector<float> bias,
                     double eps) {
    int64_t channels = int64_t(bias.size());
    add(key + ".weight", {channels}, std::move(weight));
    add(key + ".bias", {channels}, std::move(bias));
    add(key + ".running_mean", {channels}, std::vector<float>(channels, 0.0f));
    add(key + ".running_var", {channels}, std::vector<float>(channels, float(1.0 - eps)));
  }

  // Conv2D with its BatchNorm folded in: the weights carry the BN scale, bn_offset the shift.
  void folded_conv(const std::string& layer, const std::string& conv_key, const std::string& bn_key,
                   int64_t kernel, int64_t in, int64_t out, double eps) {
    std::vector<float> hwio = take(layer + "/Conv2D_weights", {kernel, kernel, in, out});
    add(conv_key + ".weight", {out, in, kernel, kernel},
        hwio_to_oihw(hwio, kernel, kernel, in, out));
    add_batchnorm(bn_key, std::vector<float>(out, 1.0f), take(layer + "/Conv2D_bn_offset", {out}),
                  eps);
  }

  void folded_depthwise(const std::string& layer, const std::string& conv_key,
                        const std::string& bn_key, int64_t kernel, int64_t channels, double eps) {
    std::vector<float> hwio = take(layer + "/depthwise_weights", {kernel, kernel, channels, 1});
    add(conv_key + ".weight", {channels, 1, kernel, kernel},
        hwio_to_oihw(hwio, kernel, kernel, channels, 1));
    add_batchnorm(bn_key, std::vector<float>(channels, 1.0f),
                  take(layer + "/depthwise_bn_offset", {channels}), eps);
  }

  // The dilated depthwise convs were not folded (TF rewrote them as SpaceToBatchND ->
  // DepthwiseConv2dNative -> BatchToSpaceND): raw kernel, then BN scale and offset.
  void dilated_depthwise(const std::string& layer, const std::string& bn_layer,
                         const std::string& conv_key, const std::string& bn_key, int64_t kernel,
                         int64_t channels, double eps) {
    std::vector<float> hwio =
        take(layer + "/depthwise/ReadVariableOp", {kernel, kernel, channels, 1});
    add(conv_key + ".weight", {channels, 1, kernel, kernel},
        hwio_to_oihw(hwio, kernel, kernel, channels, 1));
    add_batchnorm(bn_key, take(bn_layer + "/FusedBatchNormV3/Scaled", {channels}),
                  take(bn_layer + "/FusedBatchNormV3/Offset", {channels}), eps);
  }

  // A convolution without BatchNorm: squeeze-excitation, ConvGRU, LR-ASPP gate, projection.
  void plain_conv(const std::string& layer, const std::string& key, int64_t kernel, int64_t in,
                  int64_t out, bool has_bias) {
    std::vector<float> hwio = take(layer + "/Conv2D/ReadVariableOp", {kernel, kernel, in, out});
    add(key + ".weight", {out, in, kernel, kernel}, hwio_to_oihw(hwio, kernel, kernel, in, out));
    if (has_bias) add(key + ".bias", {out}, take(layer + "/BiasAdd/ReadVariableOp", {out}));
  }

  // The Keras names of one torchvision ConvBNActivation (conv, BatchNorm, activation).
  struct ConvBnNames {
    std::string block, conv, batchnorm;
  };
  ConvBnNames next_conv_bn(const char* conv_class) {
    // A braced list is evaluated left to right, in Keras's construction order.
    return {names_.next("conv_bn_activation"), names_.next(conv_class),
            names_.next("batch_normalization")};
  }

  void backbone() {
    const std::string encoder = names_.next("mobile_net_v3_encoder");
    ConvBnNames stem = next_conv_bn("conv2d");
    folded_conv(encoder + "/" + stem.block + "/" + stem.conv, "backbone.features.0.0",
                "backbone.features.0.1", 3, kImageChannels, kStemChannels, kBackboneBnEps);

    for (size_t i = 0; i < std::size(kMobileNetV3Large); ++i) {
      const InvertedResidualConfig& config = kMobileNetV3Large[i];
      const std::string inverted_residual = names_.next("inverted_residual");
      const std::string scope = encoder + "/" + inverted_residual + "/" + names_.next("sequential");
      // The index of each part in torchvision's `block`; there is no expansion conv when
      // expanded == in.
      int part = 0;
      auto key = [&](const char* suffix) {
        return fmt::format("backbone.features.{}.block.{}{}", i + 1, part, suffix);
      };
      if (config.expanded != config.in) {
        ConvBnNames expand = next_conv_bn("conv2d");
        folded_conv(scope + "/" + expand.block + "/" + expand.conv, key(".0"), key(".1"), 1,
                    config.in, config.expanded, kBackboneBnEps);
        ++part;
      }
      ConvBnNames depthwise = next_conv_bn("depthwise_conv2d");
      const std::string depthwise_block = scope + "/" + depthwise.block;
      if (config.dilated)
        dilated_depthwise(depthwise_block + "/" + depthwise.conv,
                          depthwise_block + "/" + depthwise.batchnorm, key(".0"), key(".1"),
                          config.kernel, config.expanded, kBackboneBnEps);
      else
        folded_depthwise(depthwise_block + "/" + depthwise.conv, key(".0"), key(".1"),
                         config.kernel, config.expanded, kBackboneBnEps);
      ++part;
      if (config.squeeze_excite) {
        const std::string excitation = scope + "/" + names_.next("squeeze_excitation");
        const int64_t squeeze = squeeze_channels(config.expanded);
        const std::string fc1 = excitation + "/" + names_.next("conv2d");
        const std::string fc2 = excitation + "/" + names_.next("conv2d");
        plain_conv(fc1, key(".fc1"), 1, config.expanded, squeeze, true);
        plain_conv(fc2, key(".fc2"), 1, squeeze, config.expanded, true);
        ++part;
      }
      ConvBnNames project = next_conv_bn("conv2d");
      folded_conv(scope + "/" + project.block + "/" + project.conv, key(".0"), key(".1"), 1,
                  config.expanded, config.out, kBackboneBnEps);
    }

    ConvBnNames last = next_conv_bn("conv2d");
    folded_conv(encoder + "/" + last.block + "/" + last.conv, "backbone.features.16.0",
                "backbone.features.16.1", 1, std::end(kMobileNetV3Large)[-1].out,
                kBackboneOutChannels, kBackboneBnEps);
  }

  // Conv2d + BatchNorm2d (+ ReLU) inside an nn.Sequential: Keras names conv2d_N and
  // batch_normalization_M directly in the sequential's scope.
  std::string next_sequential_conv(const std::string& scope) {
    std::string conv = scope + "/" + names_.next("conv2d");
    names_.next("batch_normalization");
    return conv;
  }

  void lraspp() {
    const std::string aspp = names_.next("lraspp");
    const std::string sequential = aspp + "/" + names_.next("sequential");
    folded_conv(next_sequential_conv(sequential), "aspp.aspp1.0", "aspp.aspp1.1", 1,
                kBackboneOutChannels, kAsppChannels, kDefaultBnEps);
    plain_conv(aspp + "/" + names_.next("conv2d"), "aspp.aspp2.1", 1, kBackboneOutChannels,
               kAsppChannels, false);
  }

  // ConvGRU(channels): ih gates r and z from [x, h], hh the candidate from [x, r * h].
  void conv_gru(const std::string& scope, const std::string& key, int64_t channels) {
    const std::string gru = scope + "/" + names_.next("conv_gru");
    const std::string ih = gru + "/" + names_.next("conv2d");
    const std::string hh = gru + "/" + names_.next("conv2d");
    plain_conv(ih, key + ".ih.0", 3, 2 * channels, 2 * channels, true);
    plain_conv(hh, key + ".hh.0", 3, 2 * channels, channels, true);
  }

  void decoder() {
    const std::string scope = names_.next("recurrent_decoder");
    // The bottleneck runs its GRU on the second half of the LR-ASPP output.
    conv_gru(scope + "/" + names_.next("bottleneck_block"), "decoder.decode4.gru",
             kAsppChannels / 2);

    for (const UpsamplingConfig& config : kUpsamplingBlocks) {
      const std::string block = scope + "/" + names_.next("upsampling_block");
      const std::string key = fmt::format("decoder.{}", config.key);
      const std::string sequential = block + "/" + names_.next("sequential");
      folded_conv(next_sequential_conv(sequential), key + ".conv.0", key + ".conv.1", 3,
                  config.in + config.skip + kImageChannels, config.out, kDefaultBnEps);
      conv_gru(block, key + ".gru", config.out / 2);
    }

    const std::string output_block = scope + "/" + names_.next("output_block");
    const std::string sequential = output_block + "/" + names_.next("sequential");
    const std::string conv1 = next_sequential_conv(sequential);
    const std::string conv2 = next_sequential_conv(sequential);
    folded_conv(conv1, "decoder.decode0.conv.0", "decoder.decode0.conv.1", 3,
                std::end(kUpsamplingBlocks)[-1].out + kImageChannels, kOutputBlockChannels,
                kDefaultBnEps);
    folded_conv(conv2, "decoder.decode0.conv.3", "decoder.decode0.conv.4", 3, kOutputBlockChannels,
                kOutputBlockChannels, kDefaultBnEps);

    plain_conv(names_.next("conv2d"), "project_mat.conv", 1, kOutputBlockChannels,
               kProjectMatChannels, true);
  }

  // Every float tensor must be a weight taken above or a known graph constant; int32 and bool
  // tensors are graph structure (shapes, axes, condition pivots) and are not needed.
  void check_remaining_tensors() const {
    for (const auto& [name, tensor] : shards_.tensors) {
      if (tensor.weight->dtype != TfjsDtype::float32 || used_.count(name) != 0) continue;
      std::optional<GraphConstant> expected = known_graph_constant(name);
      if (!expected)
        throw Error(fmt::format(
            "{}: unexpected float tensor '{}': neither a weight of RVM MobileNetV3 nor a known "
            "graph constant",
            source(), name));
      check_graph_constant(*expected, *tensor.weight, decode_float(tensor, source()), source());
    }
  }

  const ShardContents& shards_;
  WeightMap weights_;
  KerasLayerNames names_;
  std::set<std::string> used_;
};

}  // namespace

WeightMap read_tfjs(const std::string& path) {
  std::error_code error;
  fs::path model_json =
      fs::is_directory(path, error) ? fs::path(path) / "model.json" : fs::path(path);
  const std::string source = model_json.string();
  TfjsManifest manifest = parse_tfjs_manifest(read_model_json(model_json), source);
  ShardContents shards = read_shards(manifest, model_json.parent_path(), source);
  return RvmTfjsConverter(shards, source).convert();
}

}  // namespace mattecast
