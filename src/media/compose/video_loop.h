// A video background: a file decoded in a loop that follows the input's clock, each new frame
// scaled to cover the output frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "compose/cover_scaler.h"
#include "video/video_reader.h"

namespace mattecast::compose_detail {

class VideoLoop {
 public:
  // Opens the video and shows its first frame; `threads` == 1 gives the decoder one thread, else
  // FFmpeg picks. Throws Error naming the file when no frame decodes.
  VideoLoop(const std::string& path, int width, int height, int threads);

  // Shows the frame for `relative` seconds after the input's first frame: the last one whose
  // time since the video's first frame is <= relative modulo the video's duration.
  void seek(double relative);

  const AVFrame& frame() const { return *out_; }

 private:
  void open();
  void restart();
  bool read_next();
  double last_frame_duration() const;
  void show_next();
  void scale_shown();

  std::string path_;
  int width_, height_, decoder_threads_;
  std::optional<VideoReader> reader_;
  VideoFrame next_;  // looked ahead, in the reader's buffer
  bool have_next_ = false;
  bool ended_ = false;
  int64_t frames_read_ = 0;   // since the last open
  double first_seconds_ = 0;  // the video's first timestamp
  double previous_time_ = 0, last_interval_ = 0;
  double duration_ = 0;  // of one loop, known once the end was reached
  AvFramePtr held_;      // the shown frame at the video's size
  double shown_time_ = -1;
  int64_t shown_index_ = -1, scaled_index_ = -2;
  std::optional<CoverScaler> scaler_;
  AvFramePtr out_;
};

}  // namespace mattecast::compose_detail
