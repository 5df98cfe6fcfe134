#include "models/rvm_weights.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

namespace mattecast {

namespace {

// torchvision's MobileNetV3-Large as configured by RVM: the last stage dilated (output stride 16).
struct BlockConfig {
  int in, kernel, expanded, out;
  bool squeeze_excitation;
  Activation activation;
  int stride, dilation;
};
constexpr Activation RE = Activation::relu;
constexpr Activation HS = Activation::hardswish;
constexpr BlockConfig kBlocks[] = {
    {16, 3, 16, 16, false, RE, 1, 1},   {16, 3, 64, 24, false, RE, 2, 1},
    {24, 3, 72, 24, false, RE, 1, 1},   {24, 5, 72, 40, true, RE, 2, 1},
    {40, 5, 120, 40, true, RE, 1, 1},   {40, 5, 120, 40, true, RE, 1, 1},
    {40, 3, 240, 80, false, HS, 2, 1},  {80, 3, 200, 80, false, HS, 1, 1},
    {80, 3, 184, 80, false, HS, 1, 1},  {80, 3, 184, 80, false, HS, 1, 1},
    {80, 3, 480, 112, true, HS, 1, 1},  {112, 3, 672, 112, true, HS, 1, 1},
    {112, 5, 672, 160, true, HS, 2, 2}, {160, 5, 960, 160, true, HS, 1, 2},
    {160, 5, 960, 160, true, HS, 1, 2},
};
constexpr float kBackboneEps = 1e-3f;  // torchvision MobileNetV3's BatchNorm
constexpr float kDefaultEps = 1e-5f;

int make_divisible(int value, int divisor) {  // torchvision's rounding of squeeze channels
  int rounded = std::max(divisor, (value + divisor / 2) / divisor * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

class Builder {
 public:
  explicit Builder(const WeightMap& map) : map_(map) {}

  const std::vector<float>& take(const std::string& name, const std::vector<int64_t>& shape) {
    used_.insert(name);
    return map_.get(name, shape).values;
  }

  // conv (no bias) followed by BatchNorm at `bn`, folded: w' = w * g / sqrt(v + eps).
  ConvLayer conv_bn(const std::string& conv, const std::string& bn, ConvSpec spec, float eps) {
    ConvLayer layer = plain_conv(conv, spec, false);
    const int64_t c = spec.out_channels;
    const auto& gamma = take(bn + ".weight", {c});
    const auto& beta = take(bn + ".bias", {c});
    const auto& mean = take(bn + ".running_mean", {c});
    const auto& var = take(bn + ".running_var", {c});
    const size_t per_channel = layer.weights.weight.size() / c;
    for (int64_t o = 0; o < c; ++o) {
      const float scale = gamma[o] / std::sqrt(var[o] + eps);
      for (size_t i = 0; i < per_channel; ++i) layer.weights.weight[o * per_channel + i] *= scale;
      layer.weights.bias[o] = beta[o] - mean[o] * scale;
    }
    return layer;
  }

  ConvLayer plain_conv(const std::string& conv, ConvSpec spec, bool has_bias) {
    ConvLayer layer{conv, spec, {}};
    const int64_t per_output = spec.depthwise ? 1 : spec.in_channels;
    layer.weights.weight =
        take(conv + ".weight", {spec.out_channels, per_output, spec.kernel, spec.kernel});
    layer.weights.bias = has_bias ? take(conv + ".bias", {spec.out_channels})
                                  : std::vector<float>(spec.out_channels, 0.0f);
    return layer;
  }

  ConvGruLayer conv_gru(const std::string& prefix, int channels) {
    ConvGruLayer gru;
    gru.channels = channels;
    gru.input_hidden = plain_conv(prefix + ".ih.0", {2 * channels, 2 * channels, 3}, true);
    gru.hidden_hidden = plain_conv(prefix + ".hh.0", {2 * channels, channels, 3}, true);
    return gru;
  }

  // Every tensor must be part of the network; the segmentation head is allowed and ignored.
  void check_all_used() const {
    for (const auto& [name, tensor] : map_.tensors()) {
      if (used_.count(name) || name.rfind("project_seg.", 0) == 0) continue;
      if (name.size() > 20 && name.ends_with("num_batches_tracked")) continue;
      throw Error(
          fmt::format("{}: unexpected tensor '{}' {}: not part of RVM MobileNetV3 "
                      "(is this the resnet50 variant or another model?)",
                      map_.source(), name, shape_string(tensor.shape)));
    }
  }

 private:
  const WeightMap& map_;
  std::set<std::string> used_;
};

}  // namespace

RvmWeights build_rvm_weights(const WeightMap& map) {
  Builder b(map);
  RvmWeights w;

  w.stem = b.conv_bn("backbone.features.0.0", "backbone.features.0.1", {3, 16, 3, 2, 1, false, HS},
                     kBackboneEps);
  for (size_t i = 0; i < std::size(kBlocks); ++i) {
    const BlockConfig& c = kBlocks[i];
    const std::string block = fmt::format("backbone.features.{}.block", i + 1);
    InvertedResidual layer;
    int index = 0;
    auto next = [&] { return fmt::format("{}.{}", block, index++); };
    if (c.expanded != c.in) {
      const std::string m = next();
      layer.expand = b.conv_bn(m + ".0", m + ".1", {c.in, c.expanded, 1, 1, 1, false, c.activation},
                               kBackboneEps);
    }
    {
      const std::string m = next();
      const int stride = c.dilation > 1 ? 1 : c.stride;  // torchvision trades stride for dilation
      layer.depthwise = b.conv_bn(
          m + ".0", m + ".1",
          {c.expanded, c.expanded, c.kernel, stride, c.dilation, true, c.activation}, kBackboneEps);
    }
    if (c.squeeze_excitation) {
      const std::string m = next();
      SqueezeExcitation se;
      se.channels = c.expanded;
      se.squeeze_channels = make_divisible(c.expanded / 4, 8);
      const int64_t C = se.channels, S = se.squeeze_channels;
      se.fc1_weight = b.take(m + ".fc1.weight", {S, C, 1, 1});
      se.fc1_bias = b.take(m + ".fc1.bias", {S});
      se.fc2_weight = b.take(m + ".fc2.weight", {C, S, 1, 1});
      se.fc2_bias = b.take(m + ".fc2.bias", {C});
      layer.squeeze_excitation = std::move(se);
    }
    {
      const std::string m = next();
      const bool residual = c.stride == 1 && c.in == c.out;
      ConvSpec spec{c.expanded, c.out, 1};
      spec.residual = residual;
      layer.project = b.conv_bn(m + ".0", m + ".1", spec, kBackboneEps);
    }
    w.blocks.push_back(std::move(layer));
  }
  w.last = b.conv_bn("backbone.features.16.0", "backbone.features.16.1",
                     {160, 960, 1, 1, 1, false, HS}, kBackboneEps);

  w.aspp_main =
      b.conv_bn("aspp.aspp1.0", "aspp.aspp1.1", {960, 128, 1, 1, 1, false, RE}, kDefaultEps);
  w.aspp_gate = b.take("aspp.aspp2.1.weight", {128, 960, 1, 1});

  w.bottleneck_gru = b.conv_gru("decoder.decode4.gru", 64);
  const int in_channels[] = {128, 80, 40};
  const int skip_channels[] = {40, 24, 16};
  const int out_channels[] = {80, 40, 32};
  for (int i = 0; i < 3; ++i) {
    const std::string m = fmt::format("decoder.decode{}", 3 - i);
    UpsamplingLayer& layer = w.upsampling[i];
    layer.conv = b.conv_bn(
        m + ".conv.0", m + ".conv.1",
        {in_channels[i] + skip_channels[i] + 3, out_channels[i], 3, 1, 1, false, RE}, kDefaultEps);
    layer.gru = b.conv_gru(m + ".gru", out_channels[i] / 2);
  }
  w.output_conv1 = b.conv_bn("decoder.decode0.conv.0", "decoder.decode0.conv.1",
                             {35, 16, 3, 1, 1, false, RE}, kDefaultEps);
  w.output_conv2 = b.conv_bn("decoder.decode0.conv.3", "decoder.decode0.conv.4",
                             {16, 16, 3, 1, 1, false, RE}, kDefaultEps);
  w.project_mat = b.plain_conv("project_mat.conv", {16, 4, 1}, true);

  if (map.contains("refiner.box_filter.weight")) {
    w.refiner = RefinerKind::deep_guided_filter;
    const auto& box = b.take("refiner.box_filter.weight", {4, 1, 3, 3});
    std::copy(box.begin(), box.end(), w.dgf_box.begin());
    w.dgf_conv1 =
        b.conv_bn("refiner.conv.0", "refiner.conv.1", {24, 16, 1, 1, 1, false, RE}, kDefaultEps);
    w.dgf_conv2 =
        b.conv_bn("refiner.conv.3", "refiner.conv.4", {16, 16, 1, 1, 1, false, RE}, kDefaultEps);
    w.dgf_conv3 = b.plain_conv("refiner.conv.6", {16, 4, 1}, true);
  }
  b.check_all_used();
  w.parameter_count = map.parameter_count();
  return w;
}

}  // namespace mattecast
