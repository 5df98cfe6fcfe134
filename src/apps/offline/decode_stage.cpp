// Decode stage of the offline job (see decode_stage.h).
#include "offline/decode_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>

namespace mattecast {

namespace {

std::string format_position(int64_t pts, Rational time_base) {
  if (pts < 0 || !time_base.known()) return "an unknown time";
  return fmt::format("{:.3f} s", double(pts) * time_base.num / time_base.den);
}

}  // namespace

void DecodeStage::run() {
  pipeline_.idle_threads.enter();
  try {
    const VideoInfo& info = reader_.info();
    VideoFrame frame;
    if (range_) reader_.seek(range_->seek_pts);
    while (!pipeline_.stop_requested()) {
      auto slot = pipeline_.free_slots.pop();
      if (!slot) break;
      const auto t0 = JobClock::now();
      if (!next_frame(frame)) break;
      if (frame.width != info.width || frame.height != info.height)
        throw Error(fmt::format(
            "{}: the frame size changes from {}x{} to {}x{} at frame {}; "
            "not supported",
            info.path, info.width, info.height, frame.width, frame.height, frame.index));
      copy_into(frame, **slot);
      busy_ms_ += ms_since(t0);
      if (!pipeline_.to_matting.push(*slot)) break;
    }
  } catch (...) {
    pipeline_.fail(std::current_exception());
  }
  pipeline_.to_matting.close();
}

bool DecodeStage::next_frame(VideoFrame& frame) {
  for (;;) {
    const bool got_frame = reader_.read(frame);
    warn_corrupt_packets();  // before the end too: a cut file's last, partial packets are damaged
    if (!got_frame) return false;
    if (!range_) return true;
    if (frame.pts >= range_->end_pts) return false;
    if (frame.pts >= range_->preroll_pts) return true;
  }
}

void DecodeStage::warn_corrupt_packets() {
  const VideoInfo& info = reader_.info();
  const auto& corrupt = reader_.corrupt_packets();
  for (; corrupt_seen_ < corrupt.size(); ++corrupt_seen_)
    pipeline_.warn(fmt::format("{}: damaged data near {} (byte {}): {}; skipped", info.path,
                               format_position(corrupt[corrupt_seen_].pts, info.time_base),
                               corrupt[corrupt_seen_].byte_position,
                               corrupt[corrupt_seen_].message));
}

void DecodeStage::copy_into(const VideoFrame& frame, FrameSlot& slot) const {
  const int width = frame.width, height = frame.height;
  slot.width = width;
  slot.height = height;
  slot.rgb.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    std::memcpy(slot.rgb.data() + size_t(y) * width * 3, frame.data + y * frame.stride,
                size_t(width) * 3);
  slot.pts = frame.pts;
  slot.index = frame.index;
  slot.seconds = frame.seconds();
}

int64_t expected_frames(const VideoInfo& info) {
  if (info.frame_count > 0) return info.frame_count;
  if (info.duration_seconds > 0 && info.frame_rate.known())
    return int64_t(info.duration_seconds * info.frame_rate.value() + 0.5);
  return -1;
}

std::optional<ShortInput> find_short_input(const VideoInfo& info, int64_t frames,
                                           int64_t last_pts) {
  const bool images = info.container == "image folder" || info.container == "image2";
  if (images || info.duration_seconds <= 0 || !info.time_base.known()) return std::nullopt;
  const double interval = info.frame_rate.known() ? 1.0 / info.frame_rate.value() : 0.0;
  const double last_good = double(last_pts - info.start_pts) * info.time_base.value();
  const double shortfall = info.duration_seconds - (last_good + interval);
  // Beyond rounding and VFR gaps, and backed by the frame count; without one, time alone
  // decides when the duration is the video's own or there is no audio it could belong to.
  if (shortfall <= std::max(2 * interval, 0.5)) return std::nullopt;
  const bool duration_is_video = info.duration_is_the_streams || info.audio_stream_count == 0;
  if (info.frame_count > 0 ? frames >= info.frame_count : !duration_is_video) return std::nullopt;
  return ShortInput{last_good, info.duration_seconds, expected_frames(info)};
}

std::string describe_short_input(const VideoInfo& info, int64_t frames, const ShortInput& cut) {
  const std::string counts =
      cut.expected_frames < 0
          ? ""
          : fmt::format(" ({} of {}{} frames decoded)", frames,
                        info.frame_count > 0 ? "" : "about ", cut.expected_frames);
  return fmt::format(
      "{}: the video ends early: the last good frame is at {:.2f} s, but the file "
      "says it lasts {:.2f} s{}; the outputs are shorter than the input",
      info.path, cut.last_good_seconds, cut.expected_seconds, counts);
}

}  // namespace mattecast
