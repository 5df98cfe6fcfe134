// Encodes RGB24, RGBA or 8-bit gray frames into a video file, keeping the caller's timestamps
// exactly.
//
// The codec follows the output path's extension:
//   .mp4 .mkv  H.264 (libx264), yuv420p; alpha is dropped
//   .mov       ProRes 4444 (prores_ks, yuva444p10le) with alpha for RGBA input,
//              else ProRes 422 HQ (yuv422p10le)
//   .webm      VP9 (libvpx-vp9), yuva420p with alpha for RGBA input, else yuv420p
// Colour: RGB is converted with the BT.709 matrix to limited-range YUV, and the stream is tagged
// so (VideoReader reads the tags back). Gray input (an alpha matte as a video) becomes the luma
// in limited range (0..255 -> 16..235) with neutral chroma, so a player or VideoReader shows
// R = G = B = the gray value. 16-bit gray is refused (Error): video outputs take gray8, and
// 16-bit mattes go to PNG sequences (see frame_sink.h).
//
// Odd sizes: yuv420p needs even dimensions for libx264, so an odd width or height is encoded one
// pixel larger by repeating the last column / row (nothing of the picture is lost; a player
// shows one extra line). The other codecs take odd sizes as they are.
//
// Timing: write() takes each frame's pts in the caller's time base (usually the input stream's,
// from VideoReader), which becomes the encoder's time base, so variable frame rates stay exact.
// MP4/MOV keep any time base; Matroska/WebM store milliseconds, so there pts are exact to 1 ms.
//
// Audio: with `audio_source` set, that file's audio streams are carried over. A stream whose
// codec the output container can hold is copied packet for packet, unchanged. Otherwise it is
// re-encoded (decoded, resampled with libswresample, encoded; see audio_transcoder.h) to AAC
// (FFmpeg's native encoder, 64 kb/s per channel) for .mp4/.mov/.mkv or to Opus (libopus, 48 kHz,
// 48 kb/s per channel) for .webm, and `warn` says which stream, from what to what. A stream that
// cannot be decoded (or encoded) is skipped with a call to `warn`; so are packets that fail to
// decode midway (one warning on finish()).
// Sync: audio keeps the source's timestamps, so it stays in sync with video frames written with
// the source's pts (including an offset between the source's audio and video). Re-encoded audio
// that starts after the first video frame is preceded by silence from that frame on (so that the
// MP4 edit list can hide the AAC priming; the audio content keeps its time). Audio ends where the
// last video frame ends (its pts plus the last frame gap): copied audio at packet granularity
// (the last packet that starts before that point is kept whole), re-encoded audio to the sample.
// Matroska/WebM cannot store the negative timestamps of codec priming: the muxer then moves the
// whole file (video included) later by that much, as the ffmpeg CLI's files have it too.
//
// The file is written under a temporary name beside the target and renamed on finish();
// a writer destroyed before finish() leaves nothing behind. An existing file at the path is
// replaced on finish() (the --force policy is frame_sink.h's).
//
// In steady state, write() allocates nothing of its own (FFmpeg's encoders allocate packets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mattecast/mattecast.h"
#include "video/video_reader.h"

namespace mattecast {

// The pixels a writer takes, one frame at a time.
enum class PixelLayout {
  rgb24,   // composites
  rgba,    // transparent outputs (alpha kept where the format can; else dropped with a warning)
  gray8,   // alpha mattes
  gray16,  // alpha mattes, 16 bits in host byte order (PNG sequences only; video outputs take
           // gray8)
};

const char* to_string(PixelLayout layout);  // "RGB", "RGBA", "8-bit gray", "16-bit gray"
int bytes_per_pixel(PixelLayout layout);    // 3, 4, 1, 2

struct VideoWriterOptions {
  int width = 0;
  int height = 0;
  PixelLayout layout = PixelLayout::rgb24;  // of write()'s pixels; gray16 is refused
  Rational time_base;                       // of the pts passed to write(); required
  Rational frame_rate;            // average rate, a hint for rate control and the container
  int crf = -1;                   // H.264 / VP9 quality; -1: 18 for H.264, 30 for VP9
  std::string preset = "medium";  // libx264 preset
  int threads = 0;                // encoder threads; 0: FFmpeg picks
  int rotation = 0;               // clockwise display rotation written as a display matrix
  std::string audio_source;       // carry this file's audio streams over ("" for none)
  std::function<void(const std::string&)> warn;  // re-encoded or skipped streams, dropped alpha
};

class VideoWriter {
 public:
  // Throws Error naming the path for an unknown extension, gray16 input, an unwritable folder
  // or an audio source that cannot be opened.
  VideoWriter(const std::string& path, const VideoWriterOptions& options);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Pixels: options.width x options.height in options.layout, rows `stride` bytes apart.
  // pts must increase from frame to frame.
  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts);
  // Flushes the encoder, copies the rest of the audio, and renames the file into place.
  void finish();

  // True for the extensions above (.mp4 .mkv .mov .webm, any case).
  static bool is_video_path(const std::string& path);

  const std::string& path() const;
  std::string codec_name() const;  // "libx264", "prores_ks" or "libvpx-vp9"
  // E.g. "H.264 (libx264) yuv420p, audio: aac copied" or
  // "VP9 (libvpx-vp9) yuva420p, audio: aac re-encoded to opus".
  std::string description() const;
  int64_t frames_written() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
