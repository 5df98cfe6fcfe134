// Matting stage of the live job: one alpha-only Session whose recurrent state runs from frame to
// frame, warmed on a grey frame of the input's size so that the first real frame does not wait
// for the kernels to be planned; with --target-fps its downsample ratio (and for an fp32 session
// first its precision: int8) follows a RatioController.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "live/ratio_controller.h"
#include "mattecast/mattecast.h"

namespace mattecast {

// The network's ratio, read by the preview server's thread.
struct RatioFigures {
  std::atomic<float> ratio{0};
  std::atomic<int> changes{0};
};

class LiveMatting {
 public:
  using Log = std::function<void(const std::string&)>;

  // `params`: alpha_only is forced on. target_fps 0 keeps the session's ratio. The network is
  // announced through `info` ("network: ...") once warm.
  LiveMatting(std::shared_ptr<const Model> model, const SessionParams& params, double target_fps,
              int width, int height, RatioFigures& figures, const Log& info, const Log& warn);

  const SessionParams& params() const { return params_; }
  bool adapts_ratio() const { return controller_ != nullptr; }

  // The precision the network runs in now (int8 once --target-fps lowered it).
  Precision precision() const { return session_.params().precision; }
  // The matte of the next frame of the stream (valid until the next call).
  Matte& process(const RgbImage& frame);
  // Forgets the recurrent state: the next frame starts a new shot.
  void reset() { session_.reset(); }
  // After each output frame, for --target-fps: when (ns) it left, how long processing it took and
  // how many input frames arrived for it. A ratio change applies from the next frame, warned of.
  void frame_done(int64_t now_ns, double processing_ms, int64_t arrived);

 private:
  // For --target-fps on an fp32 session: whether int8 runs with this model (its calibration).
  bool int8_runs() const;

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  Session session_;
  Matte matte_;
  std::unique_ptr<RatioController> controller_;
  RatioFigures& figures_;
  Log warn_;
};

}  // namespace mattecast
