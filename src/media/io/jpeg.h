// JPEG through libjpeg-turbo's TurboJPEG API: decoding camera MJPEG frames, encoding the preview
// stream. Each object keeps its TurboJPEG handle and buffers, so steady-state use allocates
// nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mattecast {

class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // Decodes to packed RGB24 in `rgb` (resized only when the picture size changes); throws Error
  // with `what` (e.g. "/dev/video0 frame 12") and TurboJPEG's message for a damaged picture.
  void decode(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width, int& height,
              const std::string& what = "JPEG");

 private:
  void* handle_ = nullptr;
};

class JpegEncoder {
 public:
  JpegEncoder();
  ~JpegEncoder();
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;

  // Encodes packed RGB24 (rows `stride` bytes apart) with 4:2:0 chroma into `out` (replaced).
  void encode(const uint8_t* rgb, int width, int height, ptrdiff_t stride, int quality,
              std::vector<uint8_t>& out);

 private:
  void* handle_ = nullptr;
};

}  // namespace mattecast
