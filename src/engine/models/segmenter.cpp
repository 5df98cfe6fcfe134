#include "models/segmenter.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "models/tflite_reader.h"
#include "nn/kernels.h"

namespace mattecast {

namespace {

// The guided filter's regularisation for a light model's soft mask: on the synthetic clips 1e-4,
// 1e-3, 1e-2 and 1e-1 gave selfie's Grad 17.84, 17.73, 17.74, 18.45 (MAD 34.2 to 35.0).
constexpr float kGuidedEps = 1e-3f;

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Segmenter::Segmenter(std::span<const uint8_t> bytes, const std::string& name,
                     SegmenterOptions options)
    : name_(name), options_(std::move(options)), graph_(tflite::parse_tflite(bytes, name)) {
  const std::vector<int32_t>& in = graph_.input_shape();
  const int channels = options_.profile.prior_mask ? 4 : 3;
  if (in.size() != 4 || in[0] != 1 || in[3] != channels)
    throw Error(fmt::format(
        "{}: input shape [{}]: a light model takes one RGB picture [1,H,W,3], or [1,H,W,4] with "
        "its last mask as the fourth channel (`prior`{})",
        name, fmt::join(in, ","), options_.profile.prior_mask ? ", as this one is told" : ""));
  input_h_ = in[1];
  input_w_ = in[2];
  const std::vector<int32_t>& out = graph_.output_shape();
  int64_t elements = 1;
  for (int32_t d : out) elements *= d;
  if (out.size() == 4 && out[0] == 1 && (out[3] == 1 || out[3] == 2)) {
    mask_h_ = out[1];
    mask_w_ = out[2];
    mask_channels_ = out[3];
  } else if (elements == int64_t(input_h_) * input_w_ || elements == 2 * int64_t(input_h_) * input_w_) {
    mask_h_ = input_h_;  // a flattened mask of the input's size
    mask_w_ = input_w_;
    mask_channels_ = int(elements / (int64_t(input_h_) * input_w_));
  } else {
    throw Error(fmt::format("{}: output shape [{}] is not a mask of the input's {}x{} pixels",
                            name, fmt::join(out, ","), input_w_, input_h_));
  }
  if (mask_channels_ == 1 && options_.profile.logits)
    throw Error(fmt::format("{}: 'logits' needs a two-channel output", name));
  if (options_.profile.prior_mask && (mask_h_ != input_h_ || mask_w_ != input_w_))
    throw Error(fmt::format("{}: 'prior' needs a mask of the input's size", name));
  const size_t mask_pixels = size_t(mask_h_) * mask_w_;
  guide_.resize(mask_pixels * 3);
  y_.assign(mask_pixels * 4, 0.0f);
  previous_.resize(mask_pixels);
  if (options_.profile.prior_mask) {
    prior_.assign(mask_pixels, 0.0f);
    rgb_input_.resize(size_t(input_h_) * input_w_ * 3);
  }
  a_.resize(mask_pixels * 4);
  b_.resize(mask_pixels * 4);
}

Segmenter::~Segmenter() = default;

void Segmenter::reset_state() {
  has_previous_ = false;
  std::fill(prior_.begin(), prior_.end(), 0.0f);
}

void Segmenter::fill_input(const RgbImage& frame) {
  const View<float> guide = dense_view(guide_.data(), mask_h_, mask_w_, 3);
  kernels::resize_rgb8(workspace_, frame, guide, float(frame.height) / mask_h_,
                       float(frame.width) / mask_w_);
  // Three channels straight into the network's input, or beside the prior mask.
  float* input = options_.profile.prior_mask ? rgb_input_.data() : graph_.input();
  if (input_h_ == mask_h_ && input_w_ == mask_w_) {
    std::copy(guide_.begin(), guide_.end(), input);
  } else {
    kernels::resize_rgb8(workspace_, frame, dense_view(input, input_h_, input_w_, 3),
                         float(frame.height) / input_h_, float(frame.width) / input_w_);
  }
  const SegmentationProfile& profile = options_.profile;
  // x in [0, 1] becomes x * scale[c] + offset[c], in the network's channel order.
  float scale[3], offset[3];
  for (int c = 0; c < 3; ++c) {
    switch (profile.range) {
      case InputRange::unit: scale[c] = 1.0f, offset[c] = 0.0f; break;
      case InputRange::symmetric: scale[c] = 2.0f, offset[c] = -1.0f; break;
      case InputRange::byte: scale[c] = 255.0f, offset[c] = 0.0f; break;
      case InputRange::caffe: {
        const float mean_rgb[3] = {123.68f, 116.78f, 103.94f};
        scale[c] = 255.0f * 0.017f;
        offset[c] = -mean_rgb[profile.bgr ? 2 - c : c] * 0.017f;
        break;
      }
    }
  }
  const size_t pixels = size_t(input_h_) * input_w_;
  const int stride = profile.prior_mask ? 4 : 3;
  float* out = graph_.input();
  for (size_t i = 0; i < pixels; ++i) {
    float rgb[3] = {input[3 * i], input[3 * i + 1], input[3 * i + 2]};
    if (profile.bgr) std::swap(rgb[0], rgb[2]);
    float* p = out + stride * i;
    for (int c = 0; c < 3; ++c) p[c] = rgb[c] * scale[c] + offset[c];
    if (profile.prior_mask) p[3] = prior_[i];
  }
}

void Segmenter::read_mask() {
  const float* out = graph_.output();
  const SegmentationProfile& profile = options_.profile;
  const int person = mask_channels_ == 2 ? profile.person_channel : 0;
  const float weight = has_previous_ ? options_.mask_smoothing : 0.0f;
  const size_t pixels = size_t(mask_h_) * mask_w_;
  for (size_t i = 0; i < pixels; ++i) {
    const float* p = out + i * mask_channels_;
    float mask = profile.logits ? 1.0f / (1.0f + std::exp(p[1 - person] - p[person])) : p[person];
    mask = std::clamp(mask, 0.0f, 1.0f);
    if (profile.prior_mask) prior_[i] = mask;
    mask = weight * previous_[i] + (1.0f - weight) * mask;
    previous_[i] = mask;
    y_[4 * i + 3] = mask;
  }
  has_previous_ = true;
}

void Segmenter::forward(const RgbImage& frame, Matte& out) {
  if (frame.width != frame_w_ || frame.height != frame_h_) {  // a new stream
    reset_state();
    frame_w_ = frame.width;
    frame_h_ = frame.height;
  }
  auto start = Clock::now();
  fill_input(frame);
  timings_.input_ms = ms_since(start);
  start = Clock::now();
  graph_.run();
  timings_.encoder_ms = ms_since(start);
  timings_.decoder_ms = 0;
  start = Clock::now();
  read_mask();
  const View<float> a = dense_view(a_.data(), mask_h_, mask_w_, 4);
  const View<float> b = dense_view(b_.data(), mask_h_, mask_w_, 4);
  if (options_.guided_upsampling) {
    kernels::fast_guided_filter_coefficients(
        workspace_, View<const float>(dense_view(guide_.data(), mask_h_, mask_w_, 3)),
        View<const float>(dense_view(y_.data(), mask_h_, mask_w_, 4)), kGuidedEps, a, b);
  } else {  // A = 0: the output is b, the mask itself, bilinearly resized
    std::fill(a_.begin(), a_.end(), 0.0f);
    std::copy(y_.begin(), y_.end(), b_.begin());
  }
  out.width = frame.width;
  out.height = frame.height;
  out.alpha.resize(size_t(frame.width) * frame.height);
  out.foreground.clear();
  kernels::guided_filter_apply(workspace_, frame, a, b, out.alpha.data(), nullptr);
  timings_.refiner_ms = ms_since(start);
}

}  // namespace mattecast
