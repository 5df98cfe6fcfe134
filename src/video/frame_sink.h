// Where the frames of one output go: a video file (codec from the extension, see video_writer.h)
// or a PNG sequence (a directory, or a printf pattern such as "out/%05d.png").
//
//   auto sink = open_frame_sink("alpha.mov", {.width = w, .height = h,
//                                             .layout = PixelLayout::gray8, ...});
//   sink->write(pixels, stride, pts);  ...  sink->finish();
//
// Nothing appears at the output path before finish(): files are written under temporary names
// and renamed on success; a sink destroyed before finish() leaves nothing behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "video/video_reader.h"

namespace mattecast {

enum class PixelLayout {
  rgb24,   // composites
  rgba,    // transparent outputs (alpha kept where the format can; else dropped with a warning)
  gray8,   // alpha mattes
  gray16,  // alpha mattes, 16 bits host order (PNG sequences only; video outputs take gray8)
};

struct SinkOptions {
  int width = 0;
  int height = 0;
  PixelLayout layout = PixelLayout::rgb24;
  Rational time_base;            // of the pts passed to write(); required
  Rational frame_rate;           // average rate (hint)
  int crf = -1;                  // H.264 / VP9 quality; -1: the codec's default
  std::string preset = "medium"; // libx264 preset
  int threads = 0;               // encoder threads; 0: FFmpeg picks
  int rotation = 0;              // clockwise display rotation (video files; PNGs are not rotated)
  std::string audio_source;      // copy (or, where the container cannot hold it, re-encode)
                                 // this file's audio streams; "" for none
  bool overwrite = false;        // replace existing outputs (--force); else refuse with an Error
  std::function<void(const std::string&)> warn;  // notes: re-encoded audio, dropped alpha, ...
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // pixels: width x height in the sink's layout, rows `stride` bytes apart; pts increasing.
  virtual void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) = 0;
  virtual void finish() = 0;
  virtual const std::string& path() const = 0;
  virtual std::string description() const = 0;  // e.g. "H.264 yuv420p + 1 audio (copied)"
  virtual int64_t frames_written() const = 0;
};

// True for a directory (existing, or a path ending in '/') or a path with a printf frame number.
bool is_image_sequence_path(const std::string& path);

// Throws Error naming the path: unknown extension, unwritable folder, existing output without
// `overwrite`.
std::unique_ptr<FrameSink> open_frame_sink(const std::string& path, const SinkOptions& options);

}  // namespace mattecast
