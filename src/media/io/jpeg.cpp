#include "io/jpeg.h"

#include <fmt/format.h>
#include <turbojpeg.h>

#include <algorithm>
#include <climits>
#include <new>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

std::string tj_message(tjhandle handle) {
  const char* text = tjGetErrorStr2(handle);
  return text && *text ? text : "unknown TurboJPEG error";
}

}  // namespace

JpegDecoder::JpegDecoder() : handle_(tjInitDecompress()) {
  if (!handle_)
    throw Error(fmt::format("cannot start the JPEG decoder: {}", tjGetErrorStr2(nullptr)));
}

JpegDecoder::~JpegDecoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

void JpegDecoder::decode(const uint8_t* data, size_t size, std::vector<uint8_t>& rgb, int& width,
                         int& height, const std::string& what) {
  const auto handle = static_cast<tjhandle>(handle_);
  // After a failed tjDecompressHeader3, libjpeg-turbo 2.1's decompressor fails every later
  // picture with the same message (it is not reset): continue with a fresh one after any error.
  const auto fail = [&](const std::string& message) {
    if (tjhandle fresh = tjInitDecompress()) {
      tjDestroy(handle);
      handle_ = fresh;
    }
    throw Error(message);
  };
  if (!data || size == 0) throw Error(fmt::format("{}: empty JPEG data", what));
  if (size > ULONG_MAX) throw Error(fmt::format("{}: JPEG data too large", what));
  int w = 0, h = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, data, static_cast<unsigned long>(size), &w, &h, &subsampling,
                          &colorspace) != 0) {
    fail(fmt::format("{}: damaged JPEG ({})", what, tj_message(handle)));
  }
  if (w <= 0 || h <= 0) throw Error(fmt::format("{}: JPEG without a picture size", what));
  // A damaged header must not make us allocate gigabytes.
  if (w > 16384 || h > 16384) {
    throw Error(fmt::format("{}: JPEG picture too large ({}x{}; damaged?)", what, w, h));
  }
  const size_t bytes = size_t(w) * size_t(h) * 3;
  if (rgb.size() != bytes) rgb.resize(bytes);
  // TJFLAG_STOPONWARNING: a truncated or corrupt picture (libjpeg's warnings, e.g. "Premature end
  // of JPEG file") is an error here, not a half-grey frame.
  if (tjDecompress2(handle, data, static_cast<unsigned long>(size), rgb.data(), w, w * 3, h,
                    TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
    fail(fmt::format("{}: damaged JPEG ({})", what, tj_message(handle)));
  }
  width = w;
  height = h;
}

JpegEncoder::JpegEncoder() : handle_(tjInitCompress()) {
  if (!handle_)
    throw Error(fmt::format("cannot start the JPEG encoder: {}", tjGetErrorStr2(nullptr)));
}

JpegEncoder::~JpegEncoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

void JpegEncoder::encode(const uint8_t* rgb, int width, int height, ptrdiff_t stride, int quality,
                         std::vector<uint8_t>& out) {
  const auto handle = static_cast<tjhandle>(handle_);
  if (!rgb || width <= 0 || height <= 0) {
    throw Error(fmt::format("JPEG encoding: no picture ({}x{})", width, height));
  }
  if (stride < ptrdiff_t(width) * 3 || stride > INT_MAX) {
    throw Error(fmt::format("JPEG encoding: bad row stride {} for width {}", stride, width));
  }
  // TurboJPEG writes straight into `out`, sized to the worst case for this picture size
  // (TJFLAG_NOREALLOC), so it never allocates a buffer of its own (nothing to tjFree) and `out`
  // keeps its capacity from frame to frame.
  const unsigned long bound = tjBufSize(width, height, TJSAMP_420);
  if (bound == static_cast<unsigned long>(-1)) {
    throw Error(fmt::format("JPEG encoding: picture too large ({}x{})", width, height));
  }
  out.resize(bound);
  unsigned char* buffer = out.data();
  unsigned long size = bound;
  if (tjCompress2(handle, rgb, width, int(stride), height, TJPF_RGB, &buffer, &size, TJSAMP_420,
                  std::clamp(quality, 1, 100), TJFLAG_NOREALLOC) != 0) {
    out.clear();
    throw Error(fmt::format("JPEG encoding of a {}x{} picture failed: {}", width, height,
                            tj_message(handle)));
  }
  out.resize(size);
}

}  // namespace mattecast
