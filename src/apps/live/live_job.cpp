#include "live/live_job.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include <fmt/format.h>

#include "live/pixel_convert.h"
#include "live/v4l2_device.h"
#include "compose/background.h"
#include "compose/composite.h"
#include "compose/matte_filter.h"
#include "io/atomic_file.h"
#include "live/live_stats.h"
#include "live/preview_server.h"
#include "video/frame_sink.h"
#include "video/video_reader.h"

namespace mattecast {

// ---- RatioController -------------------------------------------------------------------------

namespace {
constexpr size_t kRatioRing = 4096;  // samples: a 2 s window at up to 2000 fps
constexpr int kMaxLevels = 64;
}  // namespace

RatioController::RatioController(const RatioControllerOptions& options) : options_(options) {
  const auto& o = options_;
  if (!(o.target_fps > 0 && o.target_fps <= 1000))
    throw Error(fmt::format("target fps {}: expected a value in (0, 1000]", o.target_fps));
  if (!(o.max_ratio > 0 && o.max_ratio <= 1 && o.min_ratio > 0))
    throw Error(fmt::format("downsample ratio range {}..{} is not valid", o.min_ratio, o.max_ratio));
  if (!(o.step > 0 && o.step < 1)) throw Error(fmt::format("ratio step {}: expected (0, 1)", o.step));
  if (!(o.window_s > 0)) throw Error("ratio controller: the window must be positive");
  while (max_level_ < kMaxLevels && ratio_for(max_level_ + 1) >= o.min_ratio * (1 - 1e-6f))
    ++max_level_;
  ring_.resize(kRatioRing);
  blocked_until_ns_.assign(size_t(max_level_) + 1, std::numeric_limits<int64_t>::min());
  backoff_s_.assign(size_t(max_level_) + 1, o.backoff_s);
}

float RatioController::ratio_for(int level) const {
  return float(double(options_.max_ratio) * std::pow(double(options_.step), level));
}

void RatioController::change_level(int level, int64_t now_ns, std::string reason) {
  level_ = level;
  reason_ = std::move(reason);
  ++changes_;
  size_ = 0;
  head_ = 0;
  headroom_since_ns_ = -1;
  settle_ = options_.settle_frames;
  window_start_ns_ = settle_ > 0 ? -1 : now_ns;
}

bool RatioController::frame(int64_t now_ns, double processing_ms, int arrived) {
  if (settle_ > 0) {
    if (--settle_ == 0) window_start_ns_ = now_ns;
    return false;
  }
  if (window_start_ns_ < 0) window_start_ns_ = now_ns;
  ring_[head_] = {now_ns, processing_ms, std::max(arrived, 0)};
  head_ = (head_ + 1) % ring_.size();
  size_ = std::min(size_ + 1, ring_.size());

  const auto window_ns = int64_t(options_.window_s * 1e9);
  if (now_ns - window_start_ns_ < window_ns) return false;  // not a full window yet

  int64_t outputs = 0, inputs = 0;
  double processing = 0;
  for (size_t age = 0; age < size_; ++age) {
    const Sample& s = ring_[(head_ + ring_.size() - 1 - age) % ring_.size()];
    if (s.t <= now_ns - window_ns) break;
    ++outputs;
    inputs += s.arrived;
    processing += s.processing_ms;
  }
  output_fps_ = double(outputs) / options_.window_s;
  input_fps_ = double(inputs) / options_.window_s;
  processing_ms_ = outputs > 0 ? processing / double(outputs) : 0.0;

  // The rate to hold: the target, or the input's when that is clearly lower.
  const bool input_limited = input_fps_ < options_.target_fps * (1 - options_.tolerance);
  const double goal = input_limited ? input_fps_ : options_.target_fps;
  if (level_ < max_level_ && output_fps_ < (1 - options_.tolerance) * goal) {
    // This level is too slow: no raise back to it for a while, longer each time it fails.
    auto& backoff = backoff_s_[size_t(level_)];
    blocked_until_ns_[size_t(level_)] = now_ns + int64_t(backoff * 1e9);
    backoff = std::min(backoff * 2, options_.max_backoff_s);
    change_level(level_ + 1, now_ns,
                 fmt::format("output {:.1f} fps < {} {:.4g} fps", output_fps_,
                             input_limited ? "input" : "target", goal));
    return true;
  }
  const double budget_ms = 1000.0 / options_.target_fps * (1 - options_.headroom);
  if (level_ > 0 && processing_ms_ < budget_ms) {
    if (headroom_since_ns_ < 0) headroom_since_ns_ = now_ns;
    if (now_ns - headroom_since_ns_ >= int64_t(options_.raise_after_s * 1e9) &&
        now_ns >= blocked_until_ns_[size_t(level_ - 1)]) {
      change_level(level_ - 1, now_ns,
                   fmt::format("processing {:.1f} ms per frame leaves over {:.0f}% headroom at {:.4g} fps",
                               processing_ms_, options_.headroom * 100, options_.target_fps));
      return true;
    }
  } else {
    headroom_since_ns_ = -1;
  }
  return false;
}

// ---- outputs ---------------------------------------------------------------------------------

namespace {

using json = nlohmann::ordered_json;

enum class RawFormat { rgb24, yuyv, yu12 };

const char* ffplay_name(RawFormat format) {
  switch (format) {
    case RawFormat::rgb24: return "rgb24";
    case RawFormat::yuyv: return "yuyv422";
    case RawFormat::yu12: return "yuv420p";
  }
  return "rgb24";
}

// One destination of the composited frames.
class LiveOutput {
 public:
  virtual ~LiveOutput() = default;
  // `frame` is the composite (packed RGB24); capture_ns its capture time.
  virtual void write(const RgbImage& frame, int64_t capture_ns) = 0;
  // Ends the output; false when there was nothing to finish (a recording without frames).
  virtual bool finish() { return true; }
  virtual std::string description() const = 0;
  virtual bool closed() const { return false; }  // the reader went away (stdout)
};

class LoopbackOutput final : public LiveOutput {
 public:
  LoopbackOutput(const std::string& path, const LoopbackOptions& options) : device_(path, options) {}
  void write(const RgbImage& frame, int64_t) override { device_.write(frame); }
  std::string description() const override { return "virtual webcam " + device_.description(); }

 private:
  V4l2LoopbackOutput device_;
};

class NullOutput final : public LiveOutput {
 public:
  void write(const RgbImage&, int64_t) override {}
  std::string description() const override { return "null (frames discarded)"; }
};

// Raw frames, back to back, to a file descriptor (stdout).
class RawOutput final : public LiveOutput {
 public:
  RawOutput(int fd, RawFormat format, YuvMatrix matrix, int width, int height,
            const std::atomic<bool>* abort)
      : fd_(fd), format_(format), matrix_(matrix), width_(width), height_(height), abort_(abort) {
    if (::isatty(fd))
      throw Error("--output -: stdout is a terminal; pipe it into a player, e.g. | ffplay ...");
    if (format_ == RawFormat::yuyv) buffer_.resize(yuyv_frame_bytes(width, height));
    if (format_ == RawFormat::yu12) buffer_.resize(i420_layout(width, height).size);
  }

  void write(const RgbImage& frame, int64_t) override {
    if (closed_) return;
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
  }
  std::string description() const override {
    return fmt::format("stdout, raw {} {}x{}{}", ffplay_name(format_), width_, height_,
                       format_ == RawFormat::rgb24 ? "" : fmt::format(" {}", to_string(matrix_)));
  }
  bool closed() const override { return closed_; }

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

  int fd_;
  RawFormat format_;
  YuvMatrix matrix_;
  int width_, height_;
  const std::atomic<bool>* abort_;
  std::vector<uint8_t> buffer_;
  bool closed_ = false;
  int interrupts_after_abort_ = 0;
};

// A recording: timestamps are the real capture times (90 kHz), from the first frame recorded.
class RecordingOutput final : public LiveOutput {
 public:
  RecordingOutput(const std::string& path, int width, int height, double fps, bool overwrite,
                  std::function<void(const std::string&)> warn) {
    SinkOptions options;
    options.width = width;
    options.height = height;
    options.layout = PixelLayout::rgb24;
    options.time_base = {1, 90000};
    options.frame_rate = fps > 0 ? Rational{int(std::lround(fps * 1000)), 1000} : Rational{30, 1};
    options.preset = "veryfast";  // live: cheap to encode, on the processing thread
    options.threads = 1;          // the network's OpenMP team has the cores
    options.overwrite = overwrite;
    options.warn = std::move(warn);
    sink_ = open_frame_sink(path, options);
  }
  void write(const RgbImage& frame, int64_t capture_ns) override {
    if (frames_ == 0) first_ns_ = capture_ns;
    // ns -> 1/90000 s, strictly increasing
    int64_t pts = (capture_ns - first_ns_) * 9 / 100000;
    if (frames_ > 0 && pts <= last_pts_) pts = last_pts_ + 1;
    sink_->write(frame.data, frame.stride, pts);
    last_pts_ = pts;
    ++frames_;
  }
  bool finish() override {
    if (frames_ == 0) {
      sink_.reset();  // nothing recorded: nothing appears
      return false;
    }
    sink_->finish();
    return true;
  }
  std::string description() const override {
    return fmt::format("{} ({}, real capture times)", sink_ ? sink_->path() : "",
                       sink_ ? sink_->description() : "");
  }

 private:
  std::unique_ptr<FrameSink> sink_;
  int64_t frames_ = 0;
  int64_t first_ns_ = 0;
  int64_t last_pts_ = 0;
};

// ---- option checks ----

RawFormat parse_output_format(const std::string& text, bool for_loopback) {
  if (text == "auto" || text.empty()) return for_loopback ? RawFormat::yuyv : RawFormat::rgb24;
  if (text == "yuyv") return RawFormat::yuyv;
  if (text == "yu12" || text == "i420") return RawFormat::yu12;
  if (text == "rgb24") {
    if (for_loopback)
      throw Error("--output-format rgb24: a virtual webcam takes yuyv or yu12 (rgb24 is for --output -)");
    return RawFormat::rgb24;
  }
  throw Error(fmt::format("--output-format '{}': expected auto, rgb24, yuyv or yu12", text));
}

std::optional<YuvMatrix> parse_matrix(const std::string& text) {
  if (text == "auto" || text.empty()) return std::nullopt;
  if (text == "bt601" || text == "601") return YuvMatrix::bt601;
  if (text == "bt709" || text == "709") return YuvMatrix::bt709;
  throw Error(fmt::format("--output-matrix '{}': expected auto, bt601 or bt709", text));
}

}  // namespace

void check_live_job_options(const LiveJobOptions& o) {
  if (o.outputs.empty() && o.preview_port < 0)
    throw Error(
        "nothing to output: give --output (a v4l2loopback device such as /dev/video4, a video "
        "file, - for stdout, or null) and/or --preview-port PORT");
  if (o.input.empty()) throw Error("--input: no input given (a camera such as /dev/video0, or a video file)");
  if (o.preview_port > 65535) throw Error(fmt::format("--preview-port {}: expected 0..65535", o.preview_port));
  if (!(o.target_fps >= 0 && o.target_fps <= 1000))
    throw Error(fmt::format("--target-fps {}: expected a value in (0, 1000]", o.target_fps));
  if (!(o.duration_s >= 0 && std::isfinite(o.duration_s)))
    throw Error(fmt::format("--duration {}: expected a number of seconds >= 0", o.duration_s));
  if (!(o.fps >= 0 && o.fps <= 1000)) throw Error(fmt::format("--fps {}: expected 0 < fps <= 1000", o.fps));
  if (o.width < 0 || o.height < 0 || o.width > 16384 || o.height > 16384)
    throw Error(fmt::format("--size {}x{}: not a valid frame size", o.width, o.height));
  int stdout_count = 0;
  for (const std::string& output : o.outputs) {
    if (output.empty()) throw Error("--output: empty path");
    if (output == "-") ++stdout_count;
    if (output == o.input) throw Error(fmt::format("--output {}: is also the input", output));
  }
  if (stdout_count > 1) throw Error("--output -: given more than once");
  bool has_loopback = false, has_raw = false;
  for (const std::string& output : o.outputs) {
    has_loopback = has_loopback || (output != "-" && output != "null" && is_camera_input(output));
    has_raw = has_raw || output == "-";
  }
  if (has_loopback) parse_output_format(o.output_format, true);
  if (has_raw || !has_loopback) parse_output_format(o.output_format, false);
  parse_matrix(o.output_matrix);
  validate_live_settings(o.settings);
}

namespace {

void mirror_rows(const RgbImage& src, uint8_t* dst, ptrdiff_t dst_stride) {
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* in = src.data + src.stride * y;
    uint8_t* out = dst + dst_stride * y + ptrdiff_t(src.width - 1) * 3;
    for (int x = 0; x < src.width; ++x, in += 3, out -= 3) {
      out[0] = in[0];
      out[1] = in[1];
      out[2] = in[2];
    }
  }
}

void write_text_atomically(AtomicFile& file, const std::string& text) {
  {
    std::ofstream out(file.temp_path(), std::ios::binary | std::ios::trunc);
    out << text << '\n';
    out.flush();
    if (!out) throw Error(fmt::format("cannot write '{}'", file.path()));
  }
  file.commit();
}

// Shared between the processing thread and the preview server's thread.
struct SharedFigures {
  std::atomic<float> ratio{0};
  std::atomic<int> ratio_changes{0};
};

}  // namespace

// ---- the job ---------------------------------------------------------------------------------

LiveJobReport run_live_job(std::shared_ptr<const Model> model, const LiveJobOptions& o,
                           const LiveJobCallbacks& callbacks) {
  check_live_job_options(o);
  auto info = [&](const std::string& line) {
    if (callbacks.info) callbacks.info(line);
  };
  auto warn = [&](const std::string& line) {
    if (callbacks.warn) callbacks.warn(line);
  };
  auto aborted = [&] { return callbacks.abort && callbacks.abort->load(); };

  // Checked first: the stats file's folder must be writable before anything expensive.
  std::unique_ptr<AtomicFile> stats_file;
  if (!o.stats_json_path.empty()) stats_file = std::make_unique<AtomicFile>(o.stats_json_path);

  SteadyClock clock;
  LatestFrame latest;
  LiveStatsSources stats_sources;
  stats_sources.now_ns = [&clock] { return clock.now_ns(); };  // the clock of capture_ns
  LiveStats stats(LiveStats::default_stages(), stats_sources);
  SharedFigures shared;

  LiveSourceOptions source_options;
  source_options.input = o.input;
  source_options.width = o.width;
  source_options.height = o.height;
  source_options.fps = o.fps;
  source_options.pixel_format = o.pixel_format;
  source_options.loop = o.loop;
  source_options.decoder_threads = 1;  // the network's OpenMP team has the cores
  auto open_source = [&] {
    return o.open_source ? o.open_source(source_options, latest, clock)
                         : open_live_source(source_options, latest, clock);
  };

  // The frame size. A camera is opened now (its negotiated size; it starts streaming and the
  // frames until processing starts are dropped, as live frames are). A file is only probed: it
  // starts playing once everything is ready, so none of its frames are lost to the set-up.
  std::unique_ptr<LiveSource> source;
  int width = 0, height = 0;
  double fps = 0;
  const bool camera_like = o.open_source || is_camera_input(o.input);
  if (camera_like) {
    source = open_source();
    width = source->info().width;
    height = source->info().height;
    fps = source->info().fps > 0 ? source->info().fps : o.fps;
  } else {
    VideoReader probe(o.input, {.threads = 1});
    const VideoInfo& video = probe.info();
    width = video.width;
    height = video.height;
    const Rational rate = video.frame_rate.known() ? video.frame_rate : video.nominal_frame_rate;
    fps = rate.known() ? rate.value() : 0.0;
  }
  if (width < 1 || height < 1) throw Error(fmt::format("{}: no frame size", o.input));

  // Outputs, before the model runs: a bad one is reported at once.
  const std::optional<YuvMatrix> matrix = parse_matrix(o.output_matrix);
  std::vector<std::unique_ptr<LiveOutput>> outputs;
  std::vector<std::string> output_names;
  for (const std::string& path : o.outputs) {
    if (path == "-") {
      const RawFormat format = parse_output_format(o.output_format, false);
      outputs.push_back(std::make_unique<RawOutput>(
          o.stdout_fd, format, matrix.value_or(default_yuv_matrix(width, height)), width, height,
          callbacks.abort));
      info(fmt::format("output: {}; watch it with: ffplay -f rawvideo -pixel_format {} "
                       "-video_size {}x{} -framerate {} -i -",
                       outputs.back()->description(), ffplay_name(format), width, height,
                       format_fps(fps > 0 ? fps : 30)));
    } else if (path == "null") {
      outputs.push_back(std::make_unique<NullOutput>());
      info("output: " + outputs.back()->description());
    } else if (is_camera_input(path)) {
      LoopbackOptions loopback;
      loopback.width = width;
      loopback.height = height;
      loopback.pixel_format = parse_output_format(o.output_format, true) == RawFormat::yu12
                                  ? LoopbackPixelFormat::yu12
                                  : LoopbackPixelFormat::yuyv;
      loopback.fps = fps > 0 ? fps : 30;
      loopback.matrix = matrix;
      outputs.push_back(std::make_unique<LoopbackOutput>(path, loopback));
      info("output: " + outputs.back()->description());
    } else {
      outputs.push_back(std::make_unique<RecordingOutput>(path, width, height, fps, o.overwrite, warn));
      info("output: recording " + outputs.back()->description());
    }
    output_names.push_back(path);
  }

  // Settings, changed live through the preview page; backgrounds are checked by parsing them.
  SettingsStore store(o.settings, [](const std::string& text) { (void)parse_background(text); });
  std::unique_ptr<PreviewServer> preview;
  auto stats_json = [&] {
    json j = json::parse(stats.to_json());
    j["downsample_ratio"] = std::round(double(shared.ratio.load()) * 10000) / 10000;
    j["ratio_changes"] = shared.ratio_changes.load();
    if (o.target_fps > 0) j["target_fps"] = o.target_fps;
    return j;
  };
  if (o.preview_port >= 0) {
    PreviewServerOptions server_options;
    server_options.bind_address = o.preview_bind;
    server_options.port = o.preview_port;
    preview = std::make_unique<PreviewServer>(store, [&] { return stats_json().dump(); },
                                              server_options);
    info("preview: " + preview->url());
    if (o.preview_bind != "127.0.0.1" && o.preview_bind != "::1" && o.preview_bind != "localhost")
      warn(fmt::format("the preview and its controls are reachable on {} by anyone who can reach "
                       "this machine (--preview-bind)", o.preview_bind));
  }

  // The network, warmed on a grey frame of the input's size so that the first real frame does
  // not wait for the kernels to be planned.
  SessionParams params = o.session;
  params.alpha_only = true;
  Session session(model, params);
  Matte matte;
  std::vector<uint8_t> composite(size_t(width) * size_t(height) * 3, 128);
  session.process({composite.data(), width, height, ptrdiff_t(width) * 3}, matte);
  session.reset();
  std::unique_ptr<RatioController> controller;
  if (o.target_fps > 0) {
    RatioControllerOptions control;
    control.target_fps = o.target_fps;
    control.max_ratio = session.downsample_ratio_for(width, height);
    control.min_ratio = std::min(0.15f, control.max_ratio);
    controller = std::make_unique<RatioController>(control);
  }
  shared.ratio.store(session.downsample_ratio_for(width, height));
  info(fmt::format("network: {} at ratio {:.3g} ({}x{}), {}{}, alpha only",
                   std::filesystem::path(model->info().path).filename().string(),
                   shared.ratio.load(), int(std::lround(width * shared.ratio.load())),
                   int(std::lround(height * shared.ratio.load())), to_string(params.precision),
                   params.threads > 0 ? fmt::format(", {} thread{}", params.threads, params.threads > 1 ? "s" : "")
                                     : ""));

  // Processing state, sized once.
  LiveSettings settings;
  uint64_t seen_version = 0;
  std::unique_ptr<Background> background;
  MatteFilter filter;
  MatteFilterParams filter_params;
  std::vector<uint8_t> mirrored(size_t(width) * size_t(height) * 3);
  const ptrdiff_t packed_stride = ptrdiff_t(width) * 3;
  auto apply_settings = [&](const LiveSettings& next, bool first) {
    if (first || next.background_spec() != settings.background_spec()) {
      try {
        background = std::make_unique<Background>(parse_background(next.background_spec()), width,
                                                  height, /*threads=*/1);
      } catch (const Error& e) {
        if (first) throw;
        warn(fmt::format("background '{}': {}; keeping the previous one", next.background_spec(),
                         e.what()));
      }
    }
    if (!first && next.mirror != settings.mirror) {
      session.reset();  // the recurrent state is spatial: a flipped picture is a new shot
      filter.reset();
    }
    filter_params = next.matte_filter();
    settings = next;
  };
  {
    LiveSettings initial;
    store.get_if_changed(seen_version, initial);
    apply_settings(initial, true);
  }

  if (!source) source = open_source();
  info("input: " + source->info().description);

  LiveJobReport report;
  report.input = source->info().description;
  report.width = width;
  report.height = height;

  auto finish_outputs = [&](bool rethrow) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      try {
        if (outputs[i]->finish()) {
          report.outputs.push_back(outputs[i]->description());
        } else {
          warn(fmt::format("{}: no frame was recorded; nothing written", output_names[i]));
        }
      } catch (const std::exception&) {
        if (rethrow) throw;
      }
    }
    outputs.clear();
  };
  auto write_stats = [&] {
    json j = stats_json();
    const LatestFrameCounters counters = latest.counters();
    // The top-level figures leave out the first warmup_frames output frames (kernels, caches,
    // encoder start-up); "totals" cover the whole run.
    j["warmup_frames"] = std::min<int64_t>(std::max(o.warmup_frames, 0), report.output_frames);
    j["warm"] = report.output_frames >= std::max(o.warmup_frames, 1);
    j["totals"] = {{"source_frames", counters.published},
                   {"output_frames", report.output_frames},
                   {"dropped", counters.published - counters.taken},
                   {"skipped", report.skipped},
                   {"seconds", std::round(report.seconds * 1000) / 1000}};
    j["input"] = report.input;
    j["size"] = fmt::format("{}x{}", width, height);
    j["precision"] = to_string(params.precision);
    j["stop_reason"] = report.stop_reason;
    j["outputs"] = report.outputs;
    report.stats_json = j.dump(2);
    if (stats_file) write_text_atomically(*stats_file, report.stats_json);
  };

  // ---- the processing loop ----
  LiveFrame frame;
  int64_t last_sequence = -1;
  const int64_t start_ns = clock.now_ns();
  stats.reset_totals();  // not the set-up
  const int64_t duration_ns = o.duration_s > 0 ? int64_t(o.duration_s * 1e9) : 0;
  int64_t next_stats_ns = start_ns + 1'000'000'000;
  int64_t last_frame_ns = start_ns;
  bool stall_warned = false, size_warned = false;
  float last_reported_ratio = shared.ratio.load();
  std::string error;
  const auto print_stats = [&](int64_t now) {
    if (now < next_stats_ns) return;
    next_stats_ns = std::max(next_stats_ns + 1'000'000'000, now + 500'000'000);
    if (!callbacks.stats) return;
    std::string line = stats.summary_line();
    if (controller) {
      const float ratio = shared.ratio.load();
      line += fmt::format(" | ratio {:.3g}", ratio);
      if (ratio != last_reported_ratio) line += fmt::format(" (was {:.3g})", last_reported_ratio);
      last_reported_ratio = ratio;
    }
    callbacks.stats(line);
  };

  try {
    for (;;) {
      int64_t now = clock.now_ns();
      if (aborted()) {
        report.stop_reason = "interrupted";
        report.aborted = true;
        break;
      }
      if (duration_ns > 0 && now - start_ns >= duration_ns) {
        report.stop_reason = "duration";
        break;
      }
      print_stats(now);
      int64_t wait_ns = 100'000'000;
      if (duration_ns > 0) wait_ns = std::clamp<int64_t>(start_ns + duration_ns - now, 1, wait_ns);
      const TakeResult got = latest.take(frame, std::chrono::nanoseconds(wait_ns));
      if (got == TakeResult::timeout) {
        if (!stall_warned && clock.now_ns() - last_frame_ns > 2'000'000'000) {
          warn(fmt::format("no frames from {} for 2 s", report.input));
          stall_warned = true;
        }
        continue;
      }
      if (got == TakeResult::closed) {
        error = latest.error();
        report.stop_reason = error.empty() ? "end of input" : "input error";
        break;
      }

      // ---- one frame ----
      const int64_t t0 = clock.now_ns();
      last_frame_ns = t0;
      stall_warned = false;
      const int64_t gap = last_sequence < 0 ? frame.sequence + 1 : frame.sequence - last_sequence;
      last_sequence = frame.sequence;
      for (int64_t i = 0; i < gap; ++i) stats.frame_captured();
      if (gap > 1) stats.frame_dropped(uint64_t(gap - 1));
      stats.stage(LiveStats::kCapture, double(t0 - frame.capture_ns) * 1e-6);
      if (frame.width != width || frame.height != height) {
        if (!size_warned)
          warn(fmt::format("{}: a frame of {}x{} after frames of {}x{}: skipped (the outputs keep "
                           "the first size)",
                           report.input, frame.width, frame.height, width, height));
        size_warned = true;
        ++report.skipped;
        continue;
      }
      {
        LiveSettings next;
        if (store.get_if_changed(seen_version, next)) apply_settings(next, false);
      }

      RgbImage source_view = frame.view();
      if (settings.mirror) {
        mirror_rows(source_view, mirrored.data(), packed_stride);
        source_view = {mirrored.data(), width, height, packed_stride};
      }
      const int64_t t1 = clock.now_ns();
      stats.stage(LiveStats::kConvert, double(t1 - t0) * 1e-6);

      session.process(source_view, matte);
      const int64_t t2 = clock.now_ns();
      stats.stage(LiveStats::kMatting, double(t2 - t1) * 1e-6);

      if (filter_params.active()) filter.apply(filter_params, matte.alpha.data(), width, height, 1);
      const RgbImage behind = background->render(frame.source_seconds, source_view, matte.alpha.data());
      composite_over(matte, source_view, behind,
                     PixelBuffer{composite.data(), width, height, 3, packed_stride}, /*threads=*/1);
      const int64_t t3 = clock.now_ns();
      stats.stage(LiveStats::kCompose, double(t3 - t2) * 1e-6);

      const RgbImage out{composite.data(), width, height, packed_stride};
      bool reader_gone = false;
      for (auto& output : outputs) {
        output->write(out, frame.capture_ns);
        reader_gone = reader_gone || output->closed();
      }
      if (preview) preview->publish_frame(out);
      const int64_t t4 = clock.now_ns();
      stats.stage(LiveStats::kOutput, double(t4 - t3) * 1e-6);
      stats.frame_output(frame.capture_ns);
      ++report.output_frames;

      if (report.output_frames == std::max(o.warmup_frames, 1)) {
        stats.mark_warm();
        if (o.warmup_frames > 0) stats.reset_totals();  // the run's figures start after it
      }
      if (controller && controller->frame(t4, double(t4 - t0) * 1e-6, int(std::min<int64_t>(gap, 1000)))) {
        const float before = shared.ratio.load();
        session.set_downsample_ratio(controller->ratio());
        shared.ratio.store(controller->ratio());
        shared.ratio_changes.store(controller->changes());
        warn(fmt::format("--target-fps: network ratio {:.3g} -> {:.3g} ({})", before,
                         controller->ratio(), controller->last_reason()));
      }
      if (reader_gone) {
        report.stop_reason = "stdout closed";
        break;
      }
    }
  } catch (...) {
    // An output or the network failed: release the input, keep what was recorded, report.
    source->stop();
    report.seconds = double(clock.now_ns() - start_ns) * 1e-9;
    report.stop_reason = "error";
    finish_outputs(false);
    stats.finish();
    try {
      write_stats();
    } catch (const std::exception&) {
    }
    throw;
  }

  source->stop();
  report.seconds = double(clock.now_ns() - start_ns) * 1e-9;
  const LatestFrameCounters counters = latest.counters();
  report.source_frames = counters.published;
  report.dropped = counters.published - counters.taken;
  report.downsample_ratio = shared.ratio.load();
  report.ratio_changes = shared.ratio_changes.load();
  if (preview) preview->stop();
  finish_outputs(error.empty());
  stats.finish();
  write_stats();
  if (!error.empty()) throw Error(error);
  return report;
}

}  // namespace mattecast
