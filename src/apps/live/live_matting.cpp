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
    : params_(alpha_only(params)), session_(model, params_), figures_(figures), warn_(warn) {
  const std::vector<uint8_t> grey(size_t(width) * size_t(height) * 3, 128);
  session_.process({grey.data(), width, height, ptrdiff_t(width) * 3}, matte_);
  session_.reset();
  if (target_fps > 0) {
    RatioControllerOptions control;
    control.target_fps = target_fps;
    control.max_ratio = session_.downsample_ratio_for(width, height);
    control.min_ratio = std::min(0.15f, control.max_ratio);
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

Matte& LiveMatting::process(const RgbImage& frame) {
  session_.process(frame, matte_);
  return matte_;
}

void LiveMatting::frame_done(int64_t now_ns, double processing_ms, int64_t arrived) {
  if (!controller_) return;
  if (!controller_->frame(now_ns, processing_ms, int(std::min<int64_t>(arrived, 1000)))) return;
  const float before = figures_.ratio.load();
  session_.set_downsample_ratio(controller_->ratio());
  figures_.ratio.store(controller_->ratio());
  figures_.changes.store(controller_->changes());
  warn_(fmt::format("--target-fps: network ratio {:.3g} -> {:.3g} ({})", before,
                    controller_->ratio(), controller_->last_reason()));
}

}  // namespace mattecast
