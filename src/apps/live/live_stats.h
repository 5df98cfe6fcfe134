// Counters and timings of the live (webcam) loop: input and output frame rates, dropped frames,
// capture-to-output latency, milliseconds per stage, CPU use and resident memory. Each figure is
// kept for the whole run and for the last second (a sliding window).
//
//   LiveStats stats;                                  // stages: capture convert matting compose
//   output
//   // capture thread, per frame:   stats.frame_captured();  or  stats.frame_dropped();
//   //                              stats.stage(LiveStats::kCapture, ms);
//   // processing thread, per frame:
//   { LiveStats::StageTimer t(stats, LiveStats::kMatting); session.process(...); }
//   stats.frame_output(frame.captured_ns);            // latency = stats.now_ns() - captured_ns
//   // after the first few frames:  stats.mark_warm();  once a second: log(stats.summary_line());
//   // at the end:                  stats.finish();      write(stats.to_json());
//
// Thread-safe: every method may be called from any thread. The per-frame calls take one short
// mutex and allocate nothing; the whole-run latency lives in a fixed histogram (0.1 ms bins up to
// 2 s, plus the exact maximum), the last second in fixed rings of the latest 1024 events.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mattecast {

// Where LiveStats reads time and the process's resources; any left empty uses the real one.
struct LiveStatsSources {
  // Monotonic clock in ns. Default: std::chrono::steady_clock (CLOCK_MONOTONIC on Linux, the
  // clock of V4L2 buffer timestamps).
  std::function<int64_t()> now_ns;
  // CPU time used by the process (user + system) in ns. Default: getrusage(RUSAGE_SELF).
  std::function<int64_t()> cpu_ns;
  // Resident memory in MB (MiB). Default: /proc/self/statm.
  std::function<double()> rss_mb;
};

double process_rss_mb();   // /proc/self/statm, 0 if unreadable
int64_t process_cpu_ns();  // getrusage(RUSAGE_SELF), user + system

class LiveStats {
 public:
  static constexpr int kMaxStages = 16;
  static constexpr size_t kWindowEvents = 1024;  // per ring: rates up to ~1000/s stay exact
  // Ids of the default stages, in this order.
  enum DefaultStage : int { kCapture = 0, kConvert, kMatting, kCompose, kOutput };
  static std::vector<std::string> default_stages();

  explicit LiveStats(std::vector<std::string> stages = default_stages(),
                     LiveStatsSources sources = {});
  ~LiveStats();
  LiveStats(const LiveStats&) = delete;
  LiveStats& operator=(const LiveStats&) = delete;

  // The clock in use (for stamping captures so that frame_output() can measure latency).
  int64_t now_ns() const;

  // --- per-frame reports (cheap, no allocation) ---
  void frame_captured();
  void frame_dropped(uint64_t count = 1);
  // A frame left the loop; its capture-to-output latency is now_ns() - captured_ns.
  void frame_output(int64_t captured_ns);
  // A frame left the loop, latency unknown (counted for the rate only).
  void frame_output();
  // Time spent in a stage for one frame. An unknown name is added (up to kMaxStages, the only
  // allocation; beyond that it is ignored); prefer ids for the per-frame calls.
  void stage(int id, double ms);
  void stage(std::string_view name, double ms);
  // The id of a stage, adding it when new (-1 when kMaxStages are taken).
  int stage_id(std::string_view name);

  // Times a scope into stage `id`.
  class StageTimer {
   public:
    StageTimer(LiveStats& stats, int id) : stats_(stats), id_(id), start_(stats.now_ns()) {}
    ~StageTimer() { stats_.stage(id_, static_cast<double>(stats_.now_ns() - start_) * 1e-6); }
    StageTimer(const StageTimer&) = delete;
    StageTimer& operator=(const StageTimer&) = delete;

   private:
    LiveStats& stats_;
    int id_;
    int64_t start_;
  };

  // --- run markers ---
  // Records rss_mb_start (call after warm-up: the first frames, once the kernels are built).
  void mark_warm();
  // Restarts the whole-run figures (counts, rates, latency histogram, stage means, CPU) from now;
  // e.g. together with mark_warm() to keep warm-up out of the run's figures. The last-second
  // windows are kept.
  void reset_totals();
  // Records rss_mb_end and freezes the run's end time; later reports are ignored.
  void finish();

  // --- reading ---
  struct Latency {
    uint64_t count = 0;
    double p50 = 0, p95 = 0, max = 0;  // ms; 0 without samples
  };
  struct Stage {
    std::string name;
    uint64_t count = 0;         // whole run
    double mean_ms = 0;         // whole run
    double mean_ms_window = 0;  // last second
  };
  struct Snapshot {
    double duration_s = 0;         // since construction / reset_totals(), up to finish()
    uint64_t frames_captured = 0;  // whole run
    uint64_t frames_output = 0;
    uint64_t dropped = 0;
    double input_fps = 0, output_fps = 0;  // whole run
    Latency latency;                       // whole run (histogram: within 0.05 ms, max exact)
    double cpu_percent = 0;                // whole run, % of one core
    double input_fps_window = 0, output_fps_window = 0;
    uint64_t dropped_window = 0;
    Latency latency_window;  // last second, exact
    double cpu_percent_window = 0;
    std::vector<Stage> stages;
    double rss_mb = 0;        // now (or at finish())
    double rss_mb_start = 0;  // at mark_warm(), else at construction
    double rss_mb_end = 0;    // at finish(), else now
    bool finished = false;
  };
  Snapshot snapshot() const;
  // One line for the console, last-second figures:
  // "in 30.0 fps | out 29.9 fps | dropped 2 | latency p50 41.2 p95 48.0 max 55.1 ms |
  //  capture 0.4 convert 1.1 matting 28.3 compose 2.2 output 0.6 ms | cpu 187%"
  std::string summary_line() const;
  // Whole-run keys at the top level (frames, duration_s, input_fps, output_fps, dropped,
  // latency_ms_p50/p95/max, cpu_percent, rss_mb, rss_mb_start, rss_mb_end, stages{name:{ms,
  // ms_last_second,count}}), and "last_second": {input_fps, output_fps, dropped, latency_ms_*,
  // cpu_percent, stages{name: ms}}.
  std::string to_json() const;

 private:
  struct State;
  // Runs update(state, now) under the mutex, unless finish() was called.
  template <class Update>
  void report(Update&& update);

  std::unique_ptr<State> state_;
  LiveStatsSources sources_;
  mutable std::mutex mutex_;
};

}  // namespace mattecast
