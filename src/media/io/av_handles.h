// Owning handles for FFmpeg objects, and the glue that turns FFmpeg's error codes and log
// output into text for mattecast::Error. Shared by the image and video code.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>

namespace mattecast {

struct AvInputDeleter {
  // For contexts from avformat_open_input(); it also closes the input file.
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
struct AvCodecContextDeleter {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct AvFrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct AvPacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsContextDeleter {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};

using AvInputPtr = std::unique_ptr<AVFormatContext, AvInputDeleter>;
using AvCodecContextPtr = std::unique_ptr<AVCodecContext, AvCodecContextDeleter>;
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameDeleter>;
using AvPacketPtr = std::unique_ptr<AVPacket, AvPacketDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;

// FFmpeg's allocators only fail when memory runs out.
inline AvFramePtr make_av_frame() {
  AvFramePtr frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}
inline AvPacketPtr make_av_packet() {
  AvPacketPtr packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

inline std::string av_error_text(int error_code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error_code, text, sizeof text);
  return text;
}

namespace detail {

// Error-level lines FFmpeg logged on this thread since the last take_av_log_errors().
// Per thread because FFmpeg logs on the thread that calls it (our decoders run single-threaded).
inline thread_local std::string av_logged_errors;
inline thread_local bool av_log_line_open = false;

inline void capture_av_log(void* context, int level, const char* format, va_list args) {
  if ((level & 0xff) <= AV_LOG_ERROR) {
    char text[512];
    va_list args_copy;
    va_copy(args_copy, args);
    std::vsnprintf(text, sizeof text, format, args_copy);
    va_end(args_copy);
    std::string line = text;
    const bool finished = !line.empty() && line.back() == '\n';
    if (finished) line.pop_back();
    // Bounded, so a decoder that complains about every block cannot grow it without limit.
    if (av_logged_errors.size() < 1000) {
      // FFmpeg may print one line in several calls; only a finished line starts a new entry.
      if (!av_log_line_open && !av_logged_errors.empty()) av_logged_errors += "; ";
      av_logged_errors += line;
    }
    av_log_line_open = !finished;
  }
  // The default callback filters by av_log_get_level(), so raising the level later shows output.
  av_log_default_callback(context, level, format, args);
}

}  // namespace detail

// Keeps FFmpeg quiet on stderr (level AV_LOG_QUIET) and records its error messages so they can
// go into our exceptions instead. Runs once per process; whoever wants FFmpeg's own output (a
// verbose mode) calls this first and then av_log_set_level().
inline void install_av_log_capture() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(detail::capture_av_log);
  });
}

// Returns and clears what FFmpeg logged at error level on this thread ("" if nothing).
inline std::string take_av_log_errors() {
  std::string errors = std::move(detail::av_logged_errors);
  detail::av_logged_errors.clear();
  detail::av_log_line_open = false;
  return errors;
}

// "<av_strerror text>" plus, when FFmpeg logged something, " (<its messages>)".
inline std::string describe_av_error(int error_code) {
  std::string text = av_error_text(error_code);
  if (std::string logged = take_av_log_errors(); !logged.empty()) text += " (" + logged + ")";
  return text;
}

}  // namespace mattecast
