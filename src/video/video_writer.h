// Encodes RGB24 or RGBA frames into a video file, keeping the caller's timestamps exactly.
//
// The codec follows the output path's extension:
//   .mp4 .mkv  H.264 (libx264), yuv420p; alpha is dropped
//   .mov       ProRes 4444 (prores_ks, yuva444p10le) with alpha for RGBA input,
//              else ProRes 422 HQ (yuv422p10le)
//   .webm      VP9 (libvpx-vp9), yuva420p with alpha for RGBA input, else yuv420p
// Colour: RGB is converted with the BT.709 matrix to limited-range YUV, and the stream is tagged
// so (VideoReader reads the tags back).
//
// Odd sizes: yuv420p needs even dimensions for libx264, so an odd width or height is encoded one
// pixel larger by repeating the last column / row (nothing of the picture is lost; a player
// shows one extra line). The other codecs take odd sizes as they are.
//
// Timing: write() takes each frame's pts in the caller's time base (usually the input stream's,
// from VideoReader), which becomes the encoder's time base, so variable frame rates stay exact.
// MP4/MOV keep any time base; Matroska/WebM store milliseconds, so there pts are exact to 1 ms.
//
// Audio: with `audio_source` set, that file's audio streams are copied packet for packet
// (no re-encoding) where the output container can hold their codec; others are skipped with a
// call to `warn`. Audio is cut at the end of the last video frame written.
//
// The file is written under a temporary name beside the target and renamed on finish();
// a writer destroyed before finish() leaves nothing behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mattecast/mattecast.h"
#include "video/video_reader.h"

namespace mattecast {

struct VideoWriterOptions {
  int width = 0;
  int height = 0;
  bool rgba = false;          // write() takes RGBA (alpha kept where the codec can) else RGB24
  Rational time_base;         // of the pts passed to write(); required
  Rational frame_rate;        // average rate, a hint for rate control and the container
  int crf = -1;               // H.264 / VP9 quality; -1: 18 for H.264, 30 for VP9
  std::string preset = "medium";  // libx264 preset
  int threads = 0;            // encoder threads; 0: FFmpeg picks
  int rotation = 0;           // clockwise display rotation written as a display matrix
  std::string audio_source;   // copy this file's audio streams ("" for none)
  std::function<void(const std::string&)> warn;  // skipped streams and similar notes
};

class VideoWriter {
 public:
  // Throws Error naming the path for an unknown extension or an unwritable folder.
  VideoWriter(const std::string& path, const VideoWriterOptions& options);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Pixels: options.width x options.height, 3 or 4 bytes per pixel, rows `stride` bytes apart.
  // pts must increase from frame to frame.
  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts);
  // Flushes the encoder, copies the rest of the audio, and renames the file into place.
  void finish();

  const std::string& path() const;
  std::string codec_name() const;  // "libx264", "prores_ks" or "libvpx-vp9"
  int64_t frames_written() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
