// The live job behind `mattecast webcam`: a camera (or a file / URL played as one) in; the person
// over a blurred or replaced background out to a virtual webcam, a recording, stdout and/or the
// browser preview, with as little delay as the network allows.
//
// Two threads:
//   capture     the LiveSource's thread: reads (and converts) frames, publishes the newest into a
//               LatestFrame; frames the processing thread has not taken in time are dropped there
//               (live_capture)
//   processing  the calling thread: takes the newest frame, mirrors it if asked, mattes it (one
//               alpha-only Session, recurrent state carried from frame to frame, OpenMP inside;
//               live_matting), filters the alpha, renders the background, composites
//               (live_compose), writes the outputs (live_output) and offers the preview
// Per frame nothing is allocated (buffers are sized on the first frame, kept for the run).
//
// Statistics (LiveStats, printed once a second, served to the preview page, written to
// stats_json_path) time the stages of each output frame:
//   capture  the frame's age when processing takes it (capture -> start of processing: the wait
//            behind the previous frame; the capture thread's own decoding is not on this path)
//   convert  the mirror flip (0 without --mirror)
//   matting  the network
//   compose  matte filter, background, composite
//   output   every output's write (YUV conversion, encoding, stdout) and the preview hand-off
// so their sum is about the capture-to-output latency. The run's figures leave out the first
// warmup_frames output frames ("warmup_frames" in the JSON; "totals" cover everything).
//
//   LiveJobOptions options{.input = "/dev/video0", .outputs = {"/dev/video4"}};
//   LiveJobReport report = run_live_job(model, options, {.stats = print, .abort = &flag});
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "live/latest_frame.h"
#include "live/live_settings.h"
#include "live/live_source.h"
#include "live/ratio_controller.h"  // --target-fps follows a RatioController
#include "mattecast/mattecast.h"

namespace mattecast {

struct LiveJobOptions {
  // Input: "/dev/videoN" (a V4L2 camera), or a video file / URL played at its own pace.
  std::string input = "/dev/video0";
  int width = 1280;  // camera: requested size (files keep their own)
  int height = 720;
  double fps = 30;           // camera: requested rate (files keep their own)
  std::string pixel_format;  // camera: "", "auto", "mjpg", "yuyv", "nv12", "yu12"
  bool loop = false;         // files: start again at the end (else the job ends there)

  // Outputs, any number (at least one of these or a preview):
  //   "/dev/videoN" (any character device): a v4l2loopback virtual webcam
  //   "-": raw frames to stdout (see raw_format)     "null": frames discarded (benchmarks)
  //   anything else: a recording (a video file, or a PNG sequence; see video/frame_sink.h) with
  //   the real capture times as timestamps
  std::vector<std::string> outputs;
  // Pixel layout: "auto" (YUYV for a virtual webcam, RGB24 for stdout), "rgb24" (stdout only),
  // "yuyv" or "yu12".
  std::string output_format = "auto";
  // YCbCr matrix of YUV outputs: "auto" (BT.709 from 1280x720 up, else BT.601), "bt601", "bt709".
  std::string output_matrix = "auto";
  bool overwrite = false;  // replace an existing recording
  int stdout_fd = 1;       // where "-" writes

  // Browser preview: -1 none, 0 an ephemeral port, else that port.
  int preview_port = -1;
  std::string preview_bind = "127.0.0.1";

  LiveSettings settings;        // the starting settings (changed live from the preview page)
  SessionParams session;        // alpha_only is forced on
  double target_fps = 0;        // 0: keep the session's ratio; else see RatioController
  double duration_s = 0;        // 0: until the input ends, abort, or an error
  std::string stats_json_path;  // "" for none; written at the end (also after abort or an error)
  int warmup_frames = 30;       // output frames kept out of the run's figures (kernels, caches)

  // Tests: a source to use instead of open_live_source() (treated like a camera: opened first,
  // its info() gives the frame size).
  LiveSourceOpener open_source;
};

struct LiveJobCallbacks {
  std::function<void(const std::string&)> info;   // start-up lines: input, outputs, preview URL
  std::function<void(const std::string&)> stats;  // once a second: the stats line
  std::function<void(const std::string&)> warn;   // e.g. no frames for a while, ratio changes
  const std::atomic<bool>* abort = nullptr;       // set to stop (Ctrl-C): outputs are finished
};

struct LiveJobReport {
  std::string input;  // the source's description
  int width = 0, height = 0;
  int64_t source_frames = 0;  // published by the source (whole run, warm-up included)
  int64_t output_frames = 0;  // written to the outputs (whole run)
  int64_t dropped = 0;        // published but never processed (whole run)
  int64_t skipped = 0;        // taken but not output (a frame of another size than the first)
  double seconds = 0;         // from the first frame awaited to the end
  // "end of input", "duration", "interrupted", "stdout closed"
  std::string stop_reason;
  bool aborted = false;        // stopped through callbacks.abort
  float downsample_ratio = 0;  // at the end
  int ratio_changes = 0;
  std::vector<std::string> outputs;  // "path: description" of what was written
  std::string stats_json;            // the final statistics (what stats_json_path holds)
};

// The checks of run_live_job() that need no model or device: an output given, option ranges,
// formats, the starting settings. Throws Error naming the option.
void check_live_job_options(const LiveJobOptions& options);

// Throws Error (naming the device, file or option) for a missing or unusable input, an output
// that cannot be opened (a device that is not a v4l2loopback output: with the modprobe command),
// no output at all, bad options; and, after finishing the outputs, for a camera that disappears
// mid-run. Recordings are finished (playable) on every stop, abort included; a recording that got
// no frame is not written.
LiveJobReport run_live_job(std::shared_ptr<const Model> model, const LiveJobOptions& options,
                           const LiveJobCallbacks& callbacks = {});

}  // namespace mattecast
