// The ratio controller of --target-fps (see ratio_controller.h).
#include "live/ratio_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {
constexpr size_t kRatioRing = 4096;  // samples: a 2 s window at up to 2000 fps
constexpr int kMaxLevels = 64;
}  // namespace

RatioController::RatioController(const RatioControllerOptions& options) : options_(options) {
  const auto& o = options_;
  if (!(o.target_fps > 0 && o.target_fps <= 1000))
    throw Error(fmt::format("target fps {}: expected a value in (0, 1000]", o.target_fps));
  if (!(o.max_ratio > 0 && o.max_ratio <= 1 && o.min_ratio > 0))
    throw Error(
        fmt::format("downsample ratio range {}..{} is not valid", o.min_ratio, o.max_ratio));
  if (!(o.step > 0 && o.step < 1))
    throw Error(fmt::format("ratio step {}: expected (0, 1)", o.step));
  if (!(o.window_s > 0)) throw Error("ratio controller: the window must be positive");
  while (max_level_ < kMaxLevels && ratio_for(max_level_ + 1) >= o.min_ratio * (1 - 1e-6f))
    ++max_level_;
  if (o.int8_first && max_level_ == 0) max_level_ = 1;  // the int8 rung, even at the floor
  ring_.resize(kRatioRing);
  blocked_until_ns_.assign(size_t(max_level_) + 1, std::numeric_limits<int64_t>::min());
  backoff_s_.assign(size_t(max_level_) + 1, o.backoff_s);
}

float RatioController::ratio_for(int level) const {
  const int steps = int8_at(level) ? level - 1 : level;
  return float(double(options_.max_ratio) * std::pow(double(options_.step), steps));
}

// Enough levels that the network's cost, about the square of the ratio, shrinks by the shortfall
// (goal / output rate): one window's measurement, not one step per window, finds a ratio close
// under the one that holds the rate. The cost's fixed part makes this an underestimate, never an
// overshoot. The int8 rung is taken on its own.
int RatioController::levels_down(double shortfall) const {
  if (int8_at(level_ + 1) && !int8_at(level_)) return 1;
  const double levels = std::log(shortfall) / (-2.0 * std::log(double(options_.step)));
  return std::clamp(int(std::ceil(levels - 1e-9)), 1, max_level_ - level_);
}

void RatioController::change_level(int level, int64_t now_ns, std::string reason) {
  level_ = level;
  reason_ = std::move(reason);
  ++changes_;
  size_ = 0;
  head_ = 0;
  headroom_since_ns_ = -1;
  settle_ = options_.settle_frames;
  window_start_ns_ = settle_ > 0 ? -1 : now_ns;
}

bool RatioController::frame(int64_t now_ns, double processing_ms, int arrived) {
  if (settle_ > 0) {
    if (--settle_ == 0) window_start_ns_ = now_ns;
    return false;
  }
  if (window_start_ns_ < 0) window_start_ns_ = now_ns;
  ring_[head_] = {now_ns, processing_ms, std::max(arrived, 0)};
  head_ = (head_ + 1) % ring_.size();
  size_ = std::min(size_ + 1, ring_.size());

  const auto window_ns = int64_t(options_.window_s * 1e9);
  if (now_ns - window_start_ns_ < window_ns) return false;  // not a full window yet

  int64_t outputs = 0, inputs = 0;
  double processing = 0;
  for (size_t age = 0; age < size_; ++age) {
    const Sample& s = ring_[(head_ + ring_.size() - 1 - age) % ring_.size()];
    if (s.t <= now_ns - window_ns) break;
    ++outputs;
    inputs += s.arrived;
    processing += s.processing_ms;
  }
  output_fps_ = double(outputs) / options_.window_s;
  input_fps_ = double(inputs) / options_.window_s;
  processing_ms_ = outputs > 0 ? processing / double(outputs) : 0.0;

  // The rate to hold: the target, or the input's when that is clearly lower.
  const bool input_limited = input_fps_ < options_.target_fps * (1 - options_.tolerance);
  const double goal = input_limited ? input_fps_ : options_.target_fps;
  if (level_ < max_level_ && output_fps_ < (1 - options_.tolerance) * goal) {
    // This level is too slow: no raise back to it for a while, longer each time it fails.
    auto& backoff = backoff_s_[size_t(level_)];
    blocked_until_ns_[size_t(level_)] = now_ns + int64_t(backoff * 1e9);
    backoff = std::min(backoff * 2, options_.max_backoff_s);
    change_level(level_ + levels_down(goal / std::max(output_fps_, 1e-3)), now_ns,
                 fmt::format("output {:.1f} fps < {} {:.4g} fps", output_fps_,
                             input_limited ? "input" : "target", goal));
    return true;
  }
  const double budget_ms = 1000.0 / options_.target_fps * (1 - options_.headroom);
  if (level_ > 0 && processing_ms_ < budget_ms) {
    if (headroom_since_ns_ < 0) headroom_since_ns_ = now_ns;
    if (now_ns - headroom_since_ns_ >= int64_t(options_.raise_after_s * 1e9) &&
        now_ns >= blocked_until_ns_[size_t(level_ - 1)]) {
      change_level(level_ - 1, now_ns,
                   fmt::format("processing {:.1f} ms per frame leaves over {:.0f}% headroom at "
                               "{:.4g} fps",
                               processing_ms_, options_.headroom * 100, options_.target_fps));
      return true;
    }
  } else {
    headroom_since_ns_ = -1;
  }
  return false;
}

}  // namespace mattecast
