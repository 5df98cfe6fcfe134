#include "live/live_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace mattecast {

namespace {

constexpr int64_t kWindowNs = 1'000'000'000;  // the "last second"
constexpr int64_t kCpuSampleEveryNs = 100'000'000;
constexpr size_t kCpuSamples = 64;  // 6.4 s of CPU history at one sample per 100 ms
constexpr double kBinMs = 0.1;
constexpr size_t kBins = 20'000;  // 0.1 ms bins up to 2 s

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A fixed ring of the latest timed events (a value each), oldest overwritten first.
class Ring {
 public:
  struct Entry {
    int64_t t = 0;
    double v = 0;
  };
  explicit Ring(size_t capacity = LiveStats::kWindowEvents) : entries_(capacity) {}

  void push(int64_t t, double v) {
    entries_[head_] = {t, v};
    head_ = (head_ + 1) % entries_.size();
    size_ = std::min(size_ + 1, entries_.size());
  }
  bool full() const { return size_ == entries_.size(); }
  size_t size() const { return size_; }
  // Calls f(entry) for the events after `cutoff` (exclusive), newest first; returns how many.
  template <class F>
  size_t visit_after(int64_t cutoff, F&& f) const {
    size_t n = 0;
    for (size_t i = 0; i < size_; ++i) {
      const Entry& e = entries_[(head_ + entries_.size() - 1 - i) % entries_.size()];
      if (e.t <= cutoff) break;
      f(e);
      ++n;
    }
    return n;
  }
  const Entry& oldest() const {
    return entries_[(head_ + entries_.size() - size_) % entries_.size()];
  }
  void clear() { head_ = size_ = 0; }

 private:
  std::vector<Entry> entries_;
  size_t head_ = 0;
  size_t size_ = 0;
};

// Count and span of a ring's events over the last second (the span shrinks at the start of the
// run, and to the ring's reach when more than kWindowEvents happened in the second).
struct WindowCount {
  size_t count = 0;
  double sum = 0;
  double span_s = 0;
  double rate() const { return span_s > 0 ? static_cast<double>(count) / span_s : 0.0; }
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
};

WindowCount window_of(const Ring& ring, int64_t now, int64_t origin) {
  WindowCount w;
  const int64_t cutoff = now - kWindowNs;
  w.count = ring.visit_after(cutoff, [&](const Ring::Entry& e) { w.sum += e.v; });
  int64_t start = std::max(cutoff, origin);
  if (ring.full() && w.count == ring.size()) start = std::max(start, ring.oldest().t);
  w.span_s = static_cast<double>(now - start) * 1e-9;
  return w;
}

// Nearest rank: the smallest value with at least p of the samples at or below it.
size_t nearest_rank(double p, uint64_t n) {
  const auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(n)));
  return static_cast<size_t>(std::clamp<uint64_t>(rank, 1, n));
}

// Rounded to `decimals` places; dividing by the power of ten gives the double nearest the decimal.
double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

}  // namespace

double process_rss_mb() {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  char* end = nullptr;
  std::strtoull(text, &end, 10);  // total program size
  const unsigned long long resident = std::strtoull(end, nullptr, 10);
  const long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<double>(resident) * static_cast<double>(page > 0 ? page : 4096) /
         (1024.0 * 1024.0);
}

int64_t process_cpu_ns() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto ns = [](const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

struct LiveStats::State {
  struct StageData {
    std::string name;
    Ring ring;
    uint64_t count = 0;
    double sum_ms = 0;
  };
  struct CpuSample {
    int64_t wall = 0;
    int64_t cpu = 0;
  };

  int64_t origin_ns = 0;        // construction: start of the windows
  int64_t total_origin_ns = 0;  // construction or reset_totals()
  int64_t cpu_origin_ns = 0;
  bool finished = false;
  int64_t end_ns = 0;
  int64_t end_cpu_ns = 0;

  uint64_t captured = 0, output = 0, dropped = 0;
  Ring captured_ring, output_ring, dropped_ring;
  Ring latency_ring;  // output frames with a latency

  std::vector<uint32_t> bins = std::vector<uint32_t>(kBins);
  uint64_t latency_count = 0, latency_overflow = 0;
  double latency_min = 0, latency_max = 0;

  std::vector<StageData> stages;
  std::array<CpuSample, kCpuSamples> cpu_samples{};
  size_t cpu_head = 0, cpu_size = 0;

  double rss_start = 0, rss_end = 0;
  mutable std::vector<double> scratch = std::vector<double>(kWindowEvents);

  void sample_cpu(int64_t wall, int64_t cpu) {
    cpu_samples[cpu_head] = {wall, cpu};
    cpu_head = (cpu_head + 1) % kCpuSamples;
    cpu_size = std::min(cpu_size + 1, kCpuSamples);
  }
  const CpuSample& cpu_sample(size_t age) const {  // 0: newest
    return cpu_samples[(cpu_head + kCpuSamples - 1 - age) % kCpuSamples];
  }

  double histogram_percentile(double p) const {
    if (latency_count == 0) return 0;
    const size_t rank = nearest_rank(p, latency_count);
    uint64_t cumulative = 0;
    for (size_t k = 0; k < kBins; ++k) {
      cumulative += bins[k];
      if (cumulative >= rank)
        return std::clamp((static_cast<double>(k) + 0.5) * kBinMs, latency_min, latency_max);
    }
    return latency_max;  // in the overflow bin (>= 2 s)
  }
};

std::vector<std::string> LiveStats::default_stages() {
  return {"capture", "convert", "matting", "compose", "output"};
}

LiveStats::LiveStats(std::vector<std::string> stages, LiveStatsSources sources)
    : state_(std::make_unique<State>()), sources_(std::move(sources)) {
  if (!sources_.now_ns) sources_.now_ns = steady_ns;
  if (!sources_.cpu_ns) sources_.cpu_ns = process_cpu_ns;
  if (!sources_.rss_mb) sources_.rss_mb = process_rss_mb;
  State& s = *state_;
  s.stages.reserve(kMaxStages);
  for (auto& name : stages)
    if (stage_id(name) < 0) break;
  s.origin_ns = s.total_origin_ns = sources_.now_ns();
  s.cpu_origin_ns = sources_.cpu_ns();
  s.sample_cpu(s.origin_ns, s.cpu_origin_ns);
  s.rss_start = sources_.rss_mb();
}

LiveStats::~LiveStats() = default;

int64_t LiveStats::now_ns() const { return sources_.now_ns(); }

namespace {
// One more frame in a total and its last-second ring, and a CPU sample if 100 ms have passed.
template <class State, class Sources>
void count_frame(State& s, const Sources& sources, uint64_t& total, Ring& ring, int64_t now) {
  ++total;
  ring.push(now, 1);
  if (s.cpu_size == 0 || now - s.cpu_sample(0).wall >= kCpuSampleEveryNs)
    s.sample_cpu(now, sources.cpu_ns());
}
}  // namespace

template <class Update>
void LiveStats::report(Update&& update) {
  std::lock_guard lock(mutex_);
  if (state_->finished) return;
  update(*state_, sources_.now_ns());
}

void LiveStats::frame_captured() {
  report([this](State& s, int64_t now) {
    count_frame(s, sources_, s.captured, s.captured_ring, now);
  });
}

void LiveStats::frame_dropped(uint64_t count) {
  if (count == 0) return;
  report([count](State& s, int64_t now) {
    s.dropped += count;
    s.dropped_ring.push(now, static_cast<double>(count));
  });
}

void LiveStats::frame_output() {
  report([this](State& s, int64_t now) { count_frame(s, sources_, s.output, s.output_ring, now); });
}

void LiveStats::frame_output(int64_t captured_ns) {
  report([this, captured_ns](State& s, int64_t now) {
    count_frame(s, sources_, s.output, s.output_ring, now);
    const double ms = std::max<double>(0.0, static_cast<double>(now - captured_ns) * 1e-6);
    s.latency_ring.push(now, ms);
    const double bin = ms / kBinMs;
    if (bin < static_cast<double>(kBins))
      ++s.bins[static_cast<size_t>(bin)];
    else
      ++s.latency_overflow;
    s.latency_min = s.latency_count ? std::min(s.latency_min, ms) : ms;
    s.latency_max = s.latency_count ? std::max(s.latency_max, ms) : ms;
    ++s.latency_count;
  });
}

void LiveStats::stage(int id, double ms) {
  std::lock_guard lock(mutex_);
  State& s = *state_;
  if (s.finished || id < 0 || id >= static_cast<int>(s.stages.size()) || !std::isfinite(ms)) return;
  State::StageData& stage = s.stages[static_cast<size_t>(id)];
  stage.ring.push(sources_.now_ns(), ms);
  ++stage.count;
  stage.sum_ms += ms;
}

void LiveStats::stage(std::string_view name, double ms) { stage(stage_id(name), ms); }

int LiveStats::stage_id(std::string_view name) {
  std::lock_guard lock(mutex_);
  State& s = *state_;
  for (size_t i = 0; i < s.stages.size(); ++i)
    if (s.stages[i].name == name) return static_cast<int>(i);
  if (s.stages.size() >= kMaxStages) return -1;
  s.stages.push_back({std::string(name), Ring(), 0, 0.0});
  return static_cast<int>(s.stages.size() - 1);
}

void LiveStats::mark_warm() {
  const double rss = sources_.rss_mb();
  std::lock_guard lock(mutex_);
  state_->rss_start = rss;
}

void LiveStats::reset_totals() {
  std::lock_guard lock(mutex_);
  State& s = *state_;
  if (s.finished) return;
  s.total_origin_ns = sources_.now_ns();
  s.cpu_origin_ns = sources_.cpu_ns();
  s.captured = s.output = s.dropped = 0;
  std::fill(s.bins.begin(), s.bins.end(), 0u);
  s.latency_count = s.latency_overflow = 0;
  s.latency_min = s.latency_max = 0;
  for (auto& stage : s.stages) {
    stage.count = 0;
    stage.sum_ms = 0;
  }
}

void LiveStats::finish() {
  const double rss = sources_.rss_mb();
  std::lock_guard lock(mutex_);
  State& s = *state_;
  if (s.finished) return;
  s.finished = true;
  s.end_ns = sources_.now_ns();
  s.end_cpu_ns = sources_.cpu_ns();
  s.rss_end = rss;
}

LiveStats::Snapshot LiveStats::snapshot() const {
  const double rss_now = sources_.rss_mb();
  std::lock_guard lock(mutex_);
  const State& s = *state_;
  Snapshot out;
  const int64_t now = s.finished ? s.end_ns : sources_.now_ns();
  const int64_t cpu_now = s.finished ? s.end_cpu_ns : sources_.cpu_ns();

  out.finished = s.finished;
  out.duration_s = static_cast<double>(now - s.total_origin_ns) * 1e-9;
  out.frames_captured = s.captured;
  out.frames_output = s.output;
  out.dropped = s.dropped;
  if (out.duration_s > 0) {
    out.input_fps = static_cast<double>(s.captured) / out.duration_s;
    out.output_fps = static_cast<double>(s.output) / out.duration_s;
    out.cpu_percent =
        static_cast<double>(cpu_now - s.cpu_origin_ns) * 1e-9 / out.duration_s * 100.0;
  }
  out.latency.count = s.latency_count;
  out.latency.p50 = s.histogram_percentile(0.50);
  out.latency.p95 = s.histogram_percentile(0.95);
  out.latency.max = s.latency_max;

  out.input_fps_window = window_of(s.captured_ring, now, s.origin_ns).rate();
  out.output_fps_window = window_of(s.output_ring, now, s.origin_ns).rate();
  out.dropped_window = static_cast<uint64_t>(window_of(s.dropped_ring, now, s.origin_ns).sum);

  // Exact percentiles of the last second's latencies.
  size_t n = 0;
  s.latency_ring.visit_after(now - kWindowNs, [&](const Ring::Entry& e) { s.scratch[n++] = e.v; });
  if (n > 0) {
    auto begin = s.scratch.begin();
    auto end = begin + static_cast<ptrdiff_t>(n);
    auto at = [&](double p) {
      auto nth = begin + static_cast<ptrdiff_t>(nearest_rank(p, n) - 1);
      std::nth_element(begin, nth, end);
      return *nth;
    };
    out.latency_window.count = n;
    out.latency_window.p50 = at(0.50);
    out.latency_window.p95 = at(0.95);
    out.latency_window.max = *std::max_element(begin, end);
  }

  // CPU over the last second: from the oldest sample inside it (else the newest one before it).
  if (s.cpu_size > 0) {
    const State::CpuSample* inside = nullptr;
    const State::CpuSample* before = nullptr;
    for (size_t age = 0; age < s.cpu_size; ++age) {  // newest first
      const State::CpuSample& sample = s.cpu_sample(age);
      if (sample.wall >= now - kWindowNs) {
        inside = &sample;
      } else {
        before = &sample;
        break;
      }
    }
    const State::CpuSample* base =
        inside && (now - inside->wall >= 10'000'000 || !before) ? inside : before;
    const int64_t wall = now - base->wall;
    if (wall > 1'000'000)
      out.cpu_percent_window =
          static_cast<double>(cpu_now - base->cpu) / static_cast<double>(wall) * 100.0;
  }

  out.stages.reserve(s.stages.size());
  for (const auto& stage : s.stages) {
    Stage st;
    st.name = stage.name;
    st.count = stage.count;
    st.mean_ms = stage.count ? stage.sum_ms / static_cast<double>(stage.count) : 0.0;
    st.mean_ms_window = window_of(stage.ring, now, s.origin_ns).mean();
    out.stages.push_back(std::move(st));
  }

  out.rss_mb = s.finished ? s.rss_end : rss_now;
  out.rss_mb_start = s.rss_start;
  out.rss_mb_end = s.finished ? s.rss_end : rss_now;
  return out;
}

std::string LiveStats::summary_line() const {
  const Snapshot snap = snapshot();
  std::string line = fmt::format("in {:.1f} fps | out {:.1f} fps | dropped {}",
                                 snap.input_fps_window, snap.output_fps_window, snap.dropped);
  if (snap.latency_window.count > 0)
    line += fmt::format(" | latency p50 {:.1f} p95 {:.1f} max {:.1f} ms", snap.latency_window.p50,
                        snap.latency_window.p95, snap.latency_window.max);
  else
    line += " | latency -";
  if (!snap.stages.empty()) {
    line += " |";
    for (const auto& stage : snap.stages)
      line += fmt::format(" {} {:.1f}", stage.name, stage.mean_ms_window);
    line += " ms";
  }
  line += fmt::format(" | cpu {:.0f}%", snap.cpu_percent_window);
  return line;
}

std::string LiveStats::to_json() const {
  using json = nlohmann::ordered_json;
  const Snapshot snap = snapshot();
  json j;
  j["frames"] = snap.frames_output;
  j["frames_captured"] = snap.frames_captured;
  j["duration_s"] = round_to(snap.duration_s, 3);
  j["input_fps"] = round_to(snap.input_fps, 2);
  j["output_fps"] = round_to(snap.output_fps, 2);
  j["dropped"] = snap.dropped;
  j["latency_ms_p50"] = round_to(snap.latency.p50, 2);
  j["latency_ms_p95"] = round_to(snap.latency.p95, 2);
  j["latency_ms_max"] = round_to(snap.latency.max, 2);
  j["cpu_percent"] = round_to(snap.cpu_percent, 1);
  j["rss_mb"] = round_to(snap.rss_mb, 1);
  j["rss_mb_start"] = round_to(snap.rss_mb_start, 1);
  j["rss_mb_end"] = round_to(snap.rss_mb_end, 1);
  json stages = json::object();
  json window_stages = json::object();
  for (const auto& stage : snap.stages) {
    stages[stage.name] = {{"ms", round_to(stage.mean_ms, 3)},
                          {"ms_last_second", round_to(stage.mean_ms_window, 3)},
                          {"count", stage.count}};
    window_stages[stage.name] = round_to(stage.mean_ms_window, 3);
  }
  j["stages"] = std::move(stages);
  j["last_second"] = {{"input_fps", round_to(snap.input_fps_window, 2)},
                      {"output_fps", round_to(snap.output_fps_window, 2)},
                      {"dropped", snap.dropped_window},
                      {"latency_ms_p50", round_to(snap.latency_window.p50, 2)},
                      {"latency_ms_p95", round_to(snap.latency_window.p95, 2)},
                      {"latency_ms_max", round_to(snap.latency_window.max, 2)},
                      {"cpu_percent", round_to(snap.cpu_percent_window, 1)},
                      {"stages", std::move(window_stages)}};
  j["finished"] = snap.finished;
  return j.dump();
}

}  // namespace mattecast
