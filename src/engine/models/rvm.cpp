#include "models/rvm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "nn/kernels.h"

namespace mattecast {

namespace {

// torchvision's ImageNet normalisation, applied inside the encoder after downsampling.
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kInvStd[3] = {1.0f / 0.229f, 1.0f / 0.224f, 1.0f / 0.225f};
constexpr float kGuidedFilterEps = 1e-5f;

int half_up(int n) { return (n + 1) / 2; }

// Calls f(view) with each tensor's view, whatever the two element types.
template <typename F>
void with_views(const Tensor& a, Tensor& b, F&& f, int a_first = 0, int a_count = -1,
                int b_first = 0, int b_count = -1) {
  with_view(
      a,
      [&](auto va) {
        with_view(
            b, [&](auto vb) { f(va, vb); }, b_first, b_count);
      },
      a_first, a_count);
}

}  // namespace

RvmNetwork::RvmNetwork(const RvmWeights& weights, RvmOptions options)
    : weights_(weights),
      options_(options),
      compute_type_(options.precision == Precision::bf16 ? DataType::bf16 : DataType::f32) {
  const auto& w = weights_;
  auto make = [](const ConvLayer& layer) { return Conv2d(layer.name, layer.spec, &layer.weights); };
  stem_ = make(w.stem);
  for (const InvertedResidual& block : w.blocks) {
    EncoderBlock layer;
    layer.weights = &block;
    if (block.expand) layer.expand = make(*block.expand);
    layer.depthwise = make(block.depthwise);
    layer.project = make(block.project);
    if (block.squeeze_excitation && compute_type_ == DataType::bf16) {
      const auto to_bf16 = [](const std::vector<float>& values) {
        return std::vector<bf16>(values.begin(), values.end());
      };
      layer.se_fc1 = to_bf16(block.squeeze_excitation->fc1_weight);
      layer.se_fc2 = to_bf16(block.squeeze_excitation->fc2_weight);
    }
    blocks_.push_back(std::move(layer));
  }
  last_ = make(w.last);
  aspp_main_ = make(w.aspp_main);

  auto make_gru = [&](Gru& gru, const ConvGruLayer& layer) {
    gru.input_hidden = make(layer.input_hidden);
    gru.hidden_hidden = make(layer.hidden_hidden);
  };
  make_gru(bottleneck_gru_, w.bottleneck_gru);
  for (int i = 0; i < 3; ++i) {
    up_[i].conv = make(w.upsampling[i].conv);
    make_gru(up_[i].gru, w.upsampling[i].gru);
  }
  output_conv1_ = make(w.output_conv1);
  output_conv2_ = make(w.output_conv2);
  project_ = make(w.project_mat);

  if (w.refiner == RefinerKind::deep_guided_filter) {
    dgf_conv1_ = make(*w.dgf_conv1);
    dgf_conv2_ = make(*w.dgf_conv2);
    dgf_conv3_ = make(*w.dgf_conv3);
  }
  set_up_int8();
}

// The decoder's dense convolutions (three quarters of the multiply-adds), and the encoder's 1x1
// convolutions where int8 pays for the pass that quantizes their input (measured per layer at
// 1080p/0.25, 2 threads): from block 6 on (its expansion is the first wide one; the later ones
// run at /16 with hundreds of channels), `last` and LR-ASPP's main branch. Earlier layers, with
// few channels at high resolution, and the stem (3 input channels) are slower in int8. The
// projections of blocks 6-10 stay float: they gained 0.2 ms together and cost the most accuracy
// (synthetic set at avx2: MAD +1.4 % over the decoder-only int8, against +0.3 % without them).
// Depthwise layers, the projection to the matte and the refiner stay in float.
template <class Network>
auto RvmNetwork::int8_layers(Network& n) {
  using Layer = std::conditional_t<std::is_const_v<Network>, const Conv2d, Conv2d>;
  constexpr size_t kFirstExpansion = 6, kFirstProjection = 11;
  std::vector<Layer*> layers;
  for (size_t i = kFirstExpansion; i < n.blocks_.size(); ++i) {
    if (n.blocks_[i].weights->expand) layers.push_back(&n.blocks_[i].expand);
    if (i >= kFirstProjection) layers.push_back(&n.blocks_[i].project);
  }
  layers.push_back(&n.last_);
  layers.push_back(&n.aspp_main_);
  layers.push_back(&n.bottleneck_gru_.input_hidden);
  layers.push_back(&n.bottleneck_gru_.hidden_hidden);
  for (auto& l : n.up_)
    for (Layer* c : {&l.conv, &l.gru.input_hidden, &l.gru.hidden_hidden}) layers.push_back(c);
  layers.push_back(&n.output_conv1_);
  layers.push_back(&n.output_conv2_);
  return layers;
}

std::vector<std::string> RvmNetwork::int8_layer_names() const {
  std::vector<std::string> names;
  for (const Conv2d* layer : int8_layers(*this)) names.push_back(layer->name());
  return names;
}

// Below AVX-512 (no VNNI), oneDNN 2.6's int8 kernels lose to our float Winograd on every decoder
// 3x3 layer (1080p/0.25, 2 threads, avx2, int8 + its quantizing pass against Winograd: 35->16
// 3.3+1.3 against 3.1 ms, 59->32 2.7+0.4 against 2.3, 107->40 1.9 against 1.2), so those stay
// float there and int8 covers the encoder's 1x1 layers, 1.5x faster than in float.
bool RvmNetwork::runs_in_int8(const Conv2d& layer) {
  return !runs_own_winograd(cpu_tier(), layer.spec());
}

void RvmNetwork::set_up_int8() {
  for (Conv2d* layer : int8_layers(*this)) {
    if (options_.record_int8_ranges) layer->observe_inputs(true);
    if (options_.precision != Precision::int8 || !runs_in_int8(*layer)) continue;
    const auto range = options_.int8_ranges.find(layer->name());
    if (range == options_.int8_ranges.end() ||
        range->second.size() != size_t(layer->spec().in_channels))
      throw Error(fmt::format("int8 calibration has no {} input ranges for layer {}",
                              layer->spec().in_channels, layer->name()));
    layer->quantize(range->second);
  }
}

Int8Ranges RvmNetwork::observed_int8_ranges() const {
  Int8Ranges ranges;
  for (const Conv2d* layer : int8_layers(*this)) ranges[layer->name()] = layer->observed_ranges();
  return ranges;
}

void RvmNetwork::plan_gru(Gru& gru, Size size, int channels) {
  const DataType f32 = DataType::f32;
  const size_t pixels = size_t(size.h) * size.w;
  gru.state.allocate(size.h, size.w, channels, f32);
  gru_xh_.reserve(pixels * 2 * channels, compute_type_);
  // Gate and candidate pre-activations in the compute type: in bf16 they are rounded as every
  // other activation is, and the gating loops read half the bytes.
  gru_gates_.reserve(pixels * 2 * channels, compute_type_);
  gru_candidate_.reserve(pixels * channels, compute_type_);
  gru.input_hidden.plan(dnnl_, size.h, size.w, compute_type_, compute_type_);
  gru.hidden_hidden.plan(dnnl_, size.h, size.w, compute_type_, compute_type_);
}

void RvmNetwork::plan(int frame_w, int frame_h, float ratio) {
  const DataType f32 = DataType::f32;
  const DataType ct = compute_type_;
  frame_w_ = frame_h_ = 0;  // unplanned until the end: a failed plan must not look done
  input_size_ = {int(std::floor(double(frame_h) * ratio)),
                 int(std::floor(double(frame_w) * ratio))};
  if (input_size_.h < 1 || input_size_.w < 1)
    throw Error(fmt::format("frame {}x{} at downsample ratio {} leaves no pixels for the network",
                            frame_w, frame_h, ratio));
  levels_[0] = input_size_;
  for (int i = 1; i < 5; ++i) levels_[i] = {half_up(levels_[i - 1].h), half_up(levels_[i - 1].w)};

  // Input pyramid.
  src_small_.allocate(input_size_.h, input_size_.w, 3, f32);
  normalized_.allocate(input_size_.h, input_size_.w, 3, ct);
  for (int i = 0; i < 3; ++i) pooled_[i].allocate(levels_[i + 1].h, levels_[i + 1].w, 3, f32);

  // Encoder: shared buffers sized for the largest block.
  stem_.plan(dnnl_, input_size_.h, input_size_.w, ct, ct);
  size_t io_elements = size_t(stem_.out_h()) * stem_.out_w() * 16, expanded = 0, depthwise = 0;
  int h = stem_.out_h(), w = stem_.out_w();
  for (EncoderBlock& block : blocks_) {
    if (block.weights->expand) {
      block.expand.plan(dnnl_, h, w, ct, ct);
      expanded = std::max(expanded, size_t(h) * w * block.expand.spec().out_channels);
    }
    block.depthwise.plan(dnnl_, h, w, ct, ct);
    h = block.depthwise.out_h(), w = block.depthwise.out_w();
    depthwise = std::max(depthwise, size_t(h) * w * block.depthwise.spec().out_channels);
    block.project.plan(dnnl_, h, w, ct, ct);
    io_elements = std::max(io_elements, size_t(h) * w * block.project.spec().out_channels);
    for (int f = 0; f < 3; ++f)
      if (&block == &blocks_[kFeatureBlocks[f]])
        features_[f].allocate(h, w, block.project.spec().out_channels, ct);
  }
  const Size full = levels_[0];
  const size_t full_pixels = size_t(full.h) * full.w;
  block_a_.reserve(io_elements, ct);
  block_b_.reserve(io_elements, ct);
  expanded_.reserve(std::max(expanded, full_pixels * 16), ct);  // later the decoder's output_mid_
  depthwise_.reserve(depthwise, ct);
  if (h != levels_[4].h || w != levels_[4].w)
    throw Error(fmt::format("internal: encoder output {}x{}, expected {}x{}", w, h, levels_[4].w,
                            levels_[4].h));
  last_.plan(dnnl_, h, w, ct, ct);
  features4_.allocate(h, w, 960, ct);
  aspp_main_.plan(dnnl_, h, w, ct, f32);
  aspp_.allocate(h, w, 128, f32);
  pooled_features_.resize(960);
  squeezed_.resize(960);
  gate_.resize(960);

  // Decoder.
  plan_gru(bottleneck_gru_, levels_[4], 64);
  int x_channels = 128;
  for (int i = 0; i < 3; ++i) {
    Level& level = up_[i];
    const Size size = levels_[3 - i];
    const ConvSpec& spec = level.conv.spec();
    level.input.allocate(size.h, size.w, spec.in_channels, ct);
    level.conv.plan(dnnl_, size.h, size.w, ct, f32);
    level.output.allocate(size.h, size.w, spec.out_channels, f32);
    plan_gru(level.gru, size, spec.out_channels / 2);
    x_channels = spec.out_channels;
  }
  output_input_.reserve(full_pixels * std::max<size_t>(x_channels + 3, 2 * 16), ct);
  output_input_.reshape(full.h, full.w, x_channels + 3);
  output_conv1_.plan(dnnl_, full.h, full.w, ct, ct);
  output_mid_.alias(expanded_, full.h, full.w, 16, ct);  // the encoder is done by then
  output_conv2_.plan(dnnl_, full.h, full.w, ct, ct);
  hidden_.alias(output_input_, full.h, full.w, 16, ct);  // conv1 has consumed the input
  project_.plan(dnnl_, full.h, full.w, ct, f32);
  projection_.allocate(full.h, full.w, 4, f32);

  // Refiner (always float: it is cheap at this size and sets the final edge quality).
  for (Tensor* t : {&coeff_a_, &coeff_b_}) t->allocate(full.h, full.w, 4, f32);
  if (weights_.refiner == RefinerKind::deep_guided_filter) {
    for (Tensor* t : {&mean_x_, &mean_y_}) t->allocate(full.h, full.w, 4, f32);
    dgf_stats_.allocate(full.h, full.w, 24, f32);
    dgf_mid1_.allocate(full.h, full.w, 16, f32);
    dgf_mid2_.allocate(full.h, full.w, 16, f32);
    for (Conv2d* conv : {&dgf_conv1_, &dgf_conv2_, &dgf_conv3_})
      conv->plan(dnnl_, full.h, full.w, f32, f32);
  }

  size_t scratch = 0;
  for (const Conv2d* c : convolutions()) scratch = std::max(scratch, c->scratchpad_bytes());
  scratchpad_.resize(scratch);
  frame_w_ = frame_w, frame_h_ = frame_h, ratio_ = ratio;
  reset_state();
}

std::vector<const Conv2d*> RvmNetwork::convolutions() const {
  std::vector<const Conv2d*> all{&stem_};
  for (const EncoderBlock& b : blocks_)
    for (const Conv2d* c : {&b.expand, &b.depthwise, &b.project}) all.push_back(c);
  for (const Conv2d* c :
       {&last_, &aspp_main_, &bottleneck_gru_.input_hidden, &bottleneck_gru_.hidden_hidden})
    all.push_back(c);
  for (const Level& l : up_)
    for (const Conv2d* c : {&l.conv, &l.gru.input_hidden, &l.gru.hidden_hidden}) all.push_back(c);
  for (const Conv2d* c :
       {&output_conv1_, &output_conv2_, &project_, &dgf_conv1_, &dgf_conv2_, &dgf_conv3_})
    all.push_back(c);
  std::erase_if(all, [](const Conv2d* c) { return c->name().empty(); });  // layers it lacks
  return all;
}

void RvmNetwork::reset_state() {
  if (frame_w_ == 0) return;  // nothing planned yet: the first frame starts from zeros anyway
  for (Gru* gru : {&bottleneck_gru_, &up_[0].gru, &up_[1].gru, &up_[2].gru}) {
    Tensor& s = gru->state;
    std::memset(s.data(), 0, size_t(s.h()) * s.w() * s.c() * sizeof(float));
  }
}

StateView RvmNetwork::state(int level) const {
  if (level < 1 || level > 4) throw Error(fmt::format("no recurrent state level {}", level));
  const Tensor& s = level == 4 ? bottleneck_gru_.state : up_[3 - level].gru.state;
  return {static_cast<const float*>(s.data()), s.h(), s.w(), s.c()};
}

void RvmNetwork::conv(Conv2d& layer, const Tensor& src, Tensor& dst, const Tensor* residual) {
  dst.reshape(layer.out_h(), layer.out_w(), layer.spec().out_channels);
  layer.run(dnnl_, src.data(), dst.data(), scratchpad_.data(),
            residual ? residual->data() : nullptr);
}

void RvmNetwork::forward(const RgbImage& frame, float ratio, Matte& out) {
  if (frame.width != frame_w_ || frame.height != frame_h_ || ratio != ratio_)
    plan(frame.width, frame.height, ratio);
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point start) {
    return std::chrono::duration<double, std::milli>(clock::now() - start).count();
  };
  auto start = clock::now();
  prepare_input(frame);
  timings_.input_ms = ms_since(start);
  start = clock::now();
  encode();
  timings_.encoder_ms = ms_since(start);
  start = clock::now();
  decode();
  timings_.decoder_ms = ms_since(start);
  start = clock::now();
  refine(frame, out);
  timings_.refiner_ms = ms_since(start);
}

void RvmNetwork::prepare_input(const RgbImage& frame) {
  const float scale = float(1.0 / double(ratio_));  // PyTorch resizes by the given factor
  kernels::resize_rgb8(dnnl_.workspace, frame, src_small_.view<float>(), scale, scale);
  with_view(normalized_, [&](auto dst) {
    kernels::normalize(View<const float>(src_small_.view<float>()), dst, kMean, kInvStd);
  });
  // Image pyramid s1..s3 for the decoder.
  const Tensor* previous = &src_small_;
  for (int i = 0; i < 3; ++i) {
    kernels::avg_pool_2x2(previous->view<float>(), pooled_[i].view<float>());
    previous = &pooled_[i];
  }
}

void RvmNetwork::squeeze_excite(const EncoderBlock& block, Tensor& x) {
  const SqueezeExcitation& se = *block.weights->squeeze_excitation;
  with_view(x, [&](auto v) {
    kernels::global_avg_pool(dnnl_.workspace, as_const(v), pooled_features_.data());
  });
  const auto fully_connected_pair = [&](const auto* fc1,
                                        const auto* fc2) {  // float or bf16 weights
    kernels::fully_connected(fc1, se.fc1_bias.data(), pooled_features_.data(), se.channels,
                             se.squeeze_channels, squeezed_.data());
    for (int i = 0; i < se.squeeze_channels; ++i) squeezed_[i] = std::max(squeezed_[i], 0.0f);
    kernels::fully_connected(fc2, se.fc2_bias.data(), squeezed_.data(), se.squeeze_channels,
                             se.channels, gate_.data());
  };
  if (block.se_fc1.empty())
    fully_connected_pair(se.fc1_weight.data(), se.fc2_weight.data());
  else
    fully_connected_pair(block.se_fc1.data(), block.se_fc2.data());
  for (int i = 0; i < se.channels; ++i)  // hard sigmoid: relu6(x + 3) / 6
    gate_[i] = std::min(std::max(gate_[i] + 3.0f, 0.0f), 6.0f) / 6.0f;
  with_view(x, [&](auto v) { kernels::scale_channels(v, gate_.data()); });
}

void RvmNetwork::encode() {
  conv(stem_, normalized_, block_a_);
  Tensor* x = &block_a_;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    EncoderBlock& block = blocks_[i];
    // Skip connections f1..f3 stay in their own buffers for the decoder, the rest alternate.
    const auto feature = std::find(kFeatureBlocks.begin(), kFeatureBlocks.end(), int(i));
    Tensor* y = feature != kFeatureBlocks.end() ? &features_[feature - kFeatureBlocks.begin()]
                : x == &block_a_                ? &block_b_
                                                : &block_a_;
    const Tensor* expanded = x;
    if (block.weights->expand) {
      conv(block.expand, *x, expanded_);
      expanded = &expanded_;
    }
    conv(block.depthwise, *expanded, depthwise_);
    if (block.weights->squeeze_excitation) squeeze_excite(block, depthwise_);
    conv(block.project, depthwise_, *y, block.project.spec().residual ? x : nullptr);
    x = y;
  }
  conv(last_, *x, features4_);

  // LR-ASPP: ReLU(BN(conv(f4))) * sigmoid(conv(mean(f4))).
  conv(aspp_main_, features4_, aspp_);
  with_view(features4_, [&](auto v) {
    kernels::global_avg_pool(dnnl_.workspace, as_const(v), pooled_features_.data());
  });
  kernels::fully_connected(weights_.aspp_gate.data(), nullptr, pooled_features_.data(), 960, 128,
                           gate_.data());
  for (int i = 0; i < 128; ++i) gate_[i] = 1.0f / (1.0f + std::exp(-gate_[i]));
  kernels::scale_channels(aspp_.view<float>(), gate_.data());
}

// ConvGRU on the second half of `block_output`'s channels, which it replaces by the new state.
void RvmNetwork::run_gru(Gru& gru, Tensor& block_output) {
  const int c = gru.state.c();
  Tensor& xh = gru_xh_;
  xh.reshape(gru.state.h(), gru.state.w(), 2 * c);
  with_view(xh, [&](auto dst) {
    kernels::concat_channels(block_output.view<float>().channels(c, c), gru.state.view<float>(),
                             dst);
  });
  conv(gru.input_hidden, xh, gru_gates_);
  with_views(
      gru_gates_, xh,
      [&](auto gates, auto h_slot) {
        kernels::gru_reset(as_const(gates), as_const(gru.state.view<float>()), h_slot);
      },
      0, 2 * c, c, c);
  conv(gru.hidden_hidden, xh, gru_candidate_);
  with_views(gru_gates_, gru_candidate_, [&](auto gates, auto candidate) {
    kernels::gru_update(as_const(gates), as_const(candidate), gru.state.view<float>(),
                        block_output.view<float>().channels(c, c));
  });
}

void RvmNetwork::decode() {
  run_gru(bottleneck_gru_, aspp_);
  const Tensor* x = &aspp_;
  for (int i = 0; i < 3; ++i) {  // at /8 with f3 and s3, /4 with f2 and s2, /2 with f1 and s1
    Level& level = up_[i];
    with_view(level.input, [&](auto input) {
      using T = std::remove_pointer_t<decltype(input.data)>;
      kernels::upsample_concat(dnnl_.workspace, x->view<float>(),
                               View<const T>(features_[2 - i].view<T>()),
                               pooled_[2 - i].view<float>(), input);
    });
    conv(level.conv, level.input, level.output);
    run_gru(level.gru, level.output);
    x = &level.output;
  }
  with_view(output_input_, [&](auto input) {
    using T = std::remove_pointer_t<decltype(input.data)>;
    kernels::upsample_concat(dnnl_.workspace, x->view<float>(), View<const T>{},
                             src_small_.view<float>(), input);
  });
  conv(output_conv1_, output_input_, output_mid_);
  conv(output_conv2_, output_mid_, hidden_);
}

void RvmNetwork::refine(const RgbImage& frame, Matte& out) {
  conv(project_, hidden_, projection_);
  out.width = frame.width;
  out.height = frame.height;
  out.alpha.resize(size_t(frame.width) * frame.height);
  out.foreground.resize(options_.alpha_only ? 0 : size_t(frame.width) * frame.height * 3);
  float* foreground = options_.alpha_only ? nullptr : out.foreground.data();
  const View<const float> small = src_small_.view<float>();
  const View<const float> y = projection_.view<float>();

  if (ratio_ == 1.0f) {  // the network ran at full resolution: nothing to refine
    kernels::compose_unrefined(dnnl_.workspace, frame, y, out.alpha.data(), foreground);
    return;
  }
  if (weights_.refiner == RefinerKind::fast_guided_filter) {
    kernels::fast_guided_filter_coefficients(dnnl_.workspace, small, y, kGuidedFilterEps,
                                             coeff_a_.view<float>(), coeff_b_.view<float>());
  } else {
    // Deep guided filter: box statistics (the learnt 3x3 box) into channels 0..7 of the refiner's
    // input, the hidden features into 8..23, then A from them by three 1x1 convs.
    const View<float> stats = dgf_stats_.view<float>();
    const View<float> mean_x = mean_x_.view<float>(), mean_y = mean_y_.view<float>();
    kernels::deep_guided_filter_statistics(dnnl_.workspace, small, y, weights_.dgf_box.data(),
                                           stats.channels(0, 8), mean_x, mean_y);
    with_view(hidden_,
              [&](auto hidden) { kernels::copy(as_const(hidden), stats.channels(8, 16)); });
    conv(dgf_conv1_, dgf_stats_, dgf_mid1_);
    conv(dgf_conv2_, dgf_mid1_, dgf_mid2_);
    conv(dgf_conv3_, dgf_mid2_, coeff_a_);
    kernels::guided_filter_offset(coeff_a_.view<float>(), mean_x, mean_y, coeff_b_.view<float>());
  }
  kernels::guided_filter_apply(dnnl_.workspace, frame, coeff_a_.view<float>(),
                               coeff_b_.view<float>(), out.alpha.data(), foreground);
}

}  // namespace mattecast
