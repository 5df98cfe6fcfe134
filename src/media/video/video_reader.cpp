#include "video/video_reader.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "io/av_handles.h"
#include "io/frame_list.h"
#include "io/picture_decoder.h"

namespace mattecast {

namespace {

Rational to_rational(AVRational r) {
  if (r.num == 0 || r.den == 0) return {};
  return {r.num, r.den};
}

// Clockwise degrees to rotate for display, from a display matrix (FFmpeg gives the matrix's
// counter-clockwise angle), rounded to a quarter turn.
int rotation_from_matrix(const int32_t* matrix) {
  const double angle = av_display_rotation_get(matrix);
  if (std::isnan(angle)) return 0;
  int degrees = int(std::lround(-angle / 90.0)) * 90;
  degrees %= 360;
  if (degrees < 0) degrees += 360;
  return degrees;
}

// Matroska and WebM state each stream's length only as a "DURATION" tag ("HH:MM:SS.fraction");
// 0 when there is none or it does not parse.
double tagged_duration_seconds(const AVDictionary* metadata) {
  const AVDictionaryEntry* tag = av_dict_get(metadata, "DURATION", nullptr, 0);
  int hours = 0, minutes = 0;
  double seconds = 0;
  if (!tag || std::sscanf(tag->value, "%d:%d:%lf", &hours, &minutes, &seconds) != 3) return 0;
  if (hours < 0 || minutes < 0 || minutes >= 60 || !(seconds >= 0 && seconds < 60)) return 0;
  return hours * 3600.0 + minutes * 60.0 + seconds;
}

bool is_yuv(AVPixelFormat format) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  return descriptor && !(descriptor->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
         descriptor->nb_components >= 3;
}

bool has_alpha_channel(AVPixelFormat format) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  return descriptor && (descriptor->flags & AV_PIX_FMT_FLAG_ALPHA);
}

// 16-bit RGB or gray: swscale's direct path to 8 bits is off by one for about half of all values
// (it goes through its internal YUV), while the conversion to 16-bit RGB is exact; such frames
// go that way and are rounded to 8 bits here (as read_image() does).
bool is_deep_rgb_or_gray(AVPixelFormat format) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  return descriptor && !is_yuv(format) && descriptor->comp[0].depth > 8;
}

}  // namespace

struct VideoReader::Impl {
  VideoInfo info;
  Options options;
  AvInputPtr input;
  AvCodecContextPtr codec;
  AvPacketPtr packet = make_av_packet();
  AvFramePtr decoded = make_av_frame();
  AvFramePtr converted = make_av_frame();  // reused output buffer
  AvFramePtr wide = make_av_frame();       // 16-bit intermediate for deep RGB / gray frames
  SwsContext* converter = nullptr;         // reused, owned
  AVPixelFormat converter_source = AV_PIX_FMT_NONE;
  AVPixelFormat converter_target = AV_PIX_FMT_NONE;
  int converter_width = 0, converter_height = 0;
  // A folder of images.
  bool folder = false;
  std::vector<std::string> images;
  size_t next_image = 0;
  bool first_image_pending = false;  // `decoded` holds the first image, decoded by open()
  std::vector<CorruptPacket> corrupt;
  bool draining = false;
  bool finished = false;
  int64_t next_index = 0;
  int receive_errors = 0;  // in a row
  int64_t last_pts = AV_NOPTS_VALUE;
  int64_t frame_step = 0;  // pts units per frame, for frames without a timestamp

  ~Impl() { sws_freeContext(converter); }

  [[noreturn]] void fail(std::string_view what, int error_code) const {
    throw Error(fmt::format("cannot read video '{}': {}: {}", info.path, what,
                            describe_av_error(error_code)));
  }

  void check_image_rate() const {
    if (options.image_rate.num <= 0 || options.image_rate.den <= 0) {
      throw Error(fmt::format("cannot read video '{}': bad image frame rate {}/{}", info.path,
                              options.image_rate.num, options.image_rate.den));
    }
  }

  void open_folder(const std::string& path) {
    check_image_rate();
    folder = true;
    images = list_images(path);  // throws, naming the folder, when it holds no images
    decoded = decode_first_picture(images[0], "cannot read image");
    first_image_pending = true;
    info.container = "image folder";
    info.codec = "images";
    info.width = decoded->width;
    info.height = decoded->height;
    info.time_base = {options.image_rate.den, options.image_rate.num};
    info.frame_rate = options.image_rate;
    info.nominal_frame_rate = options.image_rate;
    info.frame_count = int64_t(images.size());
    info.duration_seconds = double(images.size()) / options.image_rate.value();
    info.has_alpha = has_alpha_channel(AVPixelFormat(decoded->format));
  }

  void open(const std::string& path) {
    info.path = path;
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      open_folder(path);
      return;
    }
    // A "%" pattern is an image sequence (image2 demuxer); anything else is one file, opened
    // through "file:" so that a name such as "a:b.mp4" is not taken for a protocol.
    const bool sequence = path.find('%') != std::string::npos;
    const std::string url = sequence ? path : "file:" + path;
    const AVInputFormat* format = sequence ? av_find_input_format("image2") : nullptr;
    AVDictionary* format_options = nullptr;
    if (sequence) {
      check_image_rate();
      av_dict_set(&format_options, "framerate",
                  fmt::format("{}/{}", options.image_rate.num, options.image_rate.den).c_str(), 0);
    }
    AVFormatContext* opened = nullptr;
    int rc = avformat_open_input(&opened, url.c_str(), format, &format_options);
    av_dict_free(&format_options);
    if (rc < 0) fail("cannot open", rc);
    input.reset(opened);
    rc = avformat_find_stream_info(input.get(), nullptr);
    if (rc < 0) fail("cannot read the stream parameters", rc);

    const AVCodec* decoder = nullptr;
    const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (index == AVERROR_STREAM_NOT_FOUND) fail("no video stream in the file", index);
    if (index < 0) fail("no decodable video stream in the file", index);
    AVStream* stream = input->streams[index];
    // Discard the other streams: the demuxer then skips their packets cheaply.
    for (unsigned i = 0; i < input->nb_streams; ++i) {
      if (int(i) != index) input->streams[i]->discard = AVDISCARD_ALL;
      if (input->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) ++info.audio_stream_count;
    }

    // FFmpeg's native VP9 decoder ignores the alpha layer WebM carries beside the picture;
    // libvpx decodes it.
    const AVDictionaryEntry* alpha_mode = av_dict_get(stream->metadata, "alpha_mode", nullptr, 0);
    const bool vp9_alpha = stream->codecpar->codec_id == AV_CODEC_ID_VP9 && alpha_mode &&
                           std::string_view(alpha_mode->value) == "1";
    if (vp9_alpha) {
      if (const AVCodec* libvpx = avcodec_find_decoder_by_name("libvpx-vp9")) decoder = libvpx;
    }

    codec.reset(avcodec_alloc_context3(decoder));
    if (!codec) throw std::bad_alloc();
    rc = avcodec_parameters_to_context(codec.get(), stream->codecpar);
    if (rc < 0) fail("bad video stream parameters", rc);
    codec->pkt_timebase = stream->time_base;
    codec->thread_count = options.threads;
    codec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    rc = avcodec_open2(codec.get(), decoder, nullptr);
    if (rc < 0) fail("cannot open the video decoder", rc);

    info.container = input->iformat->name;
    info.codec = decoder->name;
    info.stream_index = index;
    info.width = stream->codecpar->width;
    info.height = stream->codecpar->height;
    info.time_base = to_rational(stream->time_base);
    info.frame_rate = to_rational(stream->avg_frame_rate);
    info.nominal_frame_rate = to_rational(stream->r_frame_rate);
    const double tagged = tagged_duration_seconds(stream->metadata);
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
      info.duration_seconds = double(stream->duration) * av_q2d(stream->time_base);
      info.duration_is_the_streams = true;
    } else if (tagged > 0) {
      info.duration_seconds = tagged;
      info.duration_is_the_streams = true;
    } else if (input->duration != AV_NOPTS_VALUE && input->duration > 0) {
      info.duration_seconds = double(input->duration) / AV_TIME_BASE;
    }
    info.frame_count = stream->nb_frames > 0 ? stream->nb_frames : -1;
    info.start_pts = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    size_t matrix_size = 0;
    const uint8_t* matrix =
        av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &matrix_size);
    if (matrix && matrix_size >= 9 * sizeof(int32_t)) {
      info.rotation = rotation_from_matrix(reinterpret_cast<const int32_t*>(matrix));
    }
    const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(codec->pix_fmt);
    info.has_alpha = vp9_alpha || (descriptor && (descriptor->flags & AV_PIX_FMT_FLAG_ALPHA));

    const AVRational rate = info.frame_rate.known() ? stream->avg_frame_rate : stream->r_frame_rate;
    if (rate.num > 0 && rate.den > 0) {
      frame_step = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), stream->time_base));
    } else {
      frame_step = 1;
    }
  }

  void record(int64_t pts, int64_t position, std::string message) {
    // Bounded, so a file of garbage cannot grow the list without limit.
    if (corrupt.size() < 100000) {
      corrupt.push_back({pts == AV_NOPTS_VALUE ? -1 : pts, position, std::move(message)});
    }
  }

  // Feeds the decoder one more packet of the video stream (or the end). False when there is
  // nothing left to feed.
  bool feed() {
    if (draining) return false;
    int consecutive_errors = 0;
    for (;;) {
      int rc = av_read_frame(input.get(), packet.get());
      if (rc == AVERROR_EOF || (rc < 0 && input->pb && avio_feof(input->pb))) {
        take_av_log_errors();
        draining = true;
        avcodec_send_packet(codec.get(), nullptr);
        return true;
      }
      if (rc == AVERROR(EAGAIN)) continue;
      if (rc < 0) {
        // A damaged container structure: the demuxer usually resynchronises on the next call.
        record(AV_NOPTS_VALUE, input->pb ? avio_tell(input->pb) : -1,
               "cannot read a packet: " + describe_av_error(rc));
        if (++consecutive_errors >= 64) {
          draining = true;
          avcodec_send_packet(codec.get(), nullptr);
          return true;
        }
        continue;
      }
      if (packet->stream_index != info.stream_index) {
        av_packet_unref(packet.get());
        continue;
      }
      if (packet->flags & AV_PKT_FLAG_CORRUPT) {
        record(packet->pts, packet->pos, "the demuxer marked the packet as damaged");
      }
      rc = avcodec_send_packet(codec.get(), packet.get());
      if (rc < 0 && rc != AVERROR(EAGAIN)) {
        record(packet->pts, packet->pos,
               "the decoder rejected the packet: " + describe_av_error(rc));
      }
      av_packet_unref(packet.get());
      // EAGAIN cannot happen here: frames are always received before the next packet is sent.
      return true;
    }
  }

  // Converts `decoded` into `converted`: RGBA when `alpha`, else RGB24.
  void convert(VideoFrame& out, bool alpha) {
    const AVFrame& frame = *decoded;
    const auto format = AVPixelFormat(frame.format);
    const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
    const AVPixelFormat target = alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    const bool deep = is_deep_rgb_or_gray(format);
    const AVPixelFormat scaled = deep ? (alpha ? AV_PIX_FMT_RGBA64 : AV_PIX_FMT_RGB48) : target;
    ensure_buffer(*converted, target, frame.width, frame.height);
    if (deep) ensure_buffer(*wide, scaled, frame.width, frame.height);
    if (!converter || converter_source != format || converter_target != scaled ||
        converter_width != frame.width || converter_height != frame.height) {
      sws_freeContext(converter);
      // 8-bit video takes swscale's SIMD path, as the official converter's PyAV does
      // (to_ndarray("rgb24")); accurate rounding with full chroma interpolation costs 3 ms more
      // per 720p frame for differences of one level.
      const int flags = deep ? SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT : SWS_BILINEAR;
      converter = sws_getContext(frame.width, frame.height, format, frame.width, frame.height,
                                 scaled, flags, nullptr, nullptr, nullptr);
      if (!converter) {
        throw Error(fmt::format("cannot read video '{}': no conversion from pixel format {} to RGB",
                                info.path, descriptor ? descriptor->name : "?"));
      }
      converter_source = format;
      converter_target = scaled;
      converter_width = frame.width;
      converter_height = frame.height;
      set_colorspace(frame);
    }
    AVFrame& destination = deep ? *wide : *converted;
    const int rows = sws_scale(converter, frame.data, frame.linesize, 0, frame.height,
                               destination.data, destination.linesize);
    if (rows != frame.height) fail("pixel conversion failed", rows < 0 ? rows : AVERROR_BUG);
    if (deep) {
      const size_t samples = size_t(frame.width) * (alpha ? 4 : 3);
      for (int y = 0; y < frame.height; ++y) {
        const uint8_t* from = wide->data[0] + ptrdiff_t(wide->linesize[0]) * y;
        uint8_t* to = converted->data[0] + ptrdiff_t(converted->linesize[0]) * y;
        for (size_t i = 0; i < samples; ++i) {
          uint16_t value;  // native byte order (RGB48 / RGBA64 are the native-endian variants)
          std::memcpy(&value, from + 2 * i, 2);
          to[i] = uint8_t((uint32_t(value) * 255 + 32895) >> 16);  // round(value / 257)
        }
      }
    }
    out.data = converted->data[0];
    out.stride = converted->linesize[0];
    out.width = frame.width;
    out.height = frame.height;
    out.channels = alpha ? 4 : 3;
  }

  static void ensure_buffer(AVFrame& buffer, AVPixelFormat format, int width, int height) {
    if (buffer.width == width && buffer.height == height && buffer.format == format) return;
    av_frame_unref(&buffer);
    buffer.format = format;
    buffer.width = width;
    buffer.height = height;
    if (av_frame_get_buffer(&buffer, 0) < 0) throw std::bad_alloc();
  }

  // The matrix and range the stream states. Unstated: BT.709 for HD sizes and BT.601 below
  // (what players assume), limited range unless the pixel format says full (yuvj).
  void set_colorspace(const AVFrame& frame) {
    if (!is_yuv(AVPixelFormat(frame.format))) return;
    int* inverse_table = nullptr;
    int* table = nullptr;
    int source_full = 0, destination_full = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(converter, &inverse_table, &source_full, &table, &destination_full,
                                 &brightness, &contrast, &saturation) < 0) {
      return;
    }
    if (frame.color_range == AVCOL_RANGE_JPEG) source_full = 1;
    if (frame.color_range == AVCOL_RANGE_MPEG) source_full = 0;
    int space = frame.colorspace;
    if (space == AVCOL_SPC_UNSPECIFIED || space == AVCOL_SPC_RESERVED) {
      // Still images (JPEG) use BT.601 at any size, as read_image() assumes.
      const bool hd = frame.width >= 1280 || frame.height > 576;
      space = hd && !folder ? SWS_CS_ITU709 : SWS_CS_ITU601;
    }
    sws_setColorspaceDetails(converter, sws_getCoefficients(space), source_full, table,
                             1 /* RGB is full range */, brightness, contrast, saturation);
  }

  bool read_image(VideoFrame& out) {
    if (next_image >= images.size()) {
      finished = true;
      return false;
    }
    const std::string& image = images[next_image];
    if (!first_image_pending) {
      take_av_log_errors();
      decoded = decode_first_picture(image, "cannot read image");
    }
    first_image_pending = false;
    if (decoded->width != info.width || decoded->height != info.height) {
      throw Error(fmt::format(
          "cannot read image folder '{}': '{}' is {}x{}, unlike the first "
          "image '{}' ({}x{})",
          info.path, image, decoded->width, decoded->height, images[0], info.width, info.height));
    }
    convert(out, options.keep_alpha && info.has_alpha);
    out.pts = int64_t(next_image);
    out.pts_estimated = false;
    out.time_base = info.time_base;
    out.index = next_index++;
    ++next_image;
    return true;
  }

  FrameIndex index_frames() {
    FrameIndex index;
    if (folder) {
      for (size_t i = 0; i < images.size(); ++i) index.pts.push_back(int64_t(i));
      index.keyframe.assign(images.size(), 1);
      return index;
    }
    std::vector<std::pair<int64_t, uint8_t>> frames;
    for (;;) {
      const int rc = av_read_frame(input.get(), packet.get());
      if (rc == AVERROR(EAGAIN)) continue;
      if (rc < 0) break;
      if (packet->stream_index == info.stream_index) {
        const int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (pts != AV_NOPTS_VALUE)
          frames.emplace_back(pts, (packet->flags & AV_PKT_FLAG_KEY) ? 1 : 0);
      }
      av_packet_unref(packet.get());
    }
    std::sort(frames.begin(), frames.end());
    for (const auto& [pts, key] : frames) {
      index.pts.push_back(pts);
      index.keyframe.push_back(key);
    }
    seek(frames.empty() ? info.start_pts : frames.front().first);
    return index;
  }

  void seek(int64_t pts) {
    finished = false;
    if (folder) {
      next_image = size_t(std::clamp<int64_t>(pts, 0, int64_t(images.size())));
      first_image_pending = false;
      return;
    }
    const int rc = av_seek_frame(input.get(), info.stream_index, pts, AVSEEK_FLAG_BACKWARD);
    if (rc < 0) fail(fmt::format("cannot seek to {}", pts), rc);
    avcodec_flush_buffers(codec.get());
    draining = false;
    receive_errors = 0;
    last_pts = AV_NOPTS_VALUE;
  }

  bool read(VideoFrame& out) {
    if (finished) return false;
    if (folder) return read_image(out);
    for (;;) {
      const int rc = avcodec_receive_frame(codec.get(), decoded.get());
      if (rc == AVERROR(EAGAIN)) {
        if (!feed()) {
          finished = true;
          return false;
        }
        continue;
      }
      if (rc == AVERROR_EOF) {
        finished = true;
        return false;
      }
      if (rc < 0) {
        // A decoding error surfaced on the output side (frame threads): skip it.
        record(AV_NOPTS_VALUE, -1, "cannot decode a frame: " + describe_av_error(rc));
        // A decoder stuck on an error would otherwise keep this loop going.
        if (++receive_errors >= 64) {
          finished = true;
          return false;
        }
        continue;
      }
      receive_errors = 0;
      int64_t pts = decoded->best_effort_timestamp;
      if (decoded->flags & AV_FRAME_FLAG_CORRUPT || decoded->decode_error_flags) {
        record(pts, decoded->pkt_pos, "the decoder concealed damage in the frame");
      }
      out.pts_estimated = pts == AV_NOPTS_VALUE;
      if (out.pts_estimated) {
        pts = last_pts == AV_NOPTS_VALUE ? info.start_pts : last_pts + frame_step;
      }
      last_pts = pts;
      convert(out, options.keep_alpha && has_alpha_channel(AVPixelFormat(decoded->format)));
      av_frame_unref(decoded.get());
      out.pts = pts;
      out.time_base = info.time_base;
      out.index = next_index++;
      return true;
    }
  }
};

VideoReader::VideoReader(const std::string& path, const Options& options)
    : impl_(std::make_unique<Impl>()) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  impl_->options = options;
  impl_->open(path);
}

VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }
bool VideoReader::read(VideoFrame& frame) { return impl_->read(frame); }
void VideoReader::seek(int64_t pts) { impl_->seek(pts); }
FrameIndex VideoReader::index_frames() { return impl_->index_frames(); }
const std::vector<CorruptPacket>& VideoReader::corrupt_packets() const { return impl_->corrupt; }

}  // namespace mattecast
