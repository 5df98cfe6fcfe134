#include "video/video_writer.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "io/atomic_file.h"
#include "io/av_handles.h"

namespace mattecast {

namespace {

struct CodecChoice {
  const char* container;  // FFmpeg muxer name
  const char* encoder;
  AVPixelFormat pixel_format;
  bool even_size;         // pad odd sizes by one pixel
  bool keeps_alpha;
};

std::optional<CodecChoice> choose_codec(const std::string& path, bool rgba) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (extension == ".mp4") return CodecChoice{"mp4", "libx264", AV_PIX_FMT_YUV420P, true, false};
  if (extension == ".mkv") {
    return CodecChoice{"matroska", "libx264", AV_PIX_FMT_YUV420P, true, false};
  }
  if (extension == ".mov") {
    return rgba ? CodecChoice{"mov", "prores_ks", AV_PIX_FMT_YUVA444P10LE, false, true}
                : CodecChoice{"mov", "prores_ks", AV_PIX_FMT_YUV422P10LE, false, false};
  }
  if (extension == ".webm") {
    return rgba ? CodecChoice{"webm", "libvpx-vp9", AV_PIX_FMT_YUVA420P, false, true}
                : CodecChoice{"webm", "libvpx-vp9", AV_PIX_FMT_YUV420P, false, false};
  }
  return std::nullopt;
}

AVRational to_av(Rational r) { return {r.num, r.den}; }

}  // namespace

struct VideoWriter::Impl {
  std::string path;
  VideoWriterOptions options;
  CodecChoice choice{};
  AtomicFile file;  // declared first: destroyed last, after the muxer has closed the temporary
  AVFormatContext* output = nullptr;
  AvCodecContextPtr encoder;
  AVStream* video_stream = nullptr;
  SwsContext* converter = nullptr;
  AvFramePtr frame = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  int coded_width = 0, coded_height = 0;
  AvFramePtr source_frame = make_av_frame();  // the caller's pixels, in FFmpeg's padded rows
  int64_t frames = 0;
  // The pts of the frames sent lately, to give each packet its duration (the next frame's pts
  // minus its own). Without durations the MP4 muxer's edit list leaves out the last frame.
  std::deque<int64_t> sent_pts;
  int64_t last_pts = AV_NOPTS_VALUE;
  int64_t previous_pts = AV_NOPTS_VALUE;
  bool finished = false;

  // Audio copy.
  AvInputPtr audio_input;
  std::vector<AVStream*> audio_map;  // input stream index -> output stream (null: not copied)
  AvPacketPtr audio_packet = make_av_packet();
  bool audio_pending = false;        // audio_packet holds a packet not yet written
  bool audio_done = true;

  explicit Impl(const std::string& target) : path(target), file(target) {}

  ~Impl() {
    sws_freeContext(converter);
    if (output) {
      if (output->pb) avio_closep(&output->pb);
      avformat_free_context(output);
    }
  }

  [[noreturn]] void fail(std::string_view what, int error_code) const {
    throw Error(
        fmt::format("cannot write video '{}': {}: {}", path, what, describe_av_error(error_code)));
  }

  void warn(const std::string& message) const {
    if (options.warn) options.warn(message);
  }

  void open() {
    const int width = options.width, height = options.height;
    if (width <= 0 || height <= 0) {
      throw Error(fmt::format("cannot write video '{}': bad size {}x{}", path, width, height));
    }
    if (options.time_base.num <= 0 || options.time_base.den <= 0) {
      throw Error(fmt::format("cannot write video '{}': no time base given", path));
    }
    if (options.rgba && !choice.keeps_alpha) {
      warn(fmt::format("'{}': {} keeps no alpha channel; the alpha is dropped", path,
                       choice.encoder));
    }
    int rc = avformat_alloc_output_context2(&output, nullptr, choice.container,
                                            file.temp_path().c_str());
    if (rc < 0 || !output) fail("cannot create the container", rc);

    const AVCodec* codec = avcodec_find_encoder_by_name(choice.encoder);
    if (!codec) fail(fmt::format("FFmpeg has no {} encoder", choice.encoder), AVERROR_ENCODER_NOT_FOUND);
    encoder.reset(avcodec_alloc_context3(codec));
    if (!encoder) throw std::bad_alloc();
    coded_width = choice.even_size ? (width + 1) & ~1 : width;
    coded_height = choice.even_size ? (height + 1) & ~1 : height;
    encoder->width = coded_width;
    encoder->height = coded_height;
    encoder->pix_fmt = choice.pixel_format;
    encoder->time_base = to_av(options.time_base);
    if (options.frame_rate.known()) encoder->framerate = to_av(options.frame_rate);
    encoder->sample_aspect_ratio = {1, 1};
    encoder->color_range = AVCOL_RANGE_MPEG;
    encoder->colorspace = AVCOL_SPC_BT709;
    encoder->color_primaries = AVCOL_PRI_BT709;
    encoder->color_trc = AVCOL_TRC_BT709;
    encoder->thread_count = options.threads;
    if (output->oformat->flags & AVFMT_GLOBALHEADER) {
      encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    AVDictionary* codec_options = nullptr;
    const std::string_view name = choice.encoder;
    if (name == "libx264") {
      av_dict_set_int(&codec_options, "crf", options.crf >= 0 ? options.crf : 18, 0);
      av_dict_set(&codec_options, "preset", options.preset.c_str(), 0);
    } else if (name == "libvpx-vp9") {
      av_dict_set_int(&codec_options, "crf", options.crf >= 0 ? options.crf : 30, 0);
      av_dict_set(&codec_options, "b", "0", 0);  // constant quality
      av_dict_set(&codec_options, "row-mt", "1", 0);
      av_dict_set(&codec_options, "deadline", "good", 0);
      av_dict_set(&codec_options, "cpu-used", "4", 0);
    } else if (name == "prores_ks") {
      av_dict_set(&codec_options, "profile", choice.keeps_alpha ? "4444" : "hq", 0);
      av_dict_set(&codec_options, "vendor", "apl0", 0);
    }
    rc = avcodec_open2(encoder.get(), codec, &codec_options);
    av_dict_free(&codec_options);
    if (rc < 0) fail(fmt::format("cannot open the {} encoder", choice.encoder), rc);

    video_stream = avformat_new_stream(output, nullptr);
    if (!video_stream) throw std::bad_alloc();
    video_stream->time_base = encoder->time_base;
    if (options.frame_rate.known()) video_stream->avg_frame_rate = to_av(options.frame_rate);
    rc = avcodec_parameters_from_context(video_stream->codecpar, encoder.get());
    if (rc < 0) fail("bad video stream parameters", rc);
    if (choice.keeps_alpha && name == "libvpx-vp9") {
      // Tells the Matroska muxer to store the alpha layer libvpx sends as side data.
      av_dict_set(&video_stream->metadata, "alpha_mode", "1", 0);
    }
    const int rotation = ((options.rotation % 360) + 360) % 360;
    if (rotation != 0) {
      if (rotation % 90 != 0) {
        throw Error(fmt::format("cannot write video '{}': rotation {} is not a quarter turn", path,
                                options.rotation));
      }
      auto* matrix = reinterpret_cast<int32_t*>(
          av_stream_new_side_data(video_stream, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t)));
      if (!matrix) throw std::bad_alloc();
      // av_display_rotation_set() takes the clockwise angle (av_display_rotation_get() gives
      // the counter-clockwise one back; VideoReader negates it).
      av_display_rotation_set(matrix, rotation);
    }

    if (!options.audio_source.empty()) open_audio();

    rc = avio_open(&output->pb, file.temp_path().c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) fail("cannot open the file", rc);
    rc = avformat_write_header(output, nullptr);
    if (rc < 0) fail("cannot write the header", rc);

    frame->format = choice.pixel_format;
    frame->width = coded_width;
    frame->height = coded_height;
    frame->color_range = AVCOL_RANGE_MPEG;
    frame->colorspace = AVCOL_SPC_BT709;
    frame->color_primaries = AVCOL_PRI_BT709;
    frame->color_trc = AVCOL_TRC_BT709;
    if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();

    const AVPixelFormat source = options.rgba ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    source_frame->format = source;
    source_frame->width = coded_width;
    source_frame->height = coded_height;
    if (av_frame_get_buffer(source_frame.get(), 0) < 0) throw std::bad_alloc();
    converter = sws_getContext(coded_width, coded_height, source, coded_width, coded_height,
                               choice.pixel_format,
                               SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr,
                               nullptr, nullptr);
    if (!converter) fail("no conversion from RGB to the encoder's pixel format", AVERROR_BUG);
    int* inverse_table = nullptr;
    int* table = nullptr;
    int source_full = 0, destination_full = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(converter, &inverse_table, &source_full, &table,
                                 &destination_full, &brightness, &contrast, &saturation) >= 0) {
      const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
      sws_setColorspaceDetails(converter, bt709, 1, bt709, 0, brightness, contrast, saturation);
    }
  }

  void open_audio() {
    const std::string& source = options.audio_source;
    const std::string url = "file:" + source;
    AVFormatContext* opened = nullptr;
    int rc = avformat_open_input(&opened, url.c_str(), nullptr, nullptr);
    if (rc < 0) {
      throw Error(fmt::format("cannot write video '{}': cannot open the audio source '{}': {}",
                              path, source, describe_av_error(rc)));
    }
    audio_input.reset(opened);
    rc = avformat_find_stream_info(opened, nullptr);
    if (rc < 0) {
      throw Error(fmt::format("cannot write video '{}': cannot read the audio source '{}': {}",
                              path, source, describe_av_error(rc)));
    }
    audio_map.assign(opened->nb_streams, nullptr);
    for (unsigned i = 0; i < opened->nb_streams; ++i) {
      AVStream* in = opened->streams[i];
      in->discard = AVDISCARD_ALL;
      if (in->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
      const AVCodecID id = in->codecpar->codec_id;
      if (avformat_query_codec(output->oformat, id, FF_COMPLIANCE_NORMAL) != 1) {
        warn(fmt::format("'{}': audio stream {} of '{}' ({}) cannot go into {}; skipped", path, i,
                         source, avcodec_get_name(id), choice.container));
        continue;
      }
      AVStream* out = avformat_new_stream(output, nullptr);
      if (!out) throw std::bad_alloc();
      rc = avcodec_parameters_copy(out->codecpar, in->codecpar);
      if (rc < 0) fail("cannot copy the audio parameters", rc);
      out->codecpar->codec_tag = 0;
      out->time_base = in->time_base;
      av_dict_copy(&out->metadata, in->metadata, 0);
      in->discard = AVDISCARD_DEFAULT;
      audio_map[i] = out;
      audio_done = false;
    }
  }

  // Copies source audio packets that start at or before `limit` (in `limit_base`); with
  // `strictly_before`, those that start before it. Later packets wait for later calls.
  void pump_audio(int64_t limit, AVRational limit_base, bool strictly_before) {
    while (!audio_done) {
      if (!audio_pending) {
        const int rc = av_read_frame(audio_input.get(), audio_packet.get());
        if (rc < 0) {
          // The end of the source (or damage in it): the audio copied so far is kept.
          audio_done = true;
          return;
        }
        if (audio_packet->stream_index < 0 || size_t(audio_packet->stream_index) >= audio_map.size() ||
            !audio_map[audio_packet->stream_index]) {
          av_packet_unref(audio_packet.get());
          continue;
        }
        audio_pending = true;
      }
      AVStream* in = audio_input->streams[audio_packet->stream_index];
      const int64_t time =
          audio_packet->pts != AV_NOPTS_VALUE ? audio_packet->pts : audio_packet->dts;
      if (time != AV_NOPTS_VALUE) {
        const int order = av_compare_ts(time, in->time_base, limit, limit_base);
        if (order > 0 || (strictly_before && order == 0)) return;
      }
      AVStream* out = audio_map[audio_packet->stream_index];
      audio_packet->stream_index = out->index;
      audio_packet->pos = -1;
      av_packet_rescale_ts(audio_packet.get(), in->time_base, out->time_base);
      audio_pending = false;
      const int rc = av_interleaved_write_frame(output, audio_packet.get());
      if (rc < 0) fail("cannot write an audio packet", rc);
    }
  }

  // The step between frames when nothing better is known: the last gap, else the frame rate.
  int64_t typical_step() const {
    int64_t step = previous_pts != AV_NOPTS_VALUE ? last_pts - previous_pts : 0;
    if (step <= 0 && options.frame_rate.known()) {
      step = av_rescale_q(1, av_inv_q(to_av(options.frame_rate)), encoder->time_base);
    }
    return std::max<int64_t>(step, 1);
  }

  int64_t duration_of(int64_t pts) const {
    if (pts == AV_NOPTS_VALUE) return typical_step();
    const auto next = std::upper_bound(sent_pts.begin(), sent_pts.end(), pts);
    return next != sent_pts.end() ? *next - pts : typical_step();
  }

  void drain_encoder() {
    for (;;) {
      int rc = avcodec_receive_packet(encoder.get(), packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail("cannot encode", rc);
      if (packet->duration <= 0) packet->duration = duration_of(packet->pts);
      av_packet_rescale_ts(packet.get(), encoder->time_base, video_stream->time_base);
      packet->stream_index = video_stream->index;
      if (!audio_done) {
        pump_audio(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts,
                   video_stream->time_base, false);
      }
      rc = av_interleaved_write_frame(output, packet.get());
      if (rc < 0) fail("cannot write a video packet", rc);
    }
  }

  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) {
    if (finished) throw Error(fmt::format("cannot write video '{}': already finished", path));
    const int channels = options.rgba ? 4 : 3;
    const size_t row_bytes = size_t(options.width) * channels;
    if (!pixels || stride < ptrdiff_t(row_bytes)) {
      throw Error(fmt::format("cannot write video '{}': bad frame (stride {})", path, stride));
    }
    if (last_pts != AV_NOPTS_VALUE && pts <= last_pts) {
      throw Error(fmt::format("cannot write video '{}': frame {} has pts {}, not after {}", path,
                              frames, pts, last_pts));
    }
    // Into our own padded frame first: swscale's SIMD code reads past the end of a row, which the
    // caller's tightly packed rows may not allow. An odd size is grown to the even one here by
    // repeating the last column and row.
    for (int y = 0; y < coded_height; ++y) {
      const uint8_t* from = pixels + stride * std::min(y, options.height - 1);
      uint8_t* to = source_frame->data[0] + ptrdiff_t(source_frame->linesize[0]) * y;
      std::memcpy(to, from, row_bytes);
      if (coded_width != options.width) {
        std::memcpy(to + row_bytes, to + row_bytes - channels, size_t(channels));
      }
    }
    int rc = av_frame_make_writable(frame.get());
    if (rc < 0) throw std::bad_alloc();
    const int rows = sws_scale(converter, source_frame->data, source_frame->linesize, 0,
                               coded_height, frame->data, frame->linesize);
    if (rows != coded_height) fail("pixel conversion failed", rows < 0 ? rows : AVERROR_BUG);
    frame->pts = pts;
    rc = avcodec_send_frame(encoder.get(), frame.get());
    if (rc < 0) fail("cannot encode", rc);
    previous_pts = last_pts;
    last_pts = pts;
    sent_pts.push_back(pts);
    if (sent_pts.size() > 1024) sent_pts.pop_front();  // far beyond any encoder's delay
    ++frames;
    drain_encoder();
  }

  void finish() {
    if (finished) throw Error(fmt::format("cannot write video '{}': already finished", path));
    finished = true;
    int rc = avcodec_send_frame(encoder.get(), nullptr);
    if (rc < 0) fail("cannot encode", rc);
    drain_encoder();
    if (!audio_done && last_pts != AV_NOPTS_VALUE) {
      // The video ends one frame duration after the last pts.
      pump_audio(last_pts + typical_step(), encoder->time_base, true);
    }
    rc = av_write_trailer(output);
    if (rc < 0) fail("cannot write the trailer", rc);
    rc = avio_closep(&output->pb);
    if (rc < 0) fail("cannot close the file", rc);
    file.commit();
  }
};

VideoWriter::VideoWriter(const std::string& path, const VideoWriterOptions& options) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  const std::optional<CodecChoice> choice = choose_codec(path, options.rgba);
  if (!choice) {
    throw Error(fmt::format(
        "cannot write video '{}': unknown extension (use .mp4, .mkv, .mov or .webm)", path));
  }
  impl_ = std::make_unique<Impl>(path);  // creates the temporary: fails for an unwritable folder
  impl_->options = options;
  impl_->choice = *choice;
  impl_->open();
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) {
  impl_->write(pixels, stride, pts);
}
void VideoWriter::finish() { impl_->finish(); }
const std::string& VideoWriter::path() const { return impl_->path; }
std::string VideoWriter::codec_name() const { return impl_->choice.encoder; }
int64_t VideoWriter::frames_written() const { return impl_->frames; }

}  // namespace mattecast
