// Matting stage of the live job (see live_matting.h).
#include "live/live_matting.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

namespace mattecast {

namespace {

SessionParams alpha_only(SessionParams params) {
  params.alpha_only = true;
  return params;
}

}  // namespace

LiveMatting::LiveMatting(std::shared_ptr<const Model> model, const SessionParams& params,
                         double target_fps, int width, int height, RatioFigures& figures,
                         const Log& info, const Log& warn)
    : model_(model),
      params_(alpha_only(params)),
      session_(model, params_),
      figures_(figures),
      warn_(warn) {
  const std::vector<uint8_t> grey(size_t(width) * size_t(height) * 3, 128);
  session_.process({grey.data(), width, height, ptrdiff_t(width) * 3}, matte_);
  session_.reset();
  const ModelInfo& about = model->info();
  if (about.format == "tflite") {  // a fixed input size: no ratio to choose
    if (target_fps > 0)
      info(fmt::format("--target-fps: {} runs at its fixed {}x{} input, so there is no ratio to "
                       "adapt; stale frames are still dropped",
                       about.short_name.empty() ? "this light model" : about.short_name,
                       about.input_width, about.input_height));
    info(fmt::format("network: {} at {}x{}, fp32, mask upsampled {}, smoothing {:.2g}",
                     std::filesystem::path(about.path).filename().string(), about.input_width,
                     about.input_height, params_.guided_upsampling ? "by a guided filter" : "bilinearly",
                     params_.mask_smoothing));
    return;
  }
  if (target_fps > 0) {
    RatioControllerOptions control;
    control.target_fps = target_fps;
    control.max_ratio = session_.downsample_ratio_for(width, height);
    control.min_ratio = std::min(0.15f, control.max_ratio);
    // int8 is faster on every tier (on AVX2 in the encoder only, see RvmNetwork::runs_in_int8).
    control.int8_first = params_.precision == Precision::fp32 && int8_runs();
    controller_ = std::make_unique<RatioController>(control);
  }
  const float ratio = session_.downsample_ratio_for(width, height);
  figures_.ratio.store(ratio);
  info(fmt::format("network: {} at ratio {:.3g} ({}x{}), {}{}, alpha only",
                   std::filesystem::path(model->info().path).filename().string(), ratio,
                   int(std::lround(width * ratio)), int(std::lround(height * ratio)),
                   to_string(params_.precision),
                   params_.threads > 0 ? fmt::format(", {} thread{}", params_.threads,
                                                     params_.threads > 1 ? "s" : "")
                                       : ""));
}

bool LiveMatting::int8_runs() const {
  SessionParams int8 = params_;
  int8.precision = Precision::int8;
  try {
    Session probe(model_, int8);  // loads the calibration; plans nothing yet
  } catch (const Error& e) {
    warn_(fmt::format("--target-fps: int8 is not available ({}); only the ratio adapts", e.what()));
    return false;
  }
  return true;
}

Matte& LiveMatting::process(const RgbImage& frame) {
  session_.process(frame, matte_);
  return matte_;
}

void LiveMatting::frame_done(int64_t now_ns, double processing_ms, int64_t arrived) {
  if (!controller_) return;
  if (!controller_->frame(now_ns, processing_ms, int(std::min<int64_t>(arrived, 1000)))) return;
  const float before = figures_.ratio.load();
  const Precision was = precision();
  const Precision now = controller_->int8() ? Precision::int8 : params_.precision;
  if (now != was) {  // a new network in the other precision; its state starts afresh
    SessionParams changed = params_;
    changed.precision = now;
    changed.downsample_ratio = controller_->ratio();
    session_ = Session(model_, changed);
  } else {
    session_.set_downsample_ratio(controller_->ratio());
  }
  figures_.ratio.store(controller_->ratio());
  figures_.changes.store(controller_->changes());
  warn_(fmt::format("--target-fps: network {} at ratio {:.3g} -> {} at {:.3g} ({})", to_string(was),
                    before, to_string(now), controller_->ratio(), controller_->last_reason()));
}

}  // namespace mattecast
