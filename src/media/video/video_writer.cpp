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
#include <array>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "io/atomic_file.h"
#include "io/av_handles.h"
#include "video/audio_transcoder.h"

namespace mattecast {

namespace {

struct CodecChoice {
  const char* container;  // FFmpeg muxer name
  const char* encoder;
  AVPixelFormat pixel_format;
  bool even_size;  // pad odd sizes by one pixel
  bool keeps_alpha;
  const char* label;  // for description()
};

std::optional<CodecChoice> choose_codec(const std::string& path, bool rgba) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (extension == ".mp4") {
    return CodecChoice{"mp4", "libx264", AV_PIX_FMT_YUV420P, true, false, "H.264"};
  }
  if (extension == ".mkv") {
    return CodecChoice{"matroska", "libx264", AV_PIX_FMT_YUV420P, true, false, "H.264"};
  }
  if (extension == ".mov") {
    return rgba ? CodecChoice{"mov", "prores_ks", AV_PIX_FMT_YUVA444P10LE,
                              false, true,        "ProRes 4444"}
                : CodecChoice{"mov", "prores_ks", AV_PIX_FMT_YUV422P10LE,
                              false, false,       "ProRes 422 HQ"};
  }
  if (extension == ".webm") {
    return rgba ? CodecChoice{"webm", "libvpx-vp9", AV_PIX_FMT_YUVA420P, false, true, "VP9"}
                : CodecChoice{"webm", "libvpx-vp9", AV_PIX_FMT_YUV420P, false, false, "VP9"};
  }
  return std::nullopt;
}

AVRational to_av(Rational r) { return {r.num, r.den}; }

AVPixelFormat source_format(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::rgba:
      return AV_PIX_FMT_RGBA;
    case PixelLayout::gray8:
      return AV_PIX_FMT_GRAY8;
    case PixelLayout::gray16:
      return AV_PIX_FMT_GRAY16;
    case PixelLayout::rgb24:
      break;
  }
  return AV_PIX_FMT_RGB24;
}

// One audio stream of the source as it goes into the output.
struct AudioTrack {
  int source_index = -1;
  std::string source_codec;
  AVStream* copy = nullptr;                     // copied packet for packet
  std::unique_ptr<AudioTranscoder> transcoder;  // or re-encoded
};

// The pts of the frames sent lately, to give each packet its duration. Fixed capacity far
// beyond any encoder's delay, so nothing is allocated per frame.
class RecentPts {
 public:
  void push(int64_t pts) {
    values_[(first_ + size_) % values_.size()] = pts;
    if (size_ < values_.size()) {
      ++size_;
    } else {
      first_ = (first_ + 1) % values_.size();
    }
  }
  // The first pts after `pts` (they increase), or nullopt.
  std::optional<int64_t> next_after(int64_t pts) const {
    std::optional<int64_t> next;
    for (size_t i = size_; i-- > 0;) {  // newest first; an encoder's delay is short
      const int64_t value = values_[(first_ + i) % values_.size()];
      if (value <= pts) break;
      next = value;
    }
    return next;
  }

 private:
  std::array<int64_t, 1024> values_{};
  size_t first_ = 0;
  size_t size_ = 0;
};

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
  int bytes_per_pixel = 3;
  int64_t frames = 0;
  // The pts of the frames sent lately, to give each packet its duration (the next frame's pts
  // minus its own). Without durations the MP4 muxer's edit list leaves out the last frame.
  RecentPts sent_pts;
  int64_t last_pts = AV_NOPTS_VALUE;
  int64_t previous_pts = AV_NOPTS_VALUE;
  bool finished = false;

  // Audio, copied or re-encoded.
  AvInputPtr audio_input;
  std::vector<AudioTrack> audio_tracks;
  std::vector<int> audio_map;  // input stream index -> audio_tracks index (-1: not carried)
  AvPacketPtr audio_packet = make_av_packet();
  bool audio_pending = false;  // audio_packet holds a packet not yet written
  bool audio_done = true;
  bool audio_source_has_audio = false;

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
    if (options.layout == PixelLayout::rgba && !choice.keeps_alpha) {
      warn(fmt::format("'{}': {} keeps no alpha channel; the alpha is dropped", path,
                       choice.encoder));
    }
    int rc = avformat_alloc_output_context2(&output, nullptr, choice.container,
                                            file.temp_path().c_str());
    if (rc < 0 || !output) fail("cannot create the container", rc);

    const AVCodec* codec = avcodec_find_encoder_by_name(choice.encoder);
    if (!codec)
      fail(fmt::format("FFmpeg has no {} encoder", choice.encoder), AVERROR_ENCODER_NOT_FOUND);
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

    const AVPixelFormat source = source_format(options.layout);
    bytes_per_pixel = mattecast::bytes_per_pixel(options.layout);
    source_frame->format = source;
    source_frame->width = coded_width;
    source_frame->height = coded_height;
    if (av_frame_get_buffer(source_frame.get(), 0) < 0) throw std::bad_alloc();
    converter = sws_getContext(
        coded_width, coded_height, source, coded_width, coded_height, choice.pixel_format,
        SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr, nullptr);
    if (!converter) fail("no conversion to the encoder's pixel format", AVERROR_BUG);
    // RGB and gray are full range (gray becomes the luma: 0..255 -> 16..235, neutral chroma).
    int* inverse_table = nullptr;
    int* table = nullptr;
    int source_full = 0, destination_full = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(converter, &inverse_table, &source_full, &table, &destination_full,
                                 &brightness, &contrast, &saturation) >= 0) {
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
    audio_map.assign(opened->nb_streams, -1);
    audio_tracks.reserve(opened->nb_streams);
    for (unsigned i = 0; i < opened->nb_streams; ++i) {
      AVStream* in = opened->streams[i];
      in->discard = AVDISCARD_ALL;
      if (in->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
      audio_source_has_audio = true;
      const AVCodecID id = in->codecpar->codec_id;
      AudioTrack track;
      track.source_index = int(i);
      track.source_codec = avcodec_get_name(id);
      if (avformat_query_codec(output->oformat, id, FF_COMPLIANCE_NORMAL) == 1) {
        AVStream* out = avformat_new_stream(output, nullptr);
        if (!out) throw std::bad_alloc();
        rc = avcodec_parameters_copy(out->codecpar, in->codecpar);
        if (rc < 0) fail("cannot copy the audio parameters", rc);
        out->codecpar->codec_tag = 0;
        out->time_base = in->time_base;
        av_dict_copy(&out->metadata, in->metadata, 0);
        track.copy = out;
      } else {
        // Opus is what WebM players expect (WebM holds only Opus and Vorbis); AAC for the rest.
        const char* encoder = std::string_view(choice.container) == "webm" ? "libopus" : "aac";
        const std::string what =
            fmt::format("audio stream {} of '{}' ({})", i, source, track.source_codec);
        const std::string context = fmt::format("cannot write video '{}': {}", path, what);
        try {
          track.transcoder = std::make_unique<AudioTranscoder>(*in, output, encoder, context);
        } catch (const Error& error) {
          std::string_view reason = error.what();
          if (reason.substr(0, context.size() + 2) == context + ": ") {
            reason.remove_prefix(context.size() + 2);
          }
          warn(
              fmt::format("'{}': {} cannot go into {} as it is and cannot be re-encoded ({}); "
                          "skipped",
                          path, what, choice.container, reason));
          continue;
        }
        warn(fmt::format("'{}': {} cannot go into {} as it is; re-encoded to {}", path, what,
                         choice.container, track.transcoder->encoder_summary()));
      }
      in->discard = AVDISCARD_DEFAULT;
      audio_map[i] = int(audio_tracks.size());
      audio_tracks.push_back(std::move(track));
      audio_done = false;
    }
  }

  AudioTrack* track_of(const AVPacket& source_packet) {
    const int index = source_packet.stream_index;
    if (index < 0 || size_t(index) >= audio_map.size() || audio_map[index] < 0) return nullptr;
    return &audio_tracks[audio_map[index]];
  }

  // Carries source audio packets that start at or before `limit` (in `limit_base`); with
  // `strictly_before`, those that start before it. Later packets wait for later calls.
  // Re-encoded streams encode the samples that end by `limit`.
  void pump_audio(int64_t limit, AVRational limit_base, bool strictly_before) {
    while (!audio_done) {
      if (!audio_pending) {
        const int rc = av_read_frame(audio_input.get(), audio_packet.get());
        if (rc < 0) {
          // The end of the source (or damage in it): the audio carried so far is kept.
          take_av_log_errors();
          audio_done = true;
          break;
        }
        if (!track_of(*audio_packet)) {
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
        if (order > 0 || (strictly_before && order == 0)) break;
      }
      audio_pending = false;
      AudioTrack& track = *track_of(*audio_packet);
      if (track.transcoder) {
        track.transcoder->decode(*audio_packet);
        av_packet_unref(audio_packet.get());
        continue;
      }
      audio_packet->stream_index = track.copy->index;
      audio_packet->pos = -1;
      av_packet_rescale_ts(audio_packet.get(), in->time_base, track.copy->time_base);
      const int rc = av_interleaved_write_frame(output, audio_packet.get());
      if (rc < 0) fail("cannot write an audio packet", rc);
    }
    for (AudioTrack& track : audio_tracks) {
      if (track.transcoder) track.transcoder->encode_until(limit, limit_base);
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
    const std::optional<int64_t> next = sent_pts.next_after(pts);
    return next ? *next - pts : typical_step();
  }

  void drain_encoder() {
    for (;;) {
      int rc = avcodec_receive_packet(encoder.get(), packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail("cannot encode", rc);
      if (packet->duration <= 0) packet->duration = duration_of(packet->pts);
      av_packet_rescale_ts(packet.get(), encoder->time_base, video_stream->time_base);
      packet->stream_index = video_stream->index;
      if (!audio_tracks.empty()) {
        pump_audio(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts,
                   video_stream->time_base, false);
      }
      rc = av_interleaved_write_frame(output, packet.get());
      if (rc < 0) fail("cannot write a video packet", rc);
    }
  }

  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) {
    if (finished) throw Error(fmt::format("cannot write video '{}': already finished", path));
    const int channels = bytes_per_pixel;
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
    if (frames == 0) {
      for (AudioTrack& track : audio_tracks) {
        if (track.transcoder) track.transcoder->start_no_later_than(pts, encoder->time_base);
      }
    }
    frame->pts = pts;
    rc = avcodec_send_frame(encoder.get(), frame.get());
    if (rc < 0) fail("cannot encode", rc);
    previous_pts = last_pts;
    last_pts = pts;
    sent_pts.push(pts);
    ++frames;
    drain_encoder();
  }

  void finish() {
    if (finished) throw Error(fmt::format("cannot write video '{}': already finished", path));
    finished = true;
    int rc = avcodec_send_frame(encoder.get(), nullptr);
    if (rc < 0) fail("cannot encode", rc);
    drain_encoder();
    if (!audio_tracks.empty() && last_pts != AV_NOPTS_VALUE) {
      // The video ends one frame duration after the last pts.
      const int64_t end = last_pts + typical_step();
      pump_audio(end, encoder->time_base, true);
      for (AudioTrack& track : audio_tracks) {
        if (!track.transcoder) continue;
        track.transcoder->finish(end, encoder->time_base);
        if (const int64_t dropped = track.transcoder->dropped_packets(); dropped > 0) {
          warn(
              fmt::format("'{}': {} packet{} of audio stream {} of '{}' could not be decoded and "
                          "{} left out",
                          path, dropped, dropped == 1 ? "" : "s", track.source_index,
                          options.audio_source, dropped == 1 ? "is" : "are"));
        }
      }
    }
    rc = av_write_trailer(output);
    if (rc < 0) fail("cannot write the trailer", rc);
    rc = avio_closep(&output->pb);
    if (rc < 0) fail("cannot close the file", rc);
    file.commit();
  }

  std::string description() const {
    std::string text = fmt::format("{} ({}) {}", choice.label, choice.encoder,
                                   av_get_pix_fmt_name(choice.pixel_format));
    if (options.layout == PixelLayout::gray8) text += ", gray as luma";
    if (options.layout == PixelLayout::rgba && !choice.keeps_alpha) text += ", alpha dropped";
    if (options.audio_source.empty()) return text;
    if (audio_tracks.empty()) {
      return text + (audio_source_has_audio ? ", audio skipped" : ", no audio");
    }
    text += ", audio: ";
    for (size_t i = 0; i < audio_tracks.size(); ++i) {
      const AudioTrack& track = audio_tracks[i];
      if (i > 0) text += ", ";
      if (track.transcoder) {
        text +=
            fmt::format("{} re-encoded to {}", track.source_codec,
                        avcodec_get_name(track.transcoder->output_stream()->codecpar->codec_id));
      } else {
        text += track.source_codec + " copied";
      }
    }
    return text;
  }
};

const char* to_string(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::rgb24:
      return "RGB";
    case PixelLayout::rgba:
      return "RGBA";
    case PixelLayout::gray8:
      return "8-bit gray";
    case PixelLayout::gray16:
      return "16-bit gray";
  }
  return "?";
}

int bytes_per_pixel(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::rgb24:
      return 3;
    case PixelLayout::rgba:
      return 4;
    case PixelLayout::gray8:
      return 1;
    case PixelLayout::gray16:
      return 2;
  }
  return 3;
}

VideoWriter::VideoWriter(const std::string& path, const VideoWriterOptions& options) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  if (options.layout == PixelLayout::gray16) {
    throw Error(
        fmt::format("cannot write video '{}': 16-bit gray goes only into PNG sequences "
                    "(a folder or a %0Nd.png pattern); video files take 8-bit gray",
                    path));
  }
  const std::optional<CodecChoice> choice = choose_codec(path, options.layout == PixelLayout::rgba);
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
bool VideoWriter::is_video_path(const std::string& path) {
  return choose_codec(path, false).has_value();
}
const std::string& VideoWriter::path() const { return impl_->path; }
std::string VideoWriter::codec_name() const { return impl_->choice.encoder; }
int64_t VideoWriter::frames_written() const { return impl_->frames; }
std::string VideoWriter::description() const { return impl_->description(); }

}  // namespace mattecast
