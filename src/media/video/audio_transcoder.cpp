#include "video/audio_transcoder.h"

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <string_view>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

struct SwrDeleter {
  void operator()(SwrContext* context) const { swr_free(&context); }
};
struct AudioFifoDeleter {
  void operator()(AVAudioFifo* fifo) const { av_audio_fifo_free(fifo); }
};

// The encoder's sample format closest to the decoder's: the same if it takes it, else float
// planar or packed (no loss from any source), else the first it lists.
AVSampleFormat choose_sample_format(const AVCodec& encoder, AVSampleFormat source) {
  if (!encoder.sample_fmts) return source;
  for (const AVSampleFormat* f = encoder.sample_fmts; *f != AV_SAMPLE_FMT_NONE; ++f) {
    if (*f == source) return source;
  }
  for (AVSampleFormat preferred : {AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT}) {
    for (const AVSampleFormat* f = encoder.sample_fmts; *f != AV_SAMPLE_FMT_NONE; ++f) {
      if (*f == preferred) return preferred;
    }
  }
  return encoder.sample_fmts[0];
}

// The source's rate if the encoder takes it; else 48 kHz if it takes that; else the lowest rate
// above the source's, else the highest.
int choose_sample_rate(const AVCodec& encoder, int source) {
  if (!encoder.supported_samplerates) return source;
  int best_above = 0, highest = 0;
  bool has_48k = false;
  for (const int* rate = encoder.supported_samplerates; *rate; ++rate) {
    if (*rate == source) return source;
    if (*rate == 48000) has_48k = true;
    if (*rate > source && (best_above == 0 || *rate < best_above)) best_above = *rate;
    highest = std::max(highest, *rate);
  }
  if (has_48k) return 48000;
  return best_above ? best_above : highest;
}

bool takes_layout(const AVCodec& encoder, const AVChannelLayout& wanted) {
  for (const AVChannelLayout* layout = encoder.ch_layouts; layout->nb_channels; ++layout) {
    if (av_channel_layout_compare(layout, &wanted) == 0) return true;
  }
  return false;
}

// The source's layout if the encoder takes it, else the default layout of as many channels, else
// mono for a mono source, else stereo, else the encoder's first (libswresample up- or downmixes).
void choose_layout(const AVCodec& encoder, const AVChannelLayout& source, AVChannelLayout& out) {
  if (source.order == AV_CHANNEL_ORDER_UNSPEC) {  // e.g. PCM in Matroska: a count, no positions
    av_channel_layout_default(&out, source.nb_channels);
    if (!encoder.ch_layouts || takes_layout(encoder, out)) return;
    AVChannelLayout known{};
    av_channel_layout_copy(&known, &out);
    av_channel_layout_uninit(&out);
    choose_layout(encoder, known, out);
    av_channel_layout_uninit(&known);
    return;
  }
  if (!encoder.ch_layouts || takes_layout(encoder, source)) {
    av_channel_layout_copy(&out, &source);
    return;
  }
  AVChannelLayout same_count{};
  av_channel_layout_default(&same_count, source.nb_channels);
  const AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  const AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
  if (takes_layout(encoder, same_count)) {
    av_channel_layout_copy(&out, &same_count);
  } else if (source.nb_channels == 1 && takes_layout(encoder, mono)) {
    av_channel_layout_copy(&out, &mono);
  } else if (takes_layout(encoder, stereo)) {
    av_channel_layout_copy(&out, &stereo);
  } else {
    av_channel_layout_copy(&out, &encoder.ch_layouts[0]);
  }
  av_channel_layout_uninit(&same_count);
}

std::string describe_layout(const AVChannelLayout& layout) {
  char text[128] = {};
  if (av_channel_layout_describe(&layout, text, sizeof text) < 0) {
    return fmt::format("{} channels", layout.nb_channels);
  }
  return text;
}

}  // namespace

struct AudioTranscoder::Impl {
  std::string context;
  AVFormatContext* output = nullptr;
  AVStream* stream = nullptr;
  AVRational input_time_base{};
  AvCodecContextPtr decoder;
  AvCodecContextPtr encoder;
  std::unique_ptr<SwrContext, SwrDeleter> resampler;
  // The decoded format the resampler was set up for, as the frames state it (rebuilt if a frame
  // differs).
  AVSampleFormat resampler_format = AV_SAMPLE_FMT_NONE;
  int resampler_rate = 0;
  AVChannelLayout resampler_layout{};
  std::unique_ptr<AVAudioFifo, AudioFifoDeleter> fifo;  // converted samples not yet encoded
  uint8_t** converted = nullptr;  // resampler output, one plane per channel (or one)
  int converted_capacity = 0;     // in samples
  AvFramePtr decoded = make_av_frame();
  AvFramePtr to_encode = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  int frame_size = 1024;
  bool started = false;                  // the first sample's time is known
  int64_t start_limit = AV_NOPTS_VALUE;  // in 1/sample_rate: the stream starts here at the latest
  int64_t fifo_start = 0;                // time of the fifo's first sample, in 1/sample_rate
  int64_t dropped = 0;
  bool finished = false;

  ~Impl() {
    if (converted) av_freep(&converted[0]);
    av_freep(&converted);
    av_channel_layout_uninit(&resampler_layout);
  }

  [[noreturn]] void fail(std::string_view what, int error_code) const {
    throw Error(fmt::format("{}: {}: {}", context, what, describe_av_error(error_code)));
  }

  void open(const AVStream& input, const char* encoder_name) {
    input_time_base = input.time_base;
    const AVCodecParameters& parameters = *input.codecpar;
    const AVCodec* decoder_codec = avcodec_find_decoder(parameters.codec_id);
    if (!decoder_codec) {
      fail(fmt::format("FFmpeg has no {} decoder", avcodec_get_name(parameters.codec_id)),
           AVERROR_DECODER_NOT_FOUND);
    }
    decoder.reset(avcodec_alloc_context3(decoder_codec));
    if (!decoder) throw std::bad_alloc();
    int rc = avcodec_parameters_to_context(decoder.get(), &parameters);
    if (rc < 0) fail("bad audio stream parameters", rc);
    decoder->pkt_timebase = input.time_base;
    decoder->thread_count = 1;
    rc = avcodec_open2(decoder.get(), decoder_codec, nullptr);
    if (rc < 0) fail(fmt::format("cannot open the {} decoder", decoder_codec->name), rc);
    if (decoder->sample_rate <= 0 || decoder->ch_layout.nb_channels <= 0 ||
        decoder->sample_fmt == AV_SAMPLE_FMT_NONE) {
      fail("unknown sample rate, format or channels", AVERROR_INVALIDDATA);
    }

    const AVCodec* encoder_codec = avcodec_find_encoder_by_name(encoder_name);
    if (!encoder_codec) {
      fail(fmt::format("FFmpeg has no {} encoder", encoder_name), AVERROR_ENCODER_NOT_FOUND);
    }
    encoder.reset(avcodec_alloc_context3(encoder_codec));
    if (!encoder) throw std::bad_alloc();
    encoder->sample_fmt = choose_sample_format(*encoder_codec, decoder->sample_fmt);
    encoder->sample_rate = choose_sample_rate(*encoder_codec, decoder->sample_rate);
    choose_layout(*encoder_codec, decoder->ch_layout, encoder->ch_layout);
    // AAC: 64 kb/s per channel (128 kb/s stereo); Opus: 48 kb/s per channel. Both transparent
    // for most listeners.
    const bool opus = encoder_codec->id == AV_CODEC_ID_OPUS;
    encoder->bit_rate = int64_t(encoder->ch_layout.nb_channels) * (opus ? 48000 : 64000);
    encoder->time_base = {1, encoder->sample_rate};
    if (output->oformat->flags & AVFMT_GLOBALHEADER) {
      encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    rc = avcodec_open2(encoder.get(), encoder_codec, nullptr);
    if (rc < 0) fail(fmt::format("cannot open the {} encoder", encoder_name), rc);
    if (encoder->frame_size > 0 &&
        !(encoder_codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)) {
      frame_size = encoder->frame_size;
    }

    stream = avformat_new_stream(output, nullptr);
    if (!stream) throw std::bad_alloc();
    rc = avcodec_parameters_from_context(stream->codecpar, encoder.get());
    if (rc < 0) fail("bad audio encoder parameters", rc);
    stream->time_base = encoder->time_base;
    av_dict_copy(&stream->metadata, input.metadata, 0);

    fifo.reset(
        av_audio_fifo_alloc(encoder->sample_fmt, encoder->ch_layout.nb_channels, 4 * frame_size));
    if (!fifo) throw std::bad_alloc();
    to_encode->format = encoder->sample_fmt;
    to_encode->sample_rate = encoder->sample_rate;
    to_encode->nb_samples = frame_size;
    if (av_channel_layout_copy(&to_encode->ch_layout, &encoder->ch_layout) < 0) {
      throw std::bad_alloc();
    }
    if (av_frame_get_buffer(to_encode.get(), 0) < 0) throw std::bad_alloc();
  }

  void setup_resampler(const AVFrame& frame) {
    const auto format = AVSampleFormat(frame.format);
    if (resampler && format == resampler_format && frame.sample_rate == resampler_rate &&
        av_channel_layout_compare(&frame.ch_layout, &resampler_layout) == 0) {
      return;
    }
    // A change of format mid-stream: what the old resampler still holds goes first.
    if (resampler) convert(nullptr, 0);
    av_channel_layout_uninit(&resampler_layout);
    if (av_channel_layout_copy(&resampler_layout, &frame.ch_layout) < 0) throw std::bad_alloc();
    // A count of channels without positions (PCM in Matroska, say): the usual layout for it.
    AVChannelLayout source_layout{};
    if (!av_channel_layout_check(&frame.ch_layout) ||
        frame.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      av_channel_layout_default(&source_layout, frame.ch_layout.nb_channels);
    } else if (av_channel_layout_copy(&source_layout, &frame.ch_layout) < 0) {
      throw std::bad_alloc();
    }
    SwrContext* created = nullptr;
    int rc = swr_alloc_set_opts2(&created, &encoder->ch_layout, encoder->sample_fmt,
                                 encoder->sample_rate, &source_layout, format, frame.sample_rate, 0,
                                 nullptr);
    av_channel_layout_uninit(&source_layout);
    resampler.reset(created);
    if (rc >= 0) rc = swr_init(created);
    if (rc < 0) fail("cannot set up the audio conversion", rc);
    resampler_format = format;
    resampler_rate = frame.sample_rate;
  }

  // Converts `count` input samples (none: drains the resampler) into the fifo.
  void convert(const uint8_t** data, int count) {
    const int needed = swr_get_out_samples(resampler.get(), count);
    if (needed < 0) fail("audio conversion failed", needed);
    if (needed > converted_capacity) {
      if (converted) av_freep(&converted[0]);
      av_freep(&converted);
      const int capacity = std::max(needed, 2 * frame_size);
      const int rc = av_samples_alloc_array_and_samples(
          &converted, nullptr, encoder->ch_layout.nb_channels, capacity, encoder->sample_fmt, 0);
      if (rc < 0) throw std::bad_alloc();
      converted_capacity = capacity;
    }
    for (;;) {
      const int produced = swr_convert(resampler.get(), converted, converted_capacity, data, count);
      if (produced < 0) fail("audio conversion failed", produced);
      if (produced > 0 && av_audio_fifo_write(fifo.get(), reinterpret_cast<void**>(converted),
                                              produced) < produced) {
        throw std::bad_alloc();
      }
      // Draining may take several calls; converting gives everything in one.
      if (data || produced == 0) return;
    }
  }

  void pad_with_silence(int64_t count) {
    while (count > 0) {
      to_encode->nb_samples = frame_size;
      if (av_frame_make_writable(to_encode.get()) < 0) throw std::bad_alloc();
      const int chunk = int(std::min<int64_t>(count, frame_size));
      av_samples_set_silence(to_encode->extended_data, 0, chunk, encoder->ch_layout.nb_channels,
                             encoder->sample_fmt);
      if (av_audio_fifo_write(fifo.get(), reinterpret_cast<void**>(to_encode->extended_data),
                              chunk) < chunk) {
        throw std::bad_alloc();
      }
      count -= chunk;
    }
  }

  void take(const AVFrame& frame) {
    if (frame.nb_samples <= 0) return;
    if (!started) {
      int64_t time =
          frame.best_effort_timestamp != AV_NOPTS_VALUE ? frame.best_effort_timestamp : frame.pts;
      if (time == AV_NOPTS_VALUE) time = 0;
      fifo_start = av_rescale_q(time, input_time_base, encoder->time_base);
      started = true;
      if (start_limit != AV_NOPTS_VALUE && fifo_start > start_limit) {
        pad_with_silence(fifo_start - start_limit);
        fifo_start = start_limit;
      }
    }
    setup_resampler(frame);
    convert(const_cast<const uint8_t**>(frame.extended_data), frame.nb_samples);
  }

  void receive_decoded() {
    for (;;) {
      const int rc = avcodec_receive_frame(decoder.get(), decoded.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) {  // a frame the decoder gave up on; the next packet may decode again
        ++dropped;
        take_av_log_errors();
        return;
      }
      take(*decoded);
      av_frame_unref(decoded.get());
    }
  }

  void decode(const AVPacket& source) {
    const int rc = avcodec_send_packet(decoder.get(), &source);
    if (rc < 0) {
      ++dropped;
      take_av_log_errors();  // the message is not worth an error: the packet is skipped
    }
    receive_decoded();
  }

  void write_packets() {
    for (;;) {
      int rc = avcodec_receive_packet(encoder.get(), packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail("cannot encode audio", rc);
      av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      rc = av_interleaved_write_frame(output, packet.get());
      if (rc < 0) fail("cannot write an audio packet", rc);
    }
  }

  // Encodes the fifo's first `count` samples (at most frame_size) as one frame.
  void encode(int count) {
    to_encode->nb_samples = frame_size;  // the buffer's size, should it be reallocated
    if (av_frame_make_writable(to_encode.get()) < 0) throw std::bad_alloc();
    const int read =
        av_audio_fifo_read(fifo.get(), reinterpret_cast<void**>(to_encode->extended_data), count);
    if (read < count) fail("audio buffer underrun", AVERROR_BUG);
    if (count < frame_size) {
      if (encoder->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) {
        to_encode->nb_samples = count;
      } else {
        av_samples_set_silence(to_encode->extended_data, count, frame_size - count,
                               encoder->ch_layout.nb_channels, encoder->sample_fmt);
      }
    }
    to_encode->pts = fifo_start;
    fifo_start += count;
    const int rc = avcodec_send_frame(encoder.get(), to_encode.get());
    if (rc < 0) fail("cannot encode audio", rc);
    write_packets();
  }

  void encode_until(int64_t limit, AVRational base) {
    if (!started || finished) return;
    const int64_t last = av_rescale_q_rnd(limit, base, encoder->time_base,
                                          AVRounding(AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX));
    while (av_audio_fifo_size(fifo.get()) >= frame_size && fifo_start + frame_size <= last) {
      encode(frame_size);
    }
  }

  void finish(int64_t end, AVRational base) {
    if (finished) return;
    finished = true;
    avcodec_send_packet(decoder.get(), nullptr);
    receive_decoded();
    if (started) {
      if (resampler) convert(nullptr, 0);
      const int64_t end_sample = av_rescale_q(end, base, encoder->time_base);
      int64_t left = std::min<int64_t>(av_audio_fifo_size(fifo.get()), end_sample - fifo_start);
      while (left > 0) {
        const int count = int(std::min<int64_t>(left, frame_size));
        encode(count);
        left -= count;
      }
    }
    const int rc = avcodec_send_frame(encoder.get(), nullptr);
    if (rc < 0 && rc != AVERROR_EOF) fail("cannot encode audio", rc);
    write_packets();
  }
};

AudioTranscoder::AudioTranscoder(const AVStream& input, AVFormatContext* output,
                                 const char* encoder_name, std::string context)
    : impl_(std::make_unique<Impl>()) {
  impl_->context = std::move(context);
  impl_->output = output;
  impl_->open(input, encoder_name);
}

AudioTranscoder::~AudioTranscoder() = default;

const AVStream* AudioTranscoder::output_stream() const { return impl_->stream; }

std::string AudioTranscoder::encoder_summary() const {
  const AVCodecContext& encoder = *impl_->encoder;
  return fmt::format("{} ({}), {} Hz, {}, {} kb/s", avcodec_get_name(encoder.codec_id),
                     encoder.codec->name, encoder.sample_rate, describe_layout(encoder.ch_layout),
                     encoder.bit_rate / 1000);
}

void AudioTranscoder::start_no_later_than(int64_t time, AVRational base) {
  if (!impl_->started) {
    impl_->start_limit = av_rescale_q(time, base, impl_->encoder->time_base);
  }
}
void AudioTranscoder::decode(const AVPacket& packet) { impl_->decode(packet); }
void AudioTranscoder::encode_until(int64_t limit, AVRational base) {
  impl_->encode_until(limit, base);
}
void AudioTranscoder::finish(int64_t end, AVRational base) { impl_->finish(end, base); }
int64_t AudioTranscoder::dropped_packets() const { return impl_->dropped; }

}  // namespace mattecast
