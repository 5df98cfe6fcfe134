// Capture stage of the live job (see live_capture.h).
#include "live/live_capture.h"

#include <fmt/format.h>

#include "video/video_reader.h"

namespace mattecast {

LiveCapture::LiveCapture(const LiveJobOptions& o, Clock& clock, LiveStats& stats,
                         std::function<void(const std::string&)> warn)
    : opener_(o.open_source), clock_(clock), stats_(stats), warn_(std::move(warn)) {
  source_options_.input = o.input;
  source_options_.width = o.width;
  source_options_.height = o.height;
  source_options_.fps = o.fps;
  source_options_.pixel_format = o.pixel_format;
  source_options_.loop = o.loop;
  source_options_.decoder_threads = 1;  // the network's OpenMP team has the cores
  if (o.open_source || is_camera_input(o.input)) {
    source_ = open_source();
    width_ = source_->info().width;
    height_ = source_->info().height;
    fps_ = source_->info().fps > 0 ? source_->info().fps : o.fps;
  } else {
    VideoReader probe(o.input, {.threads = 1});
    const VideoInfo& video = probe.info();
    width_ = video.width;
    height_ = video.height;
    const Rational rate = video.frame_rate.known() ? video.frame_rate : video.nominal_frame_rate;
    fps_ = rate.known() ? rate.value() : 0.0;
  }
  if (width_ < 1 || height_ < 1) throw Error(fmt::format("{}: no frame size", o.input));
}

LiveCapture::~LiveCapture() = default;

std::unique_ptr<LiveSource> LiveCapture::open_source() {
  return opener_ ? opener_(source_options_, latest_, clock_)
                 : open_live_source(source_options_, latest_, clock_);
}

const LiveSourceInfo& LiveCapture::start() {
  if (!source_) source_ = open_source();
  last_frame_ns_ = clock_.now_ns();
  return source_->info();
}

TakeResult LiveCapture::take(LiveFrame& frame, std::chrono::nanoseconds timeout) {
  const TakeResult got = latest_.take(frame, timeout);
  if (got == TakeResult::timeout) {
    if (!stall_warned_ && clock_.now_ns() - last_frame_ns_ > 2'000'000'000) {
      warn_(fmt::format("no frames from {} for 2 s", source_->info().description));
      stall_warned_ = true;
    }
    return got;
  }
  if (got == TakeResult::closed) return got;
  taken_ns_ = clock_.now_ns();
  last_frame_ns_ = taken_ns_;
  stall_warned_ = false;
  arrived_ = last_sequence_ < 0 ? frame.sequence + 1 : frame.sequence - last_sequence_;
  last_sequence_ = frame.sequence;
  for (int64_t i = 0; i < arrived_; ++i) stats_.frame_captured();
  if (arrived_ > 1) stats_.frame_dropped(uint64_t(arrived_ - 1));
  stats_.stage(LiveStats::kCapture, double(taken_ns_ - frame.capture_ns) * 1e-6);
  return got;
}

void LiveCapture::stop() { source_->stop(); }

}  // namespace mattecast
