#include "io/image.h"

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "io/atomic_file.h"
#include "io/av_handles.h"
#include "io/picture_decoder.h"

namespace mattecast {

void throw_picture_error(std::string_view action, const std::string& path, std::string_view what,
                         int error_code) {
  throw Error(fmt::format("{} '{}': {}: {}", action, path, what, describe_av_error(error_code)));
}

AvFramePtr decode_first_picture(const std::string& path, std::string_view action) {
  // "file:" keeps a name such as "a:b.png" from being taken for a protocol, and pattern_type
  // "none" keeps the image2 demuxer from reading "%" in a name as a frame-number pattern.
  const std::string url = "file:" + path;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "pattern_type", "none", 0);
  AVFormatContext* opened = nullptr;
  int rc = avformat_open_input(&opened, url.c_str(), nullptr, &options);
  av_dict_free(&options);
  if (rc < 0) throw_picture_error(action, path, "cannot open", rc);
  const AvInputPtr input(opened);

  const AVCodec* decoder = nullptr;
  const int stream_index =
      av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (stream_index < 0) throw_picture_error(action, path, "no picture in the file", stream_index);
  const AvCodecContextPtr codec(avcodec_alloc_context3(decoder));
  if (!codec) throw std::bad_alloc();
  rc = avcodec_parameters_to_context(codec.get(), input->streams[stream_index]->codecpar);
  if (rc < 0) throw_picture_error(action, path, "bad stream parameters", rc);
  // One thread: a still gains nothing from frame threads, and FFmpeg's messages then arrive on
  // this thread, where take_av_log_errors() finds them.
  codec->thread_count = 1;
  // FFmpeg conceals a truncated or damaged JPEG with grey blocks, and the matte of such a picture
  // is quietly wrong, so JPEG errors fail. Not for every format: the TIFF decoder, for one, then
  // rejects unknown tags, even those FFmpeg's own encoder writes.
  if (decoder->id == AV_CODEC_ID_MJPEG) codec->err_recognition |= AV_EF_EXPLODE;
  rc = avcodec_open2(codec.get(), decoder, nullptr);
  if (rc < 0) throw_picture_error(action, path, "cannot open the decoder", rc);

  const AvPacketPtr packet = make_av_packet();
  AvFramePtr frame = make_av_frame();
  bool draining = false;
  for (;;) {
    if (!draining) {
      rc = av_read_frame(input.get(), packet.get());
      if (rc == AVERROR_EOF) {
        draining = true;
        rc = avcodec_send_packet(codec.get(), nullptr);
      } else if (rc < 0) {
        throw_picture_error(action, path, "cannot read", rc);
      } else if (packet->stream_index == stream_index) {
        rc = avcodec_send_packet(codec.get(), packet.get());
      }
      av_packet_unref(packet.get());
      if (rc < 0) throw_picture_error(action, path, "cannot decode", rc);
    }
    rc = avcodec_receive_frame(codec.get(), frame.get());
    if (rc == 0) break;
    if (rc == AVERROR_EOF) {
      throw_picture_error(action, path, "no picture decoded", AVERROR_INVALIDDATA);
    }
    if (rc != AVERROR(EAGAIN)) throw_picture_error(action, path, "cannot decode", rc);
  }
  // A damaged picture would give a quietly wrong matte (or score as a quietly wrong one).
  if (frame->flags & AV_FRAME_FLAG_CORRUPT) {
    throw_picture_error(action, path, "the picture is damaged", AVERROR_INVALIDDATA);
  }
  return frame;
}

namespace {

[[noreturn]] void throw_read_error(const std::string& path, std::string_view what, int error_code) {
  throw_picture_error("cannot read image", path, what, error_code);
}

// Exact for RGB sources (no scaling happens); for subsampled YUV, bilinear chroma upsampling to
// full resolution with accurate rounding, close to what libjpeg's "fancy upsampling" gives.
constexpr int sws_flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;

// swscale assumes limited-range BT.601 for YUV unless told otherwise (it does know that the
// deprecated yuvj formats and gray are full range). Decoders state range and matrix on the frame;
// newer FFmpeg versions mark JPEGs as yuv420p + full range instead of yuvj420p.
void use_frame_colorspace(SwsContext* converter, const AVFrame& frame) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(AVPixelFormat(frame.format));
  const bool is_yuv = !(descriptor->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
                      descriptor->nb_components >= 3;
  if (!is_yuv) return;
  int* inverse_table = nullptr;
  int* table = nullptr;
  int source_full_range = 0, destination_full_range = 0, brightness = 0, contrast = 0,
      saturation = 0;
  if (sws_getColorspaceDetails(converter, &inverse_table, &source_full_range, &table,
                               &destination_full_range, &brightness, &contrast, &saturation) < 0) {
    return;
  }
  if (frame.color_range == AVCOL_RANGE_JPEG) source_full_range = 1;
  const int* matrix = frame.colorspace == AVCOL_SPC_UNSPECIFIED
                          ? inverse_table
                          : sws_getCoefficients(frame.colorspace);
  sws_setColorspaceDetails(converter, matrix, source_full_range, table, destination_full_range,
                           brightness, contrast, saturation);
}

RgbFrame convert_to_rgb(const std::string& path, const AVFrame& frame) {
  const auto format = AVPixelFormat(frame.format);
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  // swscale's 16-to-8-bit path is off by one for about half of all values (it goes through its
  // internal YUV), while 16-bit RGB and gray to RGB48 is exact; deep sources go that way and are
  // rounded to 8 bits here.
  const bool deep = descriptor->comp[0].depth > 8;
  const AVPixelFormat converted_format = deep ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24;
  const SwsContextPtr converter(sws_getContext(frame.width, frame.height, format, frame.width,
                                               frame.height, converted_format, sws_flags, nullptr,
                                               nullptr, nullptr));
  if (!converter) {
    throw Error(fmt::format("cannot read image '{}': no conversion from pixel format {} to RGB",
                            path, descriptor->name));
  }
  use_frame_colorspace(converter.get(), frame);

  // swscale writes into FFmpeg's own padded, aligned buffer: its SIMD code may touch bytes past
  // the end of a row, which a tightly packed destination does not have.
  const AvFramePtr converted = make_av_frame();
  converted->format = converted_format;
  converted->width = frame.width;
  converted->height = frame.height;
  if (av_frame_get_buffer(converted.get(), 0) < 0) throw std::bad_alloc();
  const int rows = sws_scale(converter.get(), frame.data, frame.linesize, 0, frame.height,
                             converted->data, converted->linesize);
  if (rows != frame.height) {
    throw_read_error(path, "pixel conversion failed", rows < 0 ? rows : AVERROR_BUG);
  }

  RgbFrame result;
  result.width = frame.width;
  result.height = frame.height;
  const size_t row_samples = size_t(frame.width) * 3;
  result.pixels.resize(row_samples * size_t(frame.height));
  for (int y = 0; y < frame.height; ++y) {
    const uint8_t* source = converted->data[0] + ptrdiff_t(converted->linesize[0]) * y;
    uint8_t* destination = result.pixels.data() + row_samples * y;
    if (!deep) {
      std::memcpy(destination, source, row_samples);
      continue;
    }
    for (size_t i = 0; i < row_samples; ++i) {
      uint16_t value;  // native byte order (AV_PIX_FMT_RGB48 is the native-endian variant)
      std::memcpy(&value, source + 2 * i, 2);
      destination[i] = uint8_t((uint32_t(value) * 255 + 32895) >> 16);  // round(value / 257)
    }
  }
  return result;
}

void write_file(const std::string& file, const std::string& target, const uint8_t* data,
                size_t size) {
  std::FILE* stream = std::fopen(file.c_str(), "wb");
  if (!stream) throw Error(fmt::format("cannot write '{}': {}", target, std::strerror(errno)));
  const bool written = std::fwrite(data, 1, size, stream) == size;
  const int write_errno = errno;
  // fclose() can be the first to report a full disk, so its result counts too.
  if (std::fclose(stream) != 0 || !written) {
    throw Error(
        fmt::format("cannot write '{}': {}", target, std::strerror(written ? errno : write_errno)));
  }
}

// A frame of `format` holding the caller's rows; `copy_row(destination, source_row)` fills one.
template <typename CopyRow>
AvFramePtr make_frame(const std::string& path, AVPixelFormat format, const uint8_t* pixels,
                      int width, int height, ptrdiff_t stride, size_t row_bytes, CopyRow copy_row) {
  if (width <= 0 || height <= 0 || !pixels || stride < ptrdiff_t(row_bytes)) {
    throw Error(fmt::format("cannot write '{}': bad image {}x{} with stride {}", path, width,
                            height, stride));
  }
  AvFramePtr frame = make_av_frame();
  frame->format = format;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();
  for (int y = 0; y < height; ++y) {
    copy_row(frame->data[0] + ptrdiff_t(frame->linesize[0]) * y, pixels + stride * y);
  }
  return frame;
}

void write_png(const std::string& path, const AVFrame& frame) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  const auto fail = [&](std::string_view what, int error_code) {
    throw Error(
        fmt::format("cannot write '{}': {}: {}", path, what, describe_av_error(error_code)));
  };
  AtomicFile file(path);

  const AVCodec* encoder = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!encoder) fail("FFmpeg has no PNG encoder", AVERROR_ENCODER_NOT_FOUND);
  const AvCodecContextPtr codec(avcodec_alloc_context3(encoder));
  if (!codec) throw std::bad_alloc();
  codec->width = frame.width;
  codec->height = frame.height;
  codec->pix_fmt = AVPixelFormat(frame.format);
  codec->time_base = {1, 1};  // required of every video encoder, meaningless for one picture
  // Paeth prediction: 20-25 % smaller mattes and photos than FFmpeg's default (no filter), for
  // about 1.5x the encoding time (some 17 ms for a 720p matte).
  AVDictionary* options = nullptr;
  av_dict_set(&options, "pred", "paeth", 0);
  int rc = avcodec_open2(codec.get(), encoder, &options);
  av_dict_free(&options);
  if (rc < 0) fail("cannot open the PNG encoder", rc);

  rc = avcodec_send_frame(codec.get(), &frame);
  if (rc < 0) fail("cannot encode", rc);
  rc = avcodec_send_frame(codec.get(), nullptr);
  if (rc < 0) fail("cannot encode", rc);
  const AvPacketPtr packet = make_av_packet();
  rc = avcodec_receive_packet(codec.get(), packet.get());
  if (rc < 0) fail("cannot encode", rc);
  write_file(file.temp_path(), path, packet->data, size_t(packet->size));
  file.commit();
}

}  // namespace

RgbFrame read_image(const std::string& path) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  const AvFramePtr frame = decode_first_picture(path, "cannot read image");
  return convert_to_rgb(path, *frame);
}

void write_png_rgba(const std::string& path, const uint8_t* rgba, int width, int height,
                    ptrdiff_t stride) {
  const size_t row_bytes = size_t(std::max(width, 0)) * 4;
  const AvFramePtr frame = make_frame(path, AV_PIX_FMT_RGBA, rgba, width, height, stride, row_bytes,
                                      [&](uint8_t* destination, const uint8_t* source) {
                                        std::memcpy(destination, source, row_bytes);
                                      });
  write_png(path, *frame);
}

void write_png_rgb(const std::string& path, const uint8_t* rgb, int width, int height,
                   ptrdiff_t stride) {
  const size_t row_bytes = size_t(std::max(width, 0)) * 3;
  const AvFramePtr frame = make_frame(path, AV_PIX_FMT_RGB24, rgb, width, height, stride, row_bytes,
                                      [&](uint8_t* destination, const uint8_t* source) {
                                        std::memcpy(destination, source, row_bytes);
                                      });
  write_png(path, *frame);
}

void write_png_gray8(const std::string& path, const uint8_t* gray, int width, int height,
                     ptrdiff_t stride) {
  const size_t row_bytes = size_t(std::max(width, 0));
  const AvFramePtr frame = make_frame(path, AV_PIX_FMT_GRAY8, gray, width, height, stride,
                                      row_bytes, [&](uint8_t* destination, const uint8_t* source) {
                                        std::memcpy(destination, source, row_bytes);
                                      });
  write_png(path, *frame);
}

void write_png_gray16(const std::string& path, const uint16_t* gray, int width, int height,
                      ptrdiff_t stride) {
  // PNG stores 16-bit samples big-endian; FFmpeg's encoder takes them that way (GRAY16BE).
  const size_t samples = size_t(std::max(width, 0));
  const AvFramePtr frame =
      make_frame(path, AV_PIX_FMT_GRAY16BE, reinterpret_cast<const uint8_t*>(gray), width, height,
                 stride, samples * 2, [&](uint8_t* destination, const uint8_t* source) {
                   for (size_t x = 0; x < samples; ++x) {
                     uint16_t value;
                     std::memcpy(&value, source + 2 * x, 2);  // rows need not be 2-byte aligned
                     destination[2 * x] = uint8_t(value >> 8);
                     destination[2 * x + 1] = uint8_t(value & 0xff);
                   }
                 });
  write_png(path, *frame);
}

bool is_image_path(const std::string& path) {
  static constexpr std::array<std::string_view, 13> image_extensions = {
      ".png",  ".jpg", ".jpeg", ".jpe", ".webp", ".bmp", ".tif",
      ".tiff", ".ppm", ".pgm",  ".pnm", ".pbm",  ".tga"};
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return std::find(image_extensions.begin(), image_extensions.end(), extension) !=
         image_extensions.end();
}

}  // namespace mattecast
