// A video background decoded in a loop that follows the input's clock (see video_loop.h).
#include "compose/video_loop.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace mattecast::compose_detail {

VideoLoop::VideoLoop(const std::string& path, int width, int height, int threads)
    : path_(path), width_(width), height_(height), decoder_threads_(threads == 1 ? 1 : 0) {
  open();
  if (!read_next()) {
    throw Error(fmt::format("background '{}': no frame could be decoded from the video", path));
  }
  first_seconds_ = next_.seconds();
  show_next();  // the first frame, until render() says otherwise
  scale_shown();
}

void VideoLoop::seek(double relative) {
  if (relative < 0 || !std::isfinite(relative)) relative = 0;
  // Times are sums and differences of doubles: a microsecond of slack keeps a frame due at
  // exactly `relative` from being missed by rounding.
  relative += 1e-6;
  if (duration_ > 0) relative = std::fmod(relative, duration_);
  bool changed = false;
  if (relative < shown_time_) {  // looped round (or the input went back): from the start
    restart();
  }
  for (;;) {
    if (!have_next_) {
      if (!ended_ && read_next()) continue;
      ended_ = true;
      if (duration_ <= 0) duration_ = shown_time_ + last_frame_duration();
      if (relative < duration_) break;  // still within the last frame
      relative = std::fmod(relative, duration_);
      if (frames_read_ == 1) break;  // a single frame: nothing to loop
      restart();
      continue;
    }
    const double time = next_.seconds() - first_seconds_;
    if (time > relative && shown_index_ >= 0) break;
    show_next();
    changed = true;
  }
  if (changed || scaled_index_ != shown_index_) scale_shown();
}

void VideoLoop::open() {
  reader_.emplace(path_, VideoReader::Options{.threads = decoder_threads_});
  have_next_ = false;
  ended_ = false;
  frames_read_ = 0;
}

void VideoLoop::restart() {
  open();
  shown_index_ = -1;
  shown_time_ = -1;
}

bool VideoLoop::read_next() {
  have_next_ = reader_->read(next_);
  if (have_next_) {
    const double time = next_.seconds() - first_seconds_;
    if (frames_read_ > 0) last_interval_ = time - previous_time_;
    previous_time_ = time;
    ++frames_read_;
  }
  return have_next_;
}

double VideoLoop::last_frame_duration() const {
  const Rational rate = reader_->info().frame_rate;
  if (rate.known() && rate.value() > 0) return 1.0 / rate.value();
  if (last_interval_ > 0) return last_interval_;
  return 1.0 / 25;
}

// Takes the looked-ahead frame as the one shown: copied (the reader overwrites it on the next
// read), scaled only once the target time is settled.
void VideoLoop::show_next() {
  if (!held_ || held_->width != next_.width || held_->height != next_.height) {
    held_ = make_rgb_frame(next_.width, next_.height);
  }
  for (int y = 0; y < next_.height; ++y) {
    std::memcpy(held_->data[0] + ptrdiff_t(held_->linesize[0]) * y, next_.data + next_.stride * y,
                size_t(next_.width) * 3);
  }
  shown_time_ = next_.seconds() - first_seconds_;
  shown_index_ = next_.index;
  have_next_ = false;
}

void VideoLoop::scale_shown() {
  if (!out_) out_ = make_rgb_frame(width_, height_);
  if (!scaler_ || !scaler_->fits(held_->width, held_->height)) {
    scaler_.emplace(path_, held_->width, held_->height, width_, height_);
  }
  scaler_->scale(held_->data[0], held_->linesize[0], *out_);
  scaled_index_ = shown_index_;
}

}  // namespace mattecast::compose_detail
