// Output stage (FFmpeg's encode + mux), on the job's calling thread: takes the matted frames in
// order, has the compose stage draw each output's picture and writes it to the output's FrameSink
// (a video file or a PNG sequence, with the input's timestamps and audio), then returns the
// frame's slot and matte to their pools. Outputs are opened, and checked, before any work, and
// finished (renamed into place) only when the whole job succeeded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "offline/compose_stage.h"
#include "offline/pipeline.h"
#include "offline/video_job.h"
#include "video/frame_sink.h"

namespace mattecast {

class OutputStage {
 public:
  // Opens the outputs the options name (composite, alpha, foreground: in that order). The
  // composite and the foreground have an alpha channel where the background is transparent.
  // Throws Error naming the output (existing file without overwrite, unwritable folder, ...).
  OutputStage(const VideoJobOptions& options, const VideoInfo& input, bool transparent_background,
              Pipeline& pipeline);

  std::vector<PixelLayout> layouts() const;

  // The loop: until matting ends, the job stops or a stage fails (this one included). Progress
  // (elapsed from `start`) after every frame.
  void run(ComposeStage& compose, const std::function<void(const VideoJobProgress&)>& progress,
           JobClock::time_point start);
  int64_t frames() const { return frames_; }
  int64_t last_pts() const { return last_pts_; }  // the latest timestamp written
  // With a FrameRange: the pre-roll frames passed over, the time until the first frame written,
  // and the timestamps written.
  int64_t preroll_frames() const { return preroll_frames_; }
  double preroll_seconds() const { return preroll_seconds_; }
  const std::vector<int64_t>& written_pts() const { return written_pts_; }

  // Finishes every output; "path: description" of each.
  std::vector<std::string> finish();
  // "encode <output>" per output: writing plus an equal share of finishing, per frame.
  void add_stage_times(std::vector<StageTime>& stages) const;

 private:
  enum class Kind { composite, alpha, foreground };
  struct Output {
    Kind kind;
    std::unique_ptr<FrameSink> sink;
    PixelLayout layout;
    double encode_ms = 0;
  };
  Output open(Kind kind, const std::string& path, PixelLayout layout) const;
  // A pre-roll frame (before the range's start): counted, not written.
  bool in_preroll(const FrameSlot& frame, JobClock::time_point start);

  const VideoJobOptions& options_;
  const VideoInfo& input_;
  Pipeline& pipeline_;
  std::vector<Output> outputs_;
  int64_t frames_ = 0;
  int64_t last_pts_;
  double finish_ms_ = 0;
  int64_t preroll_frames_ = 0;
  double preroll_seconds_ = 0;
  std::vector<int64_t> written_pts_;
};

}  // namespace mattecast
