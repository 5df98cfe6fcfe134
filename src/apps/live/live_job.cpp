// The live job: wires its stages (live_capture, live_matting, live_compose, live_output, the
// preview server) around the processing loop, and keeps the statistics and the report.
#include "live/live_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include <fmt/format.h>

#include "compose/background.h"
#include "io/atomic_file.h"
#include "live/live_capture.h"
#include "live/live_compose.h"
#include "live/live_matting.h"
#include "live/live_output.h"
#include "live/live_stats.h"
#include "live/preview_server.h"

namespace mattecast {

void check_live_job_options(const LiveJobOptions& o) {
  if (o.outputs.empty() && o.preview_port < 0)
    throw Error(
        "nothing to output: give --output (a v4l2loopback device such as /dev/video4, a video "
        "file, - for stdout, or null) and/or --preview-port PORT");
  if (o.input.empty())
    throw Error("--input: no input given (a camera such as /dev/video0, or a video file)");
  if (o.preview_port > 65535)
    throw Error(fmt::format("--preview-port {}: expected 0..65535", o.preview_port));
  if (!(o.target_fps >= 0 && o.target_fps <= 1000))
    throw Error(fmt::format("--target-fps {}: expected a value in (0, 1000]", o.target_fps));
  if (!(o.duration_s >= 0 && std::isfinite(o.duration_s)))
    throw Error(fmt::format("--duration {}: expected a number of seconds >= 0", o.duration_s));
  if (!(o.fps >= 0 && o.fps <= 1000))
    throw Error(fmt::format("--fps {}: expected 0 < fps <= 1000", o.fps));
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
  parse_output_matrix(o.output_matrix);
  validate_live_settings(o.settings);
}

namespace {

using json = nlohmann::ordered_json;
using Log = std::function<void(const std::string&)>;

void write_text_atomically(AtomicFile& file, const std::string& text) {
  {
    std::ofstream out(file.temp_path(), std::ios::binary | std::ios::trunc);
    out << text << '\n';
    out.flush();
    if (!out) throw Error(fmt::format("cannot write '{}'", file.path()));
  }
  file.commit();
}

Log log_to(const Log& callback) {
  return [&callback](const std::string& line) {
    if (callback) callback(line);
  };
}

// LiveStats on the clock of capture_ns.
LiveStatsSources timed_by(const Clock& clock) {
  LiveStatsSources sources;
  sources.now_ns = [&clock] { return clock.now_ns(); };
  return sources;
}

// The stages in the order they are set up (each checks what it can before the next, more
// expensive, one starts), and the processing loop over them.
class LiveJob {
 public:
  LiveJob(std::shared_ptr<const Model> model, const LiveJobOptions& options,
          const LiveJobCallbacks& callbacks);
  LiveJobReport run();

 private:
  std::unique_ptr<PreviewServer> open_preview();
  void process_frames(int64_t start_ns);
  bool process_frame();  // false: stdout's reader went away
  void print_stats(int64_t now_ns);
  json stats_json() const;
  void write_stats();

  const LiveJobOptions& o_;
  const LiveJobCallbacks& callbacks_;
  const Log info_, warn_;
  // Checked first: the stats file's folder must be writable before anything expensive.
  std::unique_ptr<AtomicFile> stats_file_;
  SteadyClock clock_;
  LiveStats stats_;
  RatioFigures figures_;
  LiveCapture capture_;
  LiveOutputs outputs_;
  // Settings, changed live through the preview page; backgrounds are checked by parsing them.
  SettingsStore store_;
  std::unique_ptr<PreviewServer> preview_;
  LiveMatting matting_;
  LiveCompose compose_;
  uint64_t seen_version_ = 0;
  LiveFrame frame_;
  LiveJobReport report_;
  std::string input_error_;
  int64_t next_stats_ns_ = 0;
  float last_reported_ratio_ = 0;
  bool size_warned_ = false;
};

LiveJob::LiveJob(std::shared_ptr<const Model> model, const LiveJobOptions& o,
                 const LiveJobCallbacks& callbacks)
    : o_(o),
      callbacks_(callbacks),
      info_(log_to(callbacks.info)),
      warn_(log_to(callbacks.warn)),
      stats_file_(o.stats_json_path.empty() ? nullptr
                                            : std::make_unique<AtomicFile>(o.stats_json_path)),
      stats_(LiveStats::default_stages(), timed_by(clock_)),
      capture_(o, clock_, stats_, warn_),
      outputs_(o, capture_.width(), capture_.height(), capture_.fps(), callbacks.abort, info_,
               warn_),
      store_(o.settings, [](const std::string& text) { (void)parse_background(text); }),
      preview_(open_preview()),
      matting_(std::move(model), o.session, o.target_fps, capture_.width(), capture_.height(),
               figures_, info_, warn_),
      compose_(capture_.width(), capture_.height(), o.session.threads, warn_) {
  LiveSettings initial;
  store_.get_if_changed(seen_version_, initial);
  compose_.apply(initial, /*first=*/true);
}

std::unique_ptr<PreviewServer> LiveJob::open_preview() {
  if (o_.preview_port < 0) return nullptr;
  PreviewServerOptions server_options;
  server_options.bind_address = o_.preview_bind;
  server_options.port = o_.preview_port;
  auto preview = std::make_unique<PreviewServer>(
      store_, [this] { return stats_json().dump(); }, server_options);
  info_("preview: " + preview->url());
  if (o_.preview_bind != "127.0.0.1" && o_.preview_bind != "::1" && o_.preview_bind != "localhost")
    warn_(
        fmt::format("the preview and its controls are reachable on {} by anyone who can reach "
                    "this machine (--preview-bind)",
                    o_.preview_bind));
  return preview;
}

LiveJobReport LiveJob::run() {
  const LiveSourceInfo& source = capture_.start();
  info_("input: " + source.description);
  report_.input = source.description;
  report_.width = capture_.width();
  report_.height = capture_.height();
  const int64_t start_ns = clock_.now_ns();
  stats_.reset_totals();  // not the set-up
  try {
    process_frames(start_ns);
  } catch (...) {
    // An output or the network failed: release the input, keep what was recorded, report.
    capture_.stop();
    report_.seconds = double(clock_.now_ns() - start_ns) * 1e-9;
    report_.stop_reason = "error";
    report_.outputs = outputs_.finish(/*rethrow=*/false);
    stats_.finish();
    try {
      write_stats();
    } catch (const std::exception&) {
    }
    throw;
  }
  capture_.stop();
  report_.seconds = double(clock_.now_ns() - start_ns) * 1e-9;
  const LatestFrameCounters counters = capture_.counters();
  report_.source_frames = counters.published;
  report_.dropped = counters.published - counters.taken;
  report_.downsample_ratio = figures_.ratio.load();
  report_.ratio_changes = figures_.changes.load();
  if (preview_) preview_->stop();
  report_.outputs = outputs_.finish(/*rethrow=*/input_error_.empty());
  stats_.finish();
  write_stats();
  if (!input_error_.empty()) throw Error(input_error_);
  return report_;
}

void LiveJob::process_frames(int64_t start_ns) {
  const int64_t duration_ns = o_.duration_s > 0 ? int64_t(o_.duration_s * 1e9) : 0;
  next_stats_ns_ = start_ns + 1'000'000'000;
  last_reported_ratio_ = figures_.ratio.load();
  for (;;) {
    const int64_t now = clock_.now_ns();
    if (callbacks_.abort && callbacks_.abort->load()) {
      report_.stop_reason = "interrupted";
      report_.aborted = true;
      return;
    }
    if (duration_ns > 0 && now - start_ns >= duration_ns) {
      report_.stop_reason = "duration";
      return;
    }
    print_stats(now);
    int64_t wait_ns = 100'000'000;
    if (duration_ns > 0) wait_ns = std::clamp<int64_t>(start_ns + duration_ns - now, 1, wait_ns);
    const TakeResult got = capture_.take(frame_, std::chrono::nanoseconds(wait_ns));
    if (got == TakeResult::timeout) continue;
    if (got == TakeResult::closed) {
      input_error_ = capture_.error();
      report_.stop_reason = input_error_.empty() ? "end of input" : "input error";
      return;
    }
    if (!process_frame()) {
      report_.stop_reason = "stdout closed";
      return;
    }
  }
}

bool LiveJob::process_frame() {
  const int width = capture_.width(), height = capture_.height();
  if (frame_.width != width || frame_.height != height) {
    if (!size_warned_)
      warn_(
          fmt::format("{}: a frame of {}x{} after frames of {}x{}: skipped (the outputs keep "
                      "the first size)",
                      report_.input, frame_.width, frame_.height, width, height));
    size_warned_ = true;
    ++report_.skipped;
    return true;
  }
  const int64_t t0 = capture_.taken_ns();
  LiveSettings next;
  if (store_.get_if_changed(seen_version_, next) && compose_.apply(next, /*first=*/false))
    matting_.reset();

  const RgbImage source = compose_.orient(frame_.view());
  const int64_t t1 = clock_.now_ns();
  stats_.stage(LiveStats::kConvert, double(t1 - t0) * 1e-6);

  Matte& matte = matting_.process(source);
  const int64_t t2 = clock_.now_ns();
  stats_.stage(LiveStats::kMatting, double(t2 - t1) * 1e-6);

  const RgbImage composite = compose_.compose(matte, source, frame_.source_seconds);
  const int64_t t3 = clock_.now_ns();
  stats_.stage(LiveStats::kCompose, double(t3 - t2) * 1e-6);

  const bool reader_present = outputs_.write(composite, frame_.capture_ns);
  if (preview_) preview_->publish_frame(composite);
  const int64_t t4 = clock_.now_ns();
  stats_.stage(LiveStats::kOutput, double(t4 - t3) * 1e-6);
  stats_.frame_output(frame_.capture_ns);
  ++report_.output_frames;

  if (report_.output_frames == std::max(o_.warmup_frames, 1)) {
    stats_.mark_warm();
    if (o_.warmup_frames > 0) stats_.reset_totals();  // the run's figures start after it
  }
  matting_.frame_done(t4, double(t4 - t0) * 1e-6, capture_.arrived());
  return reader_present;
}

void LiveJob::print_stats(int64_t now_ns) {
  if (now_ns < next_stats_ns_) return;
  next_stats_ns_ = std::max(next_stats_ns_ + 1'000'000'000, now_ns + 500'000'000);
  if (!callbacks_.stats) return;
  std::string line = stats_.summary_line();
  if (matting_.adapts_ratio()) {
    const float ratio = figures_.ratio.load();
    line += fmt::format(" | ratio {:.3g}", ratio);
    if (ratio != last_reported_ratio_) line += fmt::format(" (was {:.3g})", last_reported_ratio_);
    last_reported_ratio_ = ratio;
  }
  callbacks_.stats(line);
}

// Called on the preview server's thread too.
json LiveJob::stats_json() const {
  json j = json::parse(stats_.to_json());
  j["downsample_ratio"] = std::round(double(figures_.ratio.load()) * 10000) / 10000;
  j["ratio_changes"] = figures_.changes.load();
  if (o_.target_fps > 0) j["target_fps"] = o_.target_fps;
  return j;
}

void LiveJob::write_stats() {
  json j = stats_json();
  const LatestFrameCounters counters = capture_.counters();
  // The top-level figures leave out the first warmup_frames output frames (kernels, caches,
  // encoder start-up); "totals" cover the whole run.
  j["warmup_frames"] = std::min<int64_t>(std::max(o_.warmup_frames, 0), report_.output_frames);
  j["warm"] = report_.output_frames >= std::max(o_.warmup_frames, 1);
  j["totals"] = {{"source_frames", counters.published},
                 {"output_frames", report_.output_frames},
                 {"dropped", counters.published - counters.taken},
                 {"skipped", report_.skipped},
                 {"seconds", std::round(report_.seconds * 1000) / 1000}};
  j["input"] = report_.input;
  j["size"] = fmt::format("{}x{}", capture_.width(), capture_.height());
  j["precision"] = to_string(matting_.params().precision);
  j["stop_reason"] = report_.stop_reason;
  j["outputs"] = report_.outputs;
  report_.stats_json = j.dump(2);
  if (stats_file_) write_text_atomically(*stats_file_, report_.stats_json);
}

}  // namespace

LiveJobReport run_live_job(std::shared_ptr<const Model> model, const LiveJobOptions& options,
                           const LiveJobCallbacks& callbacks) {
  check_live_job_options(options);
  return LiveJob(std::move(model), options, callbacks).run();
}

}  // namespace mattecast
