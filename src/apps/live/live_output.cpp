// Output stage of the live job (see live_output.h).
#include "live/live_output.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "live/live_source.h"
#include "live/v4l2_device.h"

namespace mattecast {

namespace {

const char* ffplay_name(RawFormat format) {
  switch (format) {
    case RawFormat::rgb24:
      return "rgb24";
    case RawFormat::yuyv:
      return "yuyv422";
    case RawFormat::yu12:
      return "yuv420p";
  }
  return "rgb24";
}

class LoopbackSink final : public FrameSink {
 public:
  LoopbackSink(const std::string& path, const LoopbackOptions& options) : device_(path, options) {}
  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t) override {
    device_.write({pixels, device_.width(), device_.height(), stride});
  }
  void finish() override {}
  const std::string& path() const override { return device_.path(); }
  std::string description() const override { return "virtual webcam " + device_.description(); }
  int64_t frames_written() const override { return device_.frames_written(); }

 private:
  V4l2LoopbackOutput device_;
};

class NullSink final : public FrameSink {
 public:
  void write(const uint8_t*, ptrdiff_t, int64_t) override { ++frames_; }
  void finish() override {}
  const std::string& path() const override { return path_; }
  std::string description() const override { return "null (frames discarded)"; }
  int64_t frames_written() const override { return frames_; }

 private:
  const std::string path_ = "null";
  int64_t frames_ = 0;
};

}  // namespace

// Raw frames, back to back, to a file descriptor (stdout).
class RawStdoutSink final : public FrameSink {
 public:
  RawStdoutSink(int fd, RawFormat format, YuvMatrix matrix, int width, int height,
                const std::atomic<bool>* abort)
      : fd_(fd), format_(format), matrix_(matrix), width_(width), height_(height), abort_(abort) {
    if (::isatty(fd))
      throw Error("--output -: stdout is a terminal; pipe it into a player, e.g. | ffplay ...");
    if (format_ == RawFormat::yuyv) buffer_.resize(yuyv_frame_bytes(width, height));
    if (format_ == RawFormat::yu12) buffer_.resize(i420_layout(width, height).size);
  }

  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t) override {
    if (closed_) return;
    const RgbImage frame{pixels, width_, height_, stride};
    switch (format_) {
      case RawFormat::rgb24:
        if (frame.stride == ptrdiff_t(width_) * 3) {
          write_all(frame.data, size_t(frame.stride) * size_t(height_));
        } else {
          for (int y = 0; y < height_ && !closed_; ++y)
            write_all(frame.data + frame.stride * y, size_t(width_) * 3);
        }
        break;
      case RawFormat::yuyv:
        rgb_to_yuyv(frame, buffer_.data(), yuyv_row_bytes(width_), matrix_);
        write_all(buffer_.data(), buffer_.size());
        break;
      case RawFormat::yu12:
        rgb_to_i420(frame, buffer_.data(), matrix_);
        write_all(buffer_.data(), buffer_.size());
        break;
    }
    ++frames_;
  }
  void finish() override {}
  const std::string& path() const override { return path_; }
  std::string description() const override {
    return fmt::format("stdout, raw {} {}x{}{}", ffplay_name(format_), width_, height_,
                       format_ == RawFormat::rgb24 ? "" : fmt::format(" {}", to_string(matrix_)));
  }
  int64_t frames_written() const override { return frames_; }
  bool reader_gone() const { return closed_; }

 private:
  // Whole frames only: a write interrupted by Ctrl-C carries on (the reader is normally reading);
  // a second interruption after the abort gives up (a reader that stopped reading).
  void write_all(const uint8_t* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n > 0) {
        data += n;
        size -= size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        if (abort_ && abort_->load() && ++interrupts_after_abort_ >= 2) {
          closed_ = true;
          return;
        }
        continue;
      }
      if (n < 0 && errno == EPIPE) {
        closed_ = true;
        return;
      }
      throw Error(fmt::format("--output -: cannot write to stdout: {}",
                              n < 0 ? std::strerror(errno) : "nothing written"));
    }
  }

  const std::string path_ = "-";
  int fd_;
  RawFormat format_;
  YuvMatrix matrix_;
  int width_, height_;
  const std::atomic<bool>* abort_;
  std::vector<uint8_t> buffer_;
  bool closed_ = false;
  int interrupts_after_abort_ = 0;
  int64_t frames_ = 0;
};

RawFormat parse_output_format(const std::string& text, bool for_loopback) {
  if (text == "auto" || text.empty()) return for_loopback ? RawFormat::yuyv : RawFormat::rgb24;
  if (text == "yuyv") return RawFormat::yuyv;
  if (text == "yu12" || text == "i420") return RawFormat::yu12;
  if (text == "rgb24") {
    if (for_loopback)
      throw Error(
          "--output-format rgb24: a virtual webcam takes yuyv or yu12 (rgb24 is for "
          "--output -)");
    return RawFormat::rgb24;
  }
  throw Error(fmt::format("--output-format '{}': expected auto, rgb24, yuyv or yu12", text));
}

std::optional<YuvMatrix> parse_output_matrix(const std::string& text) {
  if (text == "auto" || text.empty()) return std::nullopt;
  if (text == "bt601" || text == "601") return YuvMatrix::bt601;
  if (text == "bt709" || text == "709") return YuvMatrix::bt709;
  throw Error(fmt::format("--output-matrix '{}': expected auto, bt601 or bt709", text));
}

LiveOutputs::LiveOutputs(const LiveJobOptions& o, int width, int height, double fps,
                         const std::atomic<bool>* abort, const Log& info, const Log& warn)
    : warn_(warn) {
  const std::optional<YuvMatrix> matrix = parse_output_matrix(o.output_matrix);
  for (const std::string& path : o.outputs) {
    Output output;
    output.path = path;
    if (path == "-") {
      const RawFormat format = parse_output_format(o.output_format, false);
      auto sink = std::make_unique<RawStdoutSink>(
          o.stdout_fd, format, matrix.value_or(default_yuv_matrix(width, height)), width, height,
          abort);
      stdout_ = sink.get();
      output.sink = std::move(sink);
      info(
          fmt::format("output: {}; watch it with: ffplay -f rawvideo -pixel_format {} "
                      "-video_size {}x{} -framerate {} -i -",
                      output.sink->description(), ffplay_name(format), width, height,
                      format_fps(fps > 0 ? fps : 30)));
    } else if (path == "null") {
      output.sink = std::make_unique<NullSink>();
      info("output: " + output.sink->description());
    } else if (is_camera_input(path)) {
      LoopbackOptions loopback;
      loopback.width = width;
      loopback.height = height;
      loopback.pixel_format = parse_output_format(o.output_format, true) == RawFormat::yu12
                                  ? LoopbackPixelFormat::yu12
                                  : LoopbackPixelFormat::yuyv;
      loopback.fps = fps > 0 ? fps : 30;
      loopback.matrix = matrix;
      output.sink = std::make_unique<LoopbackSink>(path, loopback);
      info("output: " + output.sink->description());
    } else {
      SinkOptions recording;
      recording.width = width;
      recording.height = height;
      recording.layout = PixelLayout::rgb24;
      recording.time_base = {1, 90000};
      recording.frame_rate =
          fps > 0 ? Rational{int(std::lround(fps * 1000)), 1000} : Rational{30, 1};
      recording.preset = "veryfast";  // live: cheap to encode, on the processing thread
      recording.threads = 1;          // the network's OpenMP team has the cores
      recording.overwrite = o.overwrite;
      recording.warn = warn;
      output.sink = open_frame_sink(path, recording);
      output.recording = true;
      info("output: recording " + describe(output));
    }
    outputs_.push_back(std::move(output));
  }
}

LiveOutputs::~LiveOutputs() = default;

std::string LiveOutputs::describe(const Output& output) const {
  if (!output.recording) return output.sink->description();
  return fmt::format("{} ({}, real capture times)", output.sink->path(),
                     output.sink->description());
}

bool LiveOutputs::write(const RgbImage& frame, int64_t capture_ns) {
  if (frames_ == 0) first_capture_ns_ = capture_ns;
  // ns -> 1/90000 s, strictly increasing
  int64_t pts = (capture_ns - first_capture_ns_) * 9 / 100000;
  if (frames_ > 0 && pts <= last_pts_) pts = last_pts_ + 1;
  for (Output& output : outputs_) output.sink->write(frame.data, frame.stride, pts);
  last_pts_ = pts;
  ++frames_;
  return !(stdout_ && stdout_->reader_gone());
}

std::vector<std::string> LiveOutputs::finish(bool rethrow) {
  std::vector<std::string> written;
  for (Output& output : outputs_) {
    try {
      if (output.recording && output.sink->frames_written() == 0) {
        output.sink.reset();  // nothing recorded: nothing appears
        warn_(fmt::format("{}: no frame was recorded; nothing written", output.path));
        continue;
      }
      output.sink->finish();
      written.push_back(describe(output));
    } catch (const std::exception&) {
      if (rethrow) throw;
    }
  }
  outputs_.clear();
  stdout_ = nullptr;
  return written;
}

}  // namespace mattecast
