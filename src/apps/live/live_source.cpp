#include "live/live_source.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stop_token>
#include <thread>
#include <utility>

#include "live/v4l2_device.h"
#include "video/video_reader.h"

namespace mattecast {

namespace {

constexpr int64_t kMaxLagNs = 250'000'000;  // a file source behind schedule by more re-bases
constexpr auto kCameraWait = std::chrono::milliseconds(50);

// The capture thread's common part: the stop / finished state and the hand-off on exit.
class SourceBase : public LiveSource {
 public:
  SourceBase(LatestFrame& latest, Clock& clock) : latest_(latest), clock_(clock) {}

  const LiveSourceInfo& info() const override { return info_; }
  bool finished() const override { return finished_.load(); }
  int64_t corrupt_frames() const override { return corrupt_.load(); }

  void stop() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    latest_.close();
  }

 protected:
  // Runs body(stop_token) on the capture thread; an exception closes the LatestFrame with its
  // message, a normal return closes it cleanly.
  template <typename Body>
  void start(Body body) {
    thread_ = std::jthread([this, body](std::stop_token stop) mutable {
      try {
        body(stop);
        latest_.close();
      } catch (const std::exception& error) {
        latest_.close(error.what());
      } catch (...) {
        latest_.close(fmt::format("{}: unknown error in the capture thread", info_.description));
      }
      finished_.store(true);
    });
  }

  LatestFrame& latest_;
  Clock& clock_;
  LiveSourceInfo info_;
  std::atomic<int64_t> corrupt_{0};

 private:
  std::atomic<bool> finished_{false};
  std::jthread thread_;
};

class CameraSource final : public SourceBase {
 public:
  CameraSource(std::unique_ptr<V4l2Capture> capture, LatestFrame& latest, Clock& clock)
      : SourceBase(latest, clock), capture_(std::move(capture)) {
    const CaptureFormat& format = capture_->format();
    info_.camera = true;
    info_.width = format.width;
    info_.height = format.height;
    info_.fps = format.interval.fps();
    info_.description = capture_->description();
    start([this](std::stop_token stop) { run(stop); });
  }
  ~CameraSource() override { stop(); }

 private:
  void run(const std::stop_token& stop) {
    CapturedImage image;
    int64_t first_timestamp_ns = -1;
    int64_t first_clock_ns = 0;
    while (!stop.stop_requested()) {
      const bool got = capture_->read(image, kCameraWait);
      corrupt_.store(capture_->corrupt_frames());
      if (!got) continue;
      const int64_t now = clock_.now_ns();
      LiveFrame& out = latest_.producer_frame();
      // The pixels change hands without a copy: the spare frame's old buffer becomes the next
      // capture buffer.
      std::swap(out.rgb, image.rgb);
      out.width = image.width;
      out.height = image.height;
      out.stride = image.stride;
      out.capture_ns = now;
      // Camera time since the first frame: the driver's timestamps where it has them.
      if (first_timestamp_ns < 0) {
        first_timestamp_ns = image.timestamp_ns;
        first_clock_ns = now;
      }
      out.source_seconds = image.timestamp_ns > 0 && first_timestamp_ns > 0
                               ? double(image.timestamp_ns - first_timestamp_ns) * 1e-9
                               : double(now - first_clock_ns) * 1e-9;
      latest_.publish();
    }
  }

  std::unique_ptr<V4l2Capture> capture_;
};

std::string display_name(const std::string& input) {
  if (input.find("://") != std::string::npos) return "stream " + input;
  return "file " + std::filesystem::path(input).filename().string();
}

class FileSource final : public SourceBase {
 public:
  FileSource(const LiveSourceOptions& options, LatestFrame& latest, Clock& clock)
      : SourceBase(latest, clock),
        path_(options.input),
        reader_options_{.threads = options.decoder_threads, .keep_alpha = false},
        loop_(options.loop),
        reader_(std::make_unique<VideoReader>(path_, reader_options_)) {
    const VideoInfo& video = reader_->info();
    const Rational rate = video.frame_rate.known() ? video.frame_rate : video.nominal_frame_rate;
    info_.camera = false;
    info_.width = video.width;
    info_.height = video.height;
    info_.fps = rate.known() ? rate.value() : 0.0;
    info_.description = fmt::format("{} {}x{}", display_name(path_), info_.width, info_.height);
    if (info_.fps > 0) info_.description += fmt::format(" {} fps", format_fps(info_.fps));
    if (loop_) info_.description += " (looping)";
    frame_duration_ = info_.fps > 0 ? 1.0 / info_.fps : 0.0;
    start([this](std::stop_token stop) { run(stop); });
  }
  ~FileSource() override { stop(); }

 private:
  void run(const std::stop_token& stop) {
    int64_t start_ns = clock_.now_ns();
    bool have_first = false;
    double first_source = 0;  // source seconds of the very first frame
    double shift = 0;         // added to the pts seconds of this pass
    bool new_pass = false;    // the next frame is the first of a restarted pass
    double last_source = 0;
    int64_t frames = 0;  // in all passes
    int64_t frames_this_pass = 0;
    VideoFrame frame;
    while (!stop.stop_requested()) {
      if (!reader_->read(frame)) {
        corrupt_.store(corrupt_before_pass_ + int64_t(reader_->corrupt_packets().size()));
        if (!loop_ || frames_this_pass == 0) return;  // end of stream (closed by start())
        corrupt_before_pass_ += int64_t(reader_->corrupt_packets().size());
        reader_.reset();  // one decoder at a time
        reader_ = std::make_unique<VideoReader>(path_, reader_options_);
        new_pass = true;
        frames_this_pass = 0;
        continue;
      }
      corrupt_.store(corrupt_before_pass_ + int64_t(reader_->corrupt_packets().size()));
      const double pts_seconds = frame.seconds();
      if (new_pass) {
        // Continue one frame duration after the last frame of the previous pass.
        const double duration = frame_duration_ > 0 ? frame_duration_
                                : frames > 1 ? (last_source - first_source) / double(frames - 1)
                                             : 1.0 / 30.0;
        shift = last_source + duration - pts_seconds;
        new_pass = false;
      }
      const double source = pts_seconds + shift;
      if (!have_first) {
        first_source = source;
        have_first = true;
      }
      int64_t deadline = start_ns + int64_t(std::llround((source - first_source) * 1e9));
      const int64_t now = clock_.now_ns();
      if (now > deadline + kMaxLagNs) {
        // Behind schedule (slow decoding, a stall): play on from now instead of bursting.
        start_ns += now - deadline;
        deadline = now;
      }
      if (now < deadline && !clock_.sleep_until(deadline, stop)) return;

      LiveFrame& out = latest_.producer_frame();
      out.resize(frame.width, frame.height);
      const size_t row = size_t(frame.width) * 3;
      for (int y = 0; y < frame.height; ++y) {
        std::memcpy(out.rgb.data() + y * out.stride, frame.data + y * frame.stride, row);
      }
      out.capture_ns = clock_.now_ns();
      out.source_seconds = source;
      latest_.publish();
      last_source = source;
      ++frames;
      ++frames_this_pass;
    }
  }

  std::string path_;
  VideoReader::Options reader_options_;
  bool loop_;
  std::unique_ptr<VideoReader> reader_;
  double frame_duration_ = 0;
  int64_t corrupt_before_pass_ = 0;
};

}  // namespace

bool is_camera_input(const std::string& input) {
  if (input.rfind("/dev/video", 0) == 0) return true;
  struct stat st {};
  return ::stat(input.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

std::unique_ptr<LiveSource> open_live_source(const LiveSourceOptions& options, LatestFrame& latest,
                                             Clock& clock) {
  if (options.input.empty())
    throw Error("no live input given (a camera such as /dev/video0, or a video file)");
  if (is_camera_input(options.input)) {
    const CaptureRequest request{options.width, options.height, options.fps,
                                 parse_pixel_format(options.pixel_format)};
    return std::make_unique<CameraSource>(std::make_unique<V4l2Capture>(options.input, request),
                                          latest, clock);
  }
  return std::make_unique<FileSource>(options, latest, clock);
}

}  // namespace mattecast
