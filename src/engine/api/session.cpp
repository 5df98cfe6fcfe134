#include <optional>

#include <fmt/format.h>

#include "api/model_impl.h"
#include "models/int8_calibration.h"
#include "models/rvm.h"
#include "models/segmenter.h"
#include "nn/threads.h"

namespace mattecast {

struct Session::Impl {
  std::shared_ptr<const Model> model;
  SessionParams params;
  std::optional<RvmNetwork> network;  // RVM
  std::optional<Segmenter> segmenter;  // a light model

  Impl(std::shared_ptr<const Model> m, const SessionParams& p) : model(std::move(m)), params(p) {
    const Model::Impl& weights = model->impl();
    if (!weights.light()) {
      network.emplace(weights.weights, options(*model, p));
      return;
    }
    if (p.record_int8_ranges) throw Error("int8 calibration is for RVM models");
    check_smoothing(p.mask_smoothing);
    SegmenterOptions options;
    options.profile = weights.profile;
    options.guided_upsampling = p.guided_upsampling;
    options.mask_smoothing = p.mask_smoothing;
    segmenter.emplace(weights.tflite_bytes, weights.info.path, options);
  }

  static void check_smoothing(float weight) {
    if (!(weight >= 0.0f && weight < 1.0f))
      throw Error(fmt::format("mask smoothing {} is outside [0, 1)", weight));
  }

  static RvmOptions options(const Model& model, const SessionParams& p) {
    RvmOptions options{p.precision, p.alpha_only};
    if (p.record_int8_ranges && p.precision != Precision::fp32)
      throw Error("int8 calibration runs in fp32");
    options.record_int8_ranges = p.record_int8_ranges;
    if (p.precision == Precision::int8)
      options.int8_ranges = load_int8_calibration(model.impl().weights, p.int8_calibration).ranges;
    return options;
  }
  int frames = 0;
};

namespace {

void check_ratio(float ratio) {
  if (!(ratio >= 0.0f && ratio <= 1.0f))
    throw Error(fmt::format("downsample ratio {} is outside (0, 1]", ratio));
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionParams& params) {
  if (!model) throw Error("Session needs a loaded model");
  check_ratio(params.downsample_ratio);
  if (params.threads < 0) throw Error(fmt::format("thread count {} is negative", params.threads));
  check_precision_supported(params.precision);
  SessionParams resolved = params;
  resolved.threads = set_threads(params.threads);
  impl_ = std::make_unique<Impl>(std::move(model), resolved);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const SessionParams& Session::params() const { return impl_->params; }

float Session::downsample_ratio_for(int width, int height) const {
  return impl_->params.downsample_ratio > 0.0f ? impl_->params.downsample_ratio
                                               : auto_downsample_ratio(width, height);
}

void Session::process(const RgbImage& frame, Matte& out) {
  if (!frame.data || frame.width < 1 || frame.height < 1 || frame.stride < 3 * frame.width)
    throw Error(fmt::format("invalid frame: {}x{} pixels, stride {} bytes", frame.width,
                            frame.height, frame.stride));
  set_threads(impl_->params.threads);  // OpenMP's count is per calling thread
  if (impl_->segmenter)
    impl_->segmenter->forward(frame, out);
  else
    impl_->network->forward(frame, downsample_ratio_for(frame.width, frame.height), out);
  ++impl_->frames;
}

void Session::reset() {
  if (impl_->segmenter)
    impl_->segmenter->reset_state();
  else
    impl_->network->reset_state();
}

void Session::set_downsample_ratio(float ratio) {
  check_ratio(ratio);
  impl_->params.downsample_ratio = ratio;
}

const StageTimings& Session::last_timings() const {
  return impl_->segmenter ? impl_->segmenter->timings() : impl_->network->timings();
}

StateView Session::recurrent_state(int level) const {
  if (!impl_->network) throw Error("a light model has no recurrent state");
  return impl_->network->state(level);
}

std::string Session::int8_calibration() const {
  if (!impl_->params.record_int8_ranges)
    throw Error("int8_calibration(): the session does not record int8 ranges");
  Int8Calibration calibration;
  calibration.weights = weights_fingerprint(impl_->model->impl().weights);
  calibration.ranges = impl_->network->observed_int8_ranges();
  calibration.frames = impl_->frames;
  return to_json(calibration);
}

}  // namespace mattecast
