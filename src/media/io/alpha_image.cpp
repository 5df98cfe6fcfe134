#include "io/alpha_image.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "io/av_handles.h"
#include "io/picture_decoder.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

[[noreturn]] void throw_read_error(const std::string& path, std::string_view what, int error_code) {
  throw_picture_error("cannot read alpha from", path, what, error_code);
}

// Alpha of a palette picture: the palette (data[1]) holds 0xAARRGGBB words.
AlphaImage palette_alpha(const std::string& path, const AVFrame& frame) {
  uint32_t palette[256];
  std::memcpy(palette, frame.data[1], sizeof palette);
  // Every palette entry is opaque unless the file said otherwise, so an opaque palette means
  // a picture without transparency (such as an indexed mask), not a matte of ones.
  bool transparent = false;
  for (const uint32_t entry : palette) transparent |= (entry >> 24) != 0xff;
  if (!transparent)
    throw Error(
        fmt::format("cannot read alpha from '{}': palette picture without transparency "
                    "has no alpha",
                    path));
  AlphaImage image{frame.width, frame.height, {}};
  image.values.resize(size_t(frame.width) * size_t(frame.height));
  for (int y = 0; y < frame.height; ++y) {
    const uint8_t* indices = frame.data[0] + ptrdiff_t(frame.linesize[0]) * y;
    float* row = image.values.data() + ptrdiff_t(y) * frame.width;
    for (int x = 0; x < frame.width; ++x) row[x] = float(palette[indices[x]] >> 24) / 255.0f;
  }
  return image;
}

// Component `component` of every pixel, scaled from 0..2^depth-1 to 0..1. libavutil's generic
// reader knows each format's layout (planes, byte order, bit offsets), so this is exact.
AlphaImage component_values(const AVFrame& frame, const AVPixFmtDescriptor& descriptor,
                            int component) {
  const float maximum = float((1u << descriptor.comp[component].depth) - 1);
  AlphaImage image{frame.width, frame.height, {}};
  image.values.resize(size_t(frame.width) * size_t(frame.height));
  std::vector<uint16_t> samples(size_t(frame.width));
  const uint8_t* planes[4] = {frame.data[0], frame.data[1], frame.data[2], frame.data[3]};
  for (int y = 0; y < frame.height; ++y) {
    av_read_image_line2(samples.data(), planes, frame.linesize, &descriptor, 0, y, component,
                        frame.width, 0, sizeof(uint16_t));
    float* row = image.values.data() + ptrdiff_t(y) * frame.width;
    for (int x = 0; x < frame.width; ++x) row[x] = float(samples[x]) / maximum;
  }
  return image;
}

}  // namespace

AlphaImage read_alpha_image(const std::string& path) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  const AvFramePtr frame = decode_first_picture(path, "cannot read alpha from");
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(AVPixelFormat(frame->format));
  if (!descriptor) throw_read_error(path, "unknown pixel format", AVERROR_INVALIDDATA);

  if (descriptor->flags & AV_PIX_FMT_FLAG_PAL) return palette_alpha(path, *frame);
  // Integer samples of up to 16 bits, which is what image decoders give for gray and alpha.
  const int last = descriptor->nb_components - 1;
  const bool readable = !(descriptor->flags & (AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BITSTREAM |
                                               AV_PIX_FMT_FLAG_HWACCEL)) &&
                        descriptor->comp[last].depth <= 16;
  const bool has_alpha = descriptor->flags & AV_PIX_FMT_FLAG_ALPHA;
  const bool is_gray = descriptor->nb_components == 1;
  if (!has_alpha && !is_gray)
    throw Error(fmt::format("cannot read alpha from '{}': pixel format {} has no alpha", path,
                            descriptor->name));
  if (!readable)
    throw Error(fmt::format("cannot read alpha from '{}': unsupported pixel format {}", path,
                            descriptor->name));
  // FFmpeg's descriptors list alpha as the last component; a gray picture's only one is its value.
  return component_values(*frame, *descriptor, last);
}

}  // namespace mattecast
