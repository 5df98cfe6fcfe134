// Decode stage (FFmpeg's demux + decode): the input's frames, converted to RGB, into free frame
// slots and on to matting, on its own thread; damaged data is reported as it is met. Also what
// the input's end says: the frames expected, and whether the video ended early.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "offline/pipeline.h"
#include "offline/video_job.h"
#include "video/video_reader.h"

namespace mattecast {

class DecodeStage {
 public:
  // With a `range`, the reader seeks first, and only the frames in [preroll_pts, end_pts) go on.
  DecodeStage(VideoReader& reader, Pipeline& pipeline, std::optional<FrameRange> range = {})
      : reader_(reader), pipeline_(pipeline), range_(range) {}

  // The thread's body: until the input ends, the job stops or a stage fails (this one included).
  void run();
  double busy_ms() const { return busy_ms_; }

 private:
  void warn_corrupt_packets();
  // The next frame to matte; false at the input's (or the range's) end.
  bool next_frame(VideoFrame& frame);
  void copy_into(const VideoFrame& frame, FrameSlot& slot) const;

  VideoReader& reader_;
  Pipeline& pipeline_;
  std::optional<FrameRange> range_;
  size_t corrupt_seen_ = 0;
  double busy_ms_ = 0;
};

// The container's frame count, else one estimated from its duration (-1 if neither is known).
int64_t expected_frames(const VideoInfo& info);

// Whether a video file, whose last decoded frame has `last_pts`, ended before its stated duration.
std::optional<ShortInput> find_short_input(const VideoInfo& info, int64_t frames, int64_t last_pts);
// "the video ends early: ..." for the warning.
std::string describe_short_input(const VideoInfo& info, int64_t frames, const ShortInput& cut);

}  // namespace mattecast
