#include "live/latest_frame.h"

#include <utility>

namespace mattecast {

// ---- clocks ----

namespace {

// One condition variable for all the sleepers of a SteadyClock: a stop request wakes it, a
// deadline is a timeout.
struct SteadySleep {
  std::mutex mutex;
  std::condition_variable_any cv;
};

SteadySleep& steady_sleep() {
  static SteadySleep sleep;
  return sleep;
}

}  // namespace

int64_t SteadyClock::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool SteadyClock::sleep_until(int64_t deadline_ns, std::stop_token stop) {
  if (now_ns() >= deadline_ns) return true;
  const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds(deadline_ns)};
  SteadySleep& sleep = steady_sleep();
  std::unique_lock lock(sleep.mutex);
  // The predicate is only true on a stop request; reaching the deadline is a timeout.
  sleep.cv.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested() && now_ns() >= deadline_ns;
}

FakeClock::FakeClock(Mode mode, int64_t start_ns) : mode_(mode), now_ns_(start_ns) {}

int64_t FakeClock::now_ns() const {
  std::lock_guard lock(mutex_);
  return now_ns_;
}

bool FakeClock::sleep_until(int64_t deadline_ns, std::stop_token stop) {
  std::unique_lock lock(mutex_);
  if (now_ns_ >= deadline_ns) return true;
  if (stop.stop_requested()) return false;
  if (mode_ == Mode::auto_advance) {
    now_ns_ = deadline_ns;
    changed_.notify_all();
    return true;
  }
  const auto entry = sleepers_.insert(deadline_ns);
  changed_.notify_all();  // for wait_for_sleeper()
  const bool reached = changed_.wait(lock, stop, [&] { return now_ns_ >= deadline_ns; });
  sleepers_.erase(entry);
  return reached;
}

void FakeClock::set_ns(int64_t now_ns) {
  std::lock_guard lock(mutex_);
  if (now_ns > now_ns_) now_ns_ = now_ns;
  changed_.notify_all();
}

void FakeClock::advance_ns(int64_t delta_ns) {
  std::lock_guard lock(mutex_);
  if (delta_ns > 0) now_ns_ += delta_ns;
  changed_.notify_all();
}

std::optional<int64_t> FakeClock::wait_for_sleeper(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  // Sleepers whose deadline has passed are on their way out, not blocked.
  const auto blocked = [&] { return sleepers_.upper_bound(now_ns_) != sleepers_.end(); };
  if (!changed_.wait_for(lock, timeout, blocked)) return std::nullopt;
  return *sleepers_.upper_bound(now_ns_);
}

std::optional<int64_t> FakeClock::wake_next(std::chrono::milliseconds timeout) {
  const std::optional<int64_t> deadline = wait_for_sleeper(timeout);
  if (deadline) set_ns(*deadline);
  return deadline;
}

// ---- frames ----

namespace {

// condition_variable::wait_for with any timeout: negative is zero, and one too large to add to
// the current time waits without a limit.
template <typename Predicate>
bool wait_at_most(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  std::chrono::nanoseconds timeout, Predicate ready) {
  if (timeout <= std::chrono::nanoseconds::zero()) return ready();
  if (timeout >= std::chrono::hours(24 * 365)) {
    cv.wait(lock, ready);
    return true;
  }
  return cv.wait_for(lock, timeout, ready);
}

}  // namespace

void LiveFrame::resize(int new_width, int new_height) {
  width = new_width;
  height = new_height;
  stride = ptrdiff_t(new_width) * 3;
  const size_t bytes = size_t(stride) * size_t(new_height);
  if (rgb.size() != bytes) rgb.resize(bytes);
}

void LatestFrame::publish() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    spare_.sequence = counters_.published++;
    if (has_pending_) ++counters_.dropped;
    // The producer gets back the dropped frame's buffer, or the one the consumer returned.
    std::swap(spare_, pending_);
    has_pending_ = true;
  }
  ready_.notify_one();
}

void LatestFrame::close(const std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    error_ = error;
  }
  ready_.notify_all();
}

TakeResult LatestFrame::take(LiveFrame& frame, std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!wait_at_most(ready_, lock, timeout, [&] { return has_pending_ || closed_; })) {
    return TakeResult::timeout;
  }
  if (!has_pending_) return TakeResult::closed;
  std::swap(frame, pending_);
  has_pending_ = false;
  ++counters_.taken;
  return TakeResult::frame;
}

TakeResult LatestFrame::take(LiveFrame& frame) {
  return take(frame, std::chrono::nanoseconds::max());
}

bool LatestFrame::wait(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mutex_);
  wait_at_most(ready_, lock, timeout, [&] { return has_pending_ || closed_; });
  return has_pending_;
}

bool LatestFrame::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::string LatestFrame::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

LatestFrameCounters LatestFrame::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

int LatestFrame::backlog() const {
  std::lock_guard lock(mutex_);
  return has_pending_ ? 1 : 0;
}

}  // namespace mattecast
