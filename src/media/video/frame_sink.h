// Where the frames of one output go: a video file (codec from the extension, see video_writer.h)
// or a PNG sequence (a directory, or a printf pattern such as "out/%05d.png"; see
// image_sequence.h: frames numbered from 0, 6 digits in a directory).
//
//   auto sink = open_frame_sink("alpha.mov", {.width = w, .height = h,
//                                             .layout = PixelLayout::gray8, ...});
//   sink->write(pixels, stride, pts);  ...  sink->finish();
//
// Layouts: video files take rgb24, rgba (alpha kept in .mov and .webm, dropped with a warning in
// .mp4/.mkv) and gray8 (the matte as the luma; decodes to R = G = B = the value); gray16 is an
// Error for a video file (16-bit mattes need a PNG sequence). PNG sequences take all four:
// RGB, RGBA, 8-bit gray and 16-bit gray PNGs.
//
// Everything that can be checked is checked by open_frame_sink(), before any frame: the extension,
// an existing output (refused without `overwrite`), a folder that cannot be written to.
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
#include "video/video_writer.h"

namespace mattecast {

// PixelLayout (rgb24, rgba, gray8, gray16) comes from video_writer.h.

struct SinkOptions {
  int width = 0;
  int height = 0;
  PixelLayout layout = PixelLayout::rgb24;
  Rational time_base;             // of the pts passed to write(); required
  Rational frame_rate;            // average rate (hint)
  int crf = -1;                   // H.264 / VP9 quality; -1: the codec's default
  std::string preset = "medium";  // libx264 preset
  int threads = 0;                // encoder threads; 0: FFmpeg picks
  int rotation = 0;               // clockwise display rotation (video files; PNGs are not rotated)
  std::string audio_source;       // copy (or, where the container cannot hold it, re-encode)
                                  // this file's audio streams; "" for none; PNG sequences ignore it
  // Replace existing outputs (--force): a video file, or the frames of the same naming in a PNG
  // sequence's folder (stale higher-numbered ones are removed on finish()). Else an existing
  // output is refused with an Error naming it and mentioning --force.
  bool overwrite = false;
  std::function<void(const std::string&)> warn;  // notes: re-encoded audio, dropped alpha, ...
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // pixels: width x height in the sink's layout, rows `stride` bytes apart; pts increasing
  // (PNG sequences number the frames in the order written and keep no pts).
  virtual void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) = 0;
  virtual void finish() = 0;
  virtual const std::string& path() const = 0;
  // E.g. "H.264 (libx264) yuv420p, audio: aac copied", "VP9 (libvpx-vp9) yuva420p, audio: aac
  // re-encoded to opus", "ProRes 422 HQ (prores_ks) yuv422p10le, gray as luma", or
  // "PNG sequence, RGBA".
  virtual std::string description() const = 0;
  virtual int64_t frames_written() const = 0;
};

// True for a directory (existing, or a path ending in '/') or a path with a printf frame number
// (%d, %Nd, %0Nd; also a malformed pattern, which open_frame_sink() then refuses, saying why).
bool is_image_sequence_path(const std::string& path);

// Throws Error naming the path: unknown extension, gray16 into a video file, malformed pattern,
// unwritable folder (named), existing output without `overwrite`.
std::unique_ptr<FrameSink> open_frame_sink(const std::string& path, const SinkOptions& options);

}  // namespace mattecast
