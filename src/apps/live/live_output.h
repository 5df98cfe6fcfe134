// Output stage of the live job: where the composited frames go. Every output is a FrameSink, the
// interface the offline job writes through too: a virtual webcam (v4l2loopback), raw frames to
// stdout, nowhere ("null", for benchmarks), or a recording (open_frame_sink: a video file or a
// PNG sequence) stamped with the real capture times.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "live/live_job.h"
#include "live/pixel_convert.h"
#include "video/frame_sink.h"

namespace mattecast {

enum class RawFormat { rgb24, yuyv, yu12 };

// --output-format for a virtual webcam (auto: yuyv; rgb24 refused) or stdout (auto: rgb24).
// Throws Error naming the option.
RawFormat parse_output_format(const std::string& text, bool for_loopback);
// --output-matrix; nullopt for auto. Throws Error naming the option.
std::optional<YuvMatrix> parse_output_matrix(const std::string& text);

class RawStdoutSink;

class LiveOutputs {
 public:
  using Log = std::function<void(const std::string&)>;

  // Opens options.outputs in order, each announced through `info` ("output: ..."), for frames of
  // width x height at about `fps` (0: unknown). Throws Error naming the output that cannot be
  // opened.
  LiveOutputs(const LiveJobOptions& options, int width, int height, double fps,
              const std::atomic<bool>* abort, const Log& info, const Log& warn);
  ~LiveOutputs();

  // Writes the composite to every output; the recordings' timestamps are the capture times (90
  // kHz, from the first frame written). False once stdout's reader has gone away.
  bool write(const RgbImage& frame, int64_t capture_ns);

  // Finishes every output and closes them all; "path: description" of what was written. A
  // recording that got no frame is not written (a warning says so). With `rethrow` false an
  // output that fails to finish is skipped (the job is failing already).
  std::vector<std::string> finish(bool rethrow);

 private:
  struct Output {
    std::string path;
    std::unique_ptr<FrameSink> sink;
    bool recording = false;
  };
  std::string describe(const Output& output) const;

  Log warn_;
  std::vector<Output> outputs_;
  const RawStdoutSink* stdout_ = nullptr;
  int64_t frames_ = 0;
  int64_t first_capture_ns_ = 0;
  int64_t last_pts_ = 0;
};

}  // namespace mattecast
