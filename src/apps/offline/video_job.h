// The offline job: a video (or an image sequence) in; a composite, an alpha matte and/or a
// foreground out, every frame with its input timestamp, the audio carried along.
//
// Three threads joined by bounded queues over a fixed pool of frame slots, so memory does not
// depend on the video's length (pipeline.h):
//   decode   demux + decode + RGB conversion             (decode_stage, its own thread)
//   matting  scene-cut check + the network               (matting_stage, OpenMP inside)
//   output   background + compositing + encode + mux     (compose_stage and output_stage, on the
//                                                         calling thread)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compose/compositor.h"
#include "mattecast/mattecast.h"
#include "video/video_reader.h"
#include "video/video_writer.h"

namespace mattecast {

// One part of a segment-parallel job (see job_plan.h), in the input's time base: the reader seeks
// to `seek_pts` (a keyframe), decodes but drops the frames before `preroll_pts`, runs the network
// on [preroll_pts, start_pts) without output (warming its recurrent state), and writes the frames
// in [start_pts, end_pts).
struct FrameRange {
  int64_t seek_pts = 0;
  int64_t preroll_pts = 0;
  int64_t start_pts = 0;
  int64_t end_pts = INT64_MAX;
};

struct VideoJobOptions {
  std::string input;           // a video file, a folder of images, or a printf pattern
  std::string composite_path;  // "" for none (at least one output is required)
  std::string alpha_path;
  std::string foreground_path;
  std::string background;  // spec (see compose/background.h); "": green behind the
                           // composite, transparent for the foreground
  SessionParams session;   // threads here is the whole job's core budget (0: all cores)
  int crf = -1;            // -1: the codec's default
  // libx264: ultrafast keeps pace with the network on 2 cores; veryfast gives files ~2.5x smaller.
  std::string preset = "ultrafast";
  int alpha_depth = 8;       // 8 or 16 (16 only for PNG sequences)
  bool scene_reset = false;  // reset the recurrent state at detected hard cuts
  bool audio = true;         // carry the input's audio into video outputs
  bool overwrite = false;
  Rational image_rate{25, 1};       // frame rate given to image sequence inputs
  BlendSettings blend;              // matte shaping and compositing (see compositor.h)
  std::optional<FrameRange> range;  // unset: the whole input
};

struct VideoJobProgress {
  int64_t frames_done = 0;
  int64_t frames_total = -1;  // -1 when the container does not say
  double elapsed_seconds = 0;
};

struct VideoJobCallbacks {
  std::function<void(const VideoJobProgress&)> progress;  // from the output thread
  std::function<void(const std::string&)> warn;           // from any thread, serialised
  const std::atomic<bool>* abort = nullptr;               // set to stop early (Ctrl-C)
};

struct SceneCut {
  int64_t frame = 0;
  double seconds = 0;
};

struct StageTime {
  std::string name;
  double ms_per_frame = 0;
};

// A video file that ends before the duration its container states (cut, or never finished).
struct ShortInput {
  double last_good_seconds = 0;  // the last decoded frame, from the stream's start
  double expected_seconds = 0;   // the duration the container states
  int64_t expected_frames = -1;  // the container's count, or one estimated; -1 if neither
};

// Where the job's cores go: the network's OpenMP team takes the whole budget; the decode thread
// and the output thread (compose, then each output's single-threaded encoder) run at idle
// priority, in the network's gaps.
struct ThreadBudget {
  int network = 0;
  int outputs = 0;
};

struct VideoJobReport {
  VideoInfo input;
  Precision precision = Precision::fp32;  // the network's
  float downsample_ratio = 0;
  ThreadBudget threads;
  int64_t frames = 0;
  double wall_seconds = 0;
  std::vector<StageTime> stages;  // decode, matting, compose, encode (per output)
  std::vector<SceneCut> scene_cuts;
  std::vector<CorruptPacket> corrupt_packets;
  std::vector<std::string> outputs;       // "path: description"
  bool aborted = false;                   // stopped through callbacks.abort: nothing written
  std::optional<ShortInput> short_input;  // the input ended early: the outputs are short too
  // With a FrameRange: the frames run without output, the time they took, and the timestamps of
  // the frames written (in order).
  int64_t preroll_frames = 0;
  double preroll_seconds = 0;
  std::vector<int64_t> output_pts;
  std::vector<PixelLayout> layouts;  // of the outputs, in the order composite, alpha, foreground
};

// Throws Error (naming the file) on bad input or outputs; every output is written under a
// temporary name and appears only when the whole job succeeded.
VideoJobReport run_video_job(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                             const VideoJobCallbacks& callbacks = {});

}  // namespace mattecast
