#include "offline/video_job.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include "compose/background.h"
#include "compose/composite.h"
#include "offline/bounded_queue.h"
#include "offline/scene_cut.h"
#include "video/frame_sink.h"

namespace mattecast {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string format_position(int64_t pts, Rational time_base) {
  if (pts < 0 || !time_base.known()) return "an unknown time";
  return fmt::format("{:.3f} s", double(pts) * time_base.num / time_base.den);
}

// The container's frame count, else one estimated from its duration (-1 if neither is known).
int64_t expected_frames(const VideoInfo& info) {
  if (info.frame_count > 0) return info.frame_count;
  if (info.duration_seconds > 0 && info.frame_rate.known())
    return int64_t(info.duration_seconds * info.frame_rate.value() + 0.5);
  return -1;
}

// Whether a video file, whose last decoded frame has `last_pts`, ended before its stated duration.
std::optional<ShortInput> find_short_input(const VideoInfo& info, int64_t frames,
                                           int64_t last_pts) {
  const bool images = info.container == "image folder" || info.container == "image2";
  if (images || info.duration_seconds <= 0 || !info.time_base.known()) return std::nullopt;
  const double interval = info.frame_rate.known() ? 1.0 / info.frame_rate.value() : 0.0;
  const double last_good = double(last_pts - info.start_pts) * info.time_base.value();
  const double shortfall = info.duration_seconds - (last_good + interval);
  // Beyond rounding and VFR gaps, and backed by the frame count; without one (Matroska) the
  // duration can be the audio's, so time alone decides only when there is no audio.
  if (shortfall <= std::max(2 * interval, 0.5)) return std::nullopt;
  if (info.frame_count > 0 ? frames >= info.frame_count : info.audio_stream_count > 0)
    return std::nullopt;
  return ShortInput{last_good, info.duration_seconds, expected_frames(info)};
}

// One frame on its way through the pipeline; the pool's slots are reused round and round.
struct FrameSlot {
  std::vector<uint8_t> rgb;
  int width = 0, height = 0;
  int64_t pts = 0;
  int64_t index = 0;
  double seconds = 0;
  Matte* matte = nullptr;  // from the matte pool, between matting and output
  RgbImage view() const { return {rgb.data(), width, height, ptrdiff_t(width) * 3}; }
};

// Three frames: one decoding, one in the network, one being composited and encoded. Mattes
// (float, the largest buffers) exist only from matting to output: two suffice.
constexpr size_t kFrameSlots = 3;
constexpr size_t kMatteSlots = 2;

// The first failure of any thread stops the others; it is rethrown on the calling thread.
class FailureLatch {
 public:
  void record(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = error;
    failed_ = true;
  }
  bool failed() const { return failed_; }
  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

enum class OutputKind { composite, alpha, foreground };

struct Output {
  OutputKind kind;
  std::unique_ptr<FrameSink> sink;
  PixelLayout layout;
  double encode_ms = 0;
};

void check_options(const VideoJobOptions& o) {
  if (o.composite_path.empty() && o.alpha_path.empty() && o.foreground_path.empty())
    throw Error("no output: give -o COMPOSITE, --alpha PATH and/or --foreground PATH");
  if (o.alpha_depth != 8 && o.alpha_depth != 16)
    throw Error(fmt::format("--alpha-depth {}: expected 8 or 16", o.alpha_depth));
  if (o.alpha_depth == 16 && !o.alpha_path.empty() && !is_image_sequence_path(o.alpha_path))
    throw Error(fmt::format("{}: 16-bit alpha needs a PNG sequence (a folder or a %0Nd pattern)",
                            o.alpha_path));
  const std::vector<std::string> paths = {o.composite_path, o.alpha_path, o.foreground_path};
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto input = fs::weakly_canonical(o.input, ec);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty()) continue;
    if (!ec && fs::weakly_canonical(paths[i], ec) == input)
      throw Error(fmt::format("{}: the output would overwrite the input", paths[i]));
    for (size_t j = i + 1; j < paths.size(); ++j)
      if (paths[i] == paths[j]) throw Error(fmt::format("{}: given for two outputs", paths[i]));
  }
}

// The network's OpenMP team needs both cores at once, in bursts; a decoder or encoder thread
// that holds a core makes the whole team wait. As SCHED_IDLE threads they run in the gaps the
// network leaves (its threads sleep between parallel regions) and yield the moment it wakes:
// 720p composite + alpha went from 25 to 29 fps on 2 cores. But idle-class threads also yield to
// every other process: when the machine is busy elsewhere they would starve, so as soon as the
// network waits for them longer than a frame ever should, or the job stops, they go back to
// normal scheduling for good.
class IdleTimeThreads {
 public:
  // The calling thread runs in idle time from now on (best effort: lowering needs no privilege).
  void enter() {
    std::lock_guard lock(mutex_);
    if (restored_) return;
    sched_param param{};
    if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) threads_.push_back(gettid());
  }
  // Every thread that entered is scheduled normally again; idempotent.
  void restore() {
    std::lock_guard lock(mutex_);
    if (restored_) return;
    restored_ = true;
    sched_param param{};
    for (pid_t thread : threads_) sched_setscheduler(thread, SCHED_OTHER, &param);
  }

 private:
  std::mutex mutex_;
  std::vector<pid_t> threads_;
  bool restored_ = false;
};

// How long the network may wait for the idle-time threads before they are judged starved.
constexpr auto kStarvedAfter = std::chrono::milliseconds(150);

// Pops from `queue`; when that takes longer than kStarvedAfter, the idle-time threads go normal.
template <typename T>
std::optional<T> pop_or_restore(BoundedQueue<T>& queue, IdleTimeThreads& idle_threads) {
  bool timed_out = false;
  auto item = queue.pop_for(kStarvedAfter, timed_out);
  if (!timed_out) return item;
  idle_threads.restore();
  return queue.pop();
}

}  // namespace

VideoJobReport run_video_job(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                             const VideoJobCallbacks& callbacks) {
  check_options(options);
  std::mutex warn_mutex;
  auto warn = [&](const std::string& message) {
    std::lock_guard lock(warn_mutex);
    if (callbacks.warn) callbacks.warn(message);
  };
  auto aborted = [&] { return callbacks.abort && callbacks.abort->load(); };

  VideoReader::Options reader_options;
  reader_options.threads = 1;  // its own pipeline stage; frame threads would only add memory
  reader_options.image_rate = options.image_rate;
  VideoReader reader(options.input, reader_options);
  const VideoInfo info = reader.info();
  const int width = info.width, height = info.height;

  // Outputs are opened (and checked: existing files, writable folders) before any work.
  const bool has_audio = options.audio && info.audio_stream_count > 0;
  auto open_output = [&](OutputKind kind, const std::string& path, PixelLayout layout) {
    SinkOptions sink;
    sink.width = width;
    sink.height = height;
    sink.layout = layout;
    sink.time_base = info.time_base;
    sink.frame_rate = info.frame_rate;
    sink.crf = options.crf;
    sink.preset = options.preset;
    sink.threads = 1;
    sink.rotation = info.rotation;
    sink.audio_source = has_audio ? options.input : "";
    sink.overwrite = options.overwrite;
    sink.warn = warn;
    return Output{kind, open_frame_sink(path, sink), layout};
  };

  // The background is needed by the composite, and by the foreground only when one is given.
  std::optional<Background> background;
  if (!options.composite_path.empty() ||
      (!options.foreground_path.empty() && !options.background.empty())) {
    background.emplace(parse_background(options.background.empty() ? "green" : options.background),
                       width, height, 1);
  }
  const bool transparent = !background || background->transparent();

  std::vector<Output> outputs;
  if (!options.composite_path.empty())
    outputs.push_back(open_output(OutputKind::composite, options.composite_path,
                                  transparent ? PixelLayout::rgba : PixelLayout::rgb24));
  if (!options.alpha_path.empty())
    outputs.push_back(open_output(OutputKind::alpha, options.alpha_path,
                                  options.alpha_depth == 16 ? PixelLayout::gray16 : PixelLayout::gray8));
  if (!options.foreground_path.empty()) {
    const bool over_background = !options.background.empty() && !transparent;
    outputs.push_back(open_output(OutputKind::foreground, options.foreground_path,
                                  over_background ? PixelLayout::rgb24 : PixelLayout::rgba));
  }

  // The network's OpenMP team gets the job's whole core budget (`threads`; 0: every core); the
  // decoder and each encoder run single-threaded on the pipeline's threads, in its idle time.
  // Alpha-only mode skips the foreground planes when no output shows the network's colour.
  SessionParams session_params = options.session;
  session_params.alpha_only = options.composite_path.empty() && options.foreground_path.empty();
  Session session(std::move(model), session_params);

  std::vector<FrameSlot> slots(kFrameSlots);
  std::vector<Matte> mattes(kMatteSlots);
  BoundedQueue<FrameSlot*> free_slots(kFrameSlots), to_matting(kFrameSlots), to_output(kFrameSlots);
  BoundedQueue<Matte*> free_mattes(kMatteSlots);
  for (auto& slot : slots) free_slots.push(&slot);
  for (auto& matte : mattes) free_mattes.push(&matte);
  FailureLatch failure;
  IdleTimeThreads idle_threads;
  auto stop_all = [&] {
    idle_threads.restore();  // a stopping job must not wait for the machine to go idle
    free_slots.close();
    free_mattes.close();
    to_matting.close();
    to_output.close();
  };

  VideoJobReport report;
  report.input = info;
  double decode_ms = 0, matting_ms = 0, compose_ms = 0;
  const auto start = Clock::now();

  std::thread decode_thread([&] {
    idle_threads.enter();
    try {
      VideoFrame frame;
      size_t corrupt_seen = 0;
      while (!aborted() && !failure.failed()) {
        auto slot = free_slots.pop();
        if (!slot) break;
        const auto t0 = Clock::now();
        const bool got_frame = reader.read(frame);
        // Before the end too: a cut file's last, partial packets are damaged.
        const auto& corrupt = reader.corrupt_packets();
        for (; corrupt_seen < corrupt.size(); ++corrupt_seen)
          warn(fmt::format("{}: damaged data near {} (byte {}): {}; skipped", info.path,
                           format_position(corrupt[corrupt_seen].pts, info.time_base),
                           corrupt[corrupt_seen].byte_position, corrupt[corrupt_seen].message));
        if (!got_frame) break;
        if (frame.width != width || frame.height != height)
          throw Error(fmt::format("{}: the frame size changes from {}x{} to {}x{} at frame {}; "
                                  "not supported",
                                  info.path, width, height, frame.width, frame.height, frame.index));
        FrameSlot& s = **slot;
        s.width = width;
        s.height = height;
        s.rgb.resize(size_t(width) * height * 3);
        for (int y = 0; y < height; ++y)
          std::memcpy(s.rgb.data() + size_t(y) * width * 3, frame.data + y * frame.stride,
                      size_t(width) * 3);
        s.pts = frame.pts;
        s.index = frame.index;
        s.seconds = frame.seconds();
        decode_ms += ms_since(t0);
        if (!to_matting.push(*slot)) break;
      }
    } catch (...) {
      failure.record(std::current_exception());
      stop_all();
    }
    to_matting.close();
  });

  std::thread matting_thread([&] {
    try {
      SceneCutDetector scene_cuts;
      while (auto slot = pop_or_restore(to_matting, idle_threads)) {
        if (aborted() || failure.failed()) {
          idle_threads.restore();  // the output thread must see the end promptly
          break;
        }
        FrameSlot& s = **slot;
        auto matte = pop_or_restore(free_mattes, idle_threads);
        if (!matte) break;
        s.matte = *matte;
        const auto t0 = Clock::now();
        if (options.scene_reset && scene_cuts.update(s.view())) {
          session.reset();
          report.scene_cuts.push_back({s.index, s.seconds});
        }
        session.process(s.view(), *s.matte);
        matting_ms += ms_since(t0);
        if (!to_output.push(*slot)) break;
      }
    } catch (...) {
      failure.record(std::current_exception());
      stop_all();
    }
    to_output.close();
  });

  // Output stage on this thread: one picture buffer per output, reused for every frame.
  std::vector<std::vector<uint8_t>> pictures(outputs.size());
  int64_t last_pts = info.start_pts;
  idle_threads.enter();
  try {
    VideoJobProgress progress{.frames_total = expected_frames(info)};
    while (auto slot = to_output.pop()) {
      if (aborted() || failure.failed()) break;
      FrameSlot& s = **slot;
      const RgbImage source = s.view();
      std::optional<RgbImage> behind;  // rendered once per frame, shared by the outputs
      for (size_t i = 0; i < outputs.size(); ++i) {
        Output& out = outputs[i];
        const auto t0 = Clock::now();
        const int channels = out.layout == PixelLayout::rgba    ? 4
                             : out.layout == PixelLayout::rgb24 ? 3
                             : out.layout == PixelLayout::gray16 ? 2
                                                                 : 1;
        auto& picture = pictures[i];
        picture.resize(size_t(width) * height * channels);
        PixelBuffer buffer{picture.data(), width, height, channels, ptrdiff_t(width) * channels};
        if (out.layout == PixelLayout::gray8) {
          alpha_gray8(*s.matte, buffer, 1);
        } else if (out.layout == PixelLayout::gray16) {
          alpha_gray16(*s.matte, reinterpret_cast<uint16_t*>(picture.data()), buffer.stride, 1);
        } else if (out.layout == PixelLayout::rgba) {
          foreground_rgba(*s.matte, source, buffer, 1);
        } else {
          if (!behind) behind = background->render(s.seconds, source, s.matte->alpha.data());
          composite_over(*s.matte, source, *behind, buffer, 1);
        }
        compose_ms += ms_since(t0);
        const auto t1 = Clock::now();
        out.sink->write(picture.data(), buffer.stride, s.pts);
        out.encode_ms += ms_since(t1);
      }
      ++report.frames;
      last_pts = std::max(last_pts, s.pts);
      free_mattes.push(s.matte);
      free_slots.push(*slot);
      if (callbacks.progress) {
        progress.frames_done = report.frames;
        progress.elapsed_seconds = ms_since(start) / 1000.0;
        callbacks.progress(progress);
      }
    }
  } catch (...) {
    failure.record(std::current_exception());
  }
  stop_all();
  decode_thread.join();
  matting_thread.join();
  failure.rethrow();
  report.corrupt_packets = reader.corrupt_packets();
  if (aborted()) {
    report.aborted = true;
    return report;  // the sinks go out of scope unfinished: their temporaries are removed
  }
  if (report.frames == 0) throw Error(fmt::format("{}: no video frame could be decoded", info.path));
  report.short_input = find_short_input(info, report.frames, last_pts);
  if (const auto& cut = report.short_input) {
    const std::string counts =
        cut->expected_frames < 0
            ? ""
            : fmt::format(" ({} of {}{} frames decoded)", report.frames,
                          info.frame_count > 0 ? "" : "about ", cut->expected_frames);
    warn(fmt::format("{}: the video ends early: the last good frame is at {:.2f} s, but the file "
                     "says it lasts {:.2f} s{}; the outputs are shorter than the input",
                     info.path, cut->last_good_seconds, cut->expected_seconds, counts));
  }

  const auto t_finish = Clock::now();
  for (auto& out : outputs) {
    out.sink->finish();
    report.outputs.push_back(fmt::format("{}: {}", out.sink->path(), out.sink->description()));
  }
  const double finish_ms = ms_since(t_finish);
  report.wall_seconds = ms_since(start) / 1000.0;

  const double n = double(report.frames);
  report.stages.push_back({"decode", decode_ms / n});
  report.stages.push_back({"matting", matting_ms / n});
  report.stages.push_back({"compose", compose_ms / n});
  for (size_t i = 0; i < outputs.size(); ++i) {
    const char* what = outputs[i].kind == OutputKind::composite ? "encode composite"
                       : outputs[i].kind == OutputKind::alpha   ? "encode alpha"
                                                                : "encode foreground";
    report.stages.push_back({what, (outputs[i].encode_ms + finish_ms / double(outputs.size())) / n});
  }
  return report;
}

}  // namespace mattecast
