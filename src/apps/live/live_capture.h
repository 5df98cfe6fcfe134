// Capture stage of the live job: the LiveSource's thread (a camera, or a file or URL played as
// one) publishing into the newest-frame hand-off (LatestFrame), and the processing side's take of
// the newest frame, counting the frames dropped since the previous one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "live/latest_frame.h"
#include "live/live_job.h"
#include "live/live_source.h"
#include "live/live_stats.h"

namespace mattecast {

class LiveCapture {
 public:
  // The frame size. A camera (or options.open_source's stand-in) is opened now: its negotiated
  // size; it starts streaming, and the frames until processing starts are dropped, as live frames
  // are. A file is only probed: it starts playing at start(), so none of its frames are lost to
  // the set-up. Throws Error for a missing or unusable input.
  LiveCapture(const LiveJobOptions& options, Clock& clock, LiveStats& stats,
              std::function<void(const std::string&)> warn);
  ~LiveCapture();

  int width() const { return width_; }
  int height() const { return height_; }
  double fps() const { return fps_; }  // nominal; 0 if unknown

  // Opens a file's source (a camera's is open already); what it is.
  const LiveSourceInfo& start();

  // The newest frame, swapped into `frame`, waiting up to `timeout`. For a frame, taken_ns() is
  // when it was taken and arrived() how many were published since the previous one (1 + those
  // dropped); the stats count them and the frame's wait (the capture stage). Two seconds without
  // a frame are warned about, once until frames come again.
  TakeResult take(LiveFrame& frame, std::chrono::nanoseconds timeout);
  int64_t taken_ns() const { return taken_ns_; }
  int64_t arrived() const { return arrived_; }

  // Ends the capture thread; the counters and error() stay.
  void stop();
  std::string error() const { return latest_.error(); }  // "" for a clean end of input
  LatestFrameCounters counters() const { return latest_.counters(); }

 private:
  std::unique_ptr<LiveSource> open_source();

  LiveSourceOptions source_options_;
  LiveSourceOpener opener_;
  Clock& clock_;
  LiveStats& stats_;
  std::function<void(const std::string&)> warn_;
  LatestFrame latest_;
  std::unique_ptr<LiveSource> source_;
  int width_ = 0, height_ = 0;
  double fps_ = 0;
  int64_t last_sequence_ = -1;
  int64_t taken_ns_ = 0;
  int64_t arrived_ = 0;
  int64_t last_frame_ns_ = 0;
  bool stall_warned_ = false;
};

}  // namespace mattecast
