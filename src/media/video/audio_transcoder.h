// Re-encodes one audio stream of a source file into a new stream of an output being muxed, for
// VideoWriter when the output container cannot hold the source's codec: decode, convert with
// libswresample to what the encoder takes (sample format, rate, channel layout), encode in whole
// encoder frames, and write the packets with av_interleaved_write_frame().
//
// Timing: the first decoded sample keeps its source time, and the samples after it follow
// without gaps, so the audio stays where it was relative to video written with the source's pts.
// Audio that starts after the video is preceded by silence from the video's first frame on
// (start_no_later_than()): the content keeps its time, and the encoder's priming samples then
// fall before the start of the file, where MP4/MOV edit lists hide them (an MP4 edit list can
// either delay a track or skip its priming, not both). Samples are encoded only up to a limit the
// caller gives (the video written so far), and finish() cuts them at the end of the video, to
// the sample.
//
// In steady state nothing is allocated here per packet (the decoder and encoder allocate their
// own packets and frames internally).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/av_handles.h"

namespace mattecast {

class AudioTranscoder {
 public:
  // Opens a decoder for `input` (a stream of an opened source) and the encoder `encoder_name`
  // ("aac" or "libopus"), and adds the output stream to `output`, whose header is not written
  // yet. Throws Error, its message starting with `context`, when the stream cannot be decoded
  // or the encoder cannot be opened.
  AudioTranscoder(const AVStream& input, AVFormatContext* output, const char* encoder_name,
                  std::string context);
  ~AudioTranscoder();
  AudioTranscoder(const AudioTranscoder&) = delete;
  AudioTranscoder& operator=(const AudioTranscoder&) = delete;

  const AVStream* output_stream() const;
  // E.g. "opus (libopus), 48000 Hz, stereo, 96 kb/s".
  std::string encoder_summary() const;

  // The stream starts at this time (in `base`) at the latest: call before the first decode().
  void start_no_later_than(int64_t time, AVRational base);
  // Decodes one packet of the input stream (its timestamps in the input stream's time base).
  // A packet the decoder rejects is dropped and counted.
  void decode(const AVPacket& packet);
  // Encodes and writes the whole encoder frames that end at or before `limit` (in `base`).
  void encode_until(int64_t limit, AVRational base);
  // Drains the decoder and resampler, drops the samples from `end` (in `base`) on, and encodes
  // and writes the rest.
  void finish(int64_t end, AVRational base);

  int64_t dropped_packets() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
