// Decodes the video stream of a file (mp4/mov/mkv/webm/avi/..., or an image sequence pattern such
// as "frames/%05d.png") into packed 8-bit RGB frames with their presentation timestamps.
//
// A folder of images (any format read_image() takes) is read like a video too: its images in
// natural name order (frame2 before frame10, see frame_list.h), frame i with pts i in time base
// 1 / Options::image_rate. Every image must have the size of the first; one of another size, or
// one that cannot be decoded, is an Error naming it. Frames are RGBA (with keep_alpha) when the
// first image has alpha, else RGB, for every image. Colour: images without a stated matrix are
// taken as BT.601 at any size (JPEG's), as read_image() does; 16-bit images are rounded to 8 bits
// exactly. Patterns go through FFmpeg's image2 demuxer, which also numbers the frames 0, 1, 2, ...
// at image_rate (it finds a first number from 0 to 4).
//
//   VideoReader reader("clip.mp4", {.threads = 2});
//   VideoFrame frame;
//   while (reader.read(frame)) use(frame.rgb(), frame.pts, frame.time_base);
//
// The frame's pixels live in one buffer owned by the reader and are overwritten by the next
// read(): in steady state nothing is allocated per frame (beyond FFmpeg's own decoding; a folder's
// images are each opened and decoded on their own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// A rational number as FFmpeg stores it (num/den); {0, 1} means unknown.
struct Rational {
  int num = 0;
  int den = 1;
  double value() const { return den ? double(num) / den : 0.0; }
  bool known() const { return num != 0 && den != 0; }
  friend bool operator==(const Rational&, const Rational&) = default;
};

struct VideoInfo {
  std::string path;
  std::string container;  // FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2";
                          // "image folder" for a folder of images
  std::string codec;      // e.g. "h264"; "images" for a folder
  int stream_index = -1;  // of the video stream in the file
  int width = 0;
  int height = 0;
  Rational time_base;            // of every pts the reader returns
  Rational frame_rate;           // average frame rate ({0,1} if unknown)
  Rational nominal_frame_rate;   // FFmpeg's r_frame_rate: the lowest rate that fits every pts
  double duration_seconds = -1;  // -1 if unknown
  // Whether duration_seconds is the video stream's own, else the file's (which can be the audio's).
  bool duration_is_the_streams = false;
  int64_t frame_count = -1;  // from the container; -1 if it does not say
  int64_t start_pts = 0;     // the stream's start time in time_base (0 if unknown)
  // Clockwise rotation (0, 90, 180 or 270 degrees) a player applies to show the frames upright,
  // from the stream's display matrix. The decoded frames themselves are never rotated.
  int rotation = 0;
  bool has_alpha = false;  // the stream carries an alpha channel (ProRes 4444, VP9 alpha)
  int audio_stream_count = 0;
};

// One decoded frame. `data` points into the reader's buffer; valid until the next read().
struct VideoFrame {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 3;  // 3: RGB24; 4: RGBA (only with VideoReader::Options::keep_alpha)
  ptrdiff_t stride = 0;
  int64_t pts = 0;             // presentation time in time_base
  bool pts_estimated = false;  // the file gave no timestamp; pts continues the previous frames
  Rational time_base;
  int64_t index = 0;  // 0, 1, 2, ... in decoding output order
  double seconds() const { return double(pts) * time_base.num / time_base.den; }
  RgbImage rgb() const { return {data, width, height, stride}; }  // only for channels == 3
};

// A packet FFmpeg could not decode (skipped or concealed), reported instead of failing.
struct CorruptPacket {
  int64_t pts = -1;            // in the stream's time base; -1 if unknown
  int64_t byte_position = -1;  // in the file; -1 if unknown
  std::string message;
};

// Every frame of the video stream in presentation order, from its packets (nothing decoded):
// pts in VideoInfo::time_base and whether the frame is a keyframe (a place to seek to).
struct FrameIndex {
  std::vector<int64_t> pts;
  std::vector<uint8_t> keyframe;
  size_t size() const { return pts.size(); }
};

class VideoReader {
 public:
  struct Options {
    int threads = 0;          // decoder frame threads; 0: FFmpeg picks (one per core)
    bool keep_alpha = false;  // RGBA frames when the stream has alpha (else always RGB24)
    // Frame rate of image inputs (a folder of images, or a "%05d.png" pattern), which carry no
    // timestamps: frame i gets pts i in time base den/num (1/25 by default).
    Rational image_rate = {25, 1};
  };

  // Throws Error naming the file when it cannot be opened or holds no decodable video stream
  // (a folder: when it holds no images or its first cannot be decoded).
  explicit VideoReader(const std::string& path, const Options& options);
  explicit VideoReader(const std::string& path) : VideoReader(path, Options{}) {}
  ~VideoReader();
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;

  const VideoInfo& info() const;
  // The next frame; false after the last. Damaged packets are skipped and listed in
  // corrupt_packets(); only an unusable file (or an I/O failure) throws. In a folder, an image
  // that cannot be decoded or differs in size throws Error naming it.
  bool read(VideoFrame& frame);
  const std::vector<CorruptPacket>& corrupt_packets() const;
  // Positions the reader so that the next read() returns the last keyframe at or before `pts`
  // (in info().time_base; a folder: the image with that index), or the stream's first frame.
  // Frames before `pts` still come out: the caller drops what it does not want.
  void seek(int64_t pts);
  // Reads through the demuxer (a folder: its image list) and returns to the start.
  FrameIndex index_frames();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
