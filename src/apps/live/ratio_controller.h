// The ratio controller of --target-fps: the network's downsample ratio (and, first, its
// precision), chosen from what the live job's processing loop reports, one step at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mattecast {

struct RatioControllerOptions {
  double target_fps = 30;   // the output rate to hold
  float max_ratio = 0.4f;   // the ratio to start at (the session's own); never raised above it
  float min_ratio = 0.15f;  // never lowered below it
  float step = 0.92f;       // each level's ratio is `step` times the one above
  double window_s = 2.0;    // rates and processing time are measured over this long
  double tolerance = 0.03;  // "below the target": output < (1 - tolerance) x min(target, input)
  double headroom = 0.30;   // raise when processing takes < (1 - headroom) / target per frame ...
  double raise_after_s = 4.0;  // ... for this long
  // A level that proved too slow is not raised back to for this long; the wait doubles each time
  // the same level fails again (up to max_backoff_s), so the ratio settles instead of oscillating.
  double backoff_s = 10.0;
  double max_backoff_s = 160.0;
  int settle_frames = 2;  // frames not measured after a change (the network re-plans its kernels)
  // Lower the precision to int8 before the ratio: level 1 is max_ratio in int8, each level
  // below it a step lower in int8 (for fp32 sessions, where int8 is faster and keeps detail).
  bool int8_first = false;
};

// Chooses the network's downsample ratio for --target-fps from what the processing loop reports,
// after the int8 rung when there is one: down when the output rate over the last window stays
// below the target (or below the input's rate, when that is lower: a slow camera is no reason to
// lose detail), as many fine steps as the shortfall asks for; up one step when processing leaves
// enough headroom for a while. A pure function of the reported times, so it is tested with a
// simulated clock.
class RatioController {
 public:
  explicit RatioController(const RatioControllerOptions& options);

  // One output frame: the time it left (ns, any monotonic origin), how long processing it took
  // (ms, from taking it to the end of the outputs) and how many input frames arrived since the
  // previous output frame (1 + the frames dropped in between). True when ratio() changed.
  bool frame(int64_t now_ns, double processing_ms, int arrived = 1);

  float ratio() const { return ratio_for(level_); }
  bool int8() const { return int8_at(level_); }
  bool int8_at(int level) const { return options_.int8_first && level >= 1; }
  int level() const { return level_; }             // 0: max_ratio, 1: max_ratio x step, ...
  int lowest_level() const { return max_level_; }  // the level of min_ratio (or just above it)
  float ratio_for(int level) const;
  // Why the last change was made, e.g. "output 24.1 fps < target 30 fps" (empty before any).
  const std::string& last_reason() const { return reason_; }
  int changes() const { return changes_; }

  // The figures of the last evaluated window (0 before a full window was seen).
  double output_fps() const { return output_fps_; }
  double input_fps() const { return input_fps_; }
  double processing_ms() const { return processing_ms_; }

 private:
  struct Sample {
    int64_t t = 0;
    double processing_ms = 0;
    int arrived = 0;
  };
  int levels_down(double shortfall) const;
  void change_level(int level, int64_t now_ns, std::string reason);

  RatioControllerOptions options_;
  int level_ = 0;
  int max_level_ = 0;
  std::vector<Sample> ring_;  // fixed capacity: no allocation per frame
  size_t head_ = 0, size_ = 0;
  int64_t window_start_ns_ = -1;  // measuring since (start, or the end of settling)
  int settle_ = 0;
  int64_t headroom_since_ns_ = -1;
  std::vector<int64_t> blocked_until_ns_;  // per level: no raise back to it before
  std::vector<double> backoff_s_;          // per level: the next block's length
  std::string reason_;
  int changes_ = 0;
  double output_fps_ = 0, input_fps_ = 0, processing_ms_ = 0;
};

}  // namespace mattecast
