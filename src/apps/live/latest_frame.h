// The hand-off from a capture thread to the processing thread: only the newest frame waits.
//
//   Producer (capture thread):                 Consumer (processing thread):
//     LiveFrame& f = latest.producer_frame();    LiveFrame frame;           // reused every time
//     fill f.rgb, f.width, ..., f.capture_ns     for (;;) {
//     latest.publish();                            auto got = latest.take(frame, 2s);
//     ...                                          if (got == TakeResult::timeout) continue;
//     latest.close();           // end of stream   if (got == TakeResult::closed) break;
//     latest.close("camera disappeared");          process(frame.view());
//                                                }
//                                                if (!latest.error().empty()) report it
//
// At most one frame is pending: publishing over an untaken frame replaces it (counted in
// dropped), so a slow consumer always gets the newest picture and never a backlog. Frames move by
// swapping buffers among the producer's spare, the pending slot and the consumer's frame: once
// every buffer has the frame size, nothing is allocated.
//
// The Clock interface gives the capture side its notion of time (capture_ns stamps, pacing of
// files played as live): SteadyClock for real runs, FakeClock for deterministic tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// Monotonic time in nanoseconds (the origin is the clock's own).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ns() const = 0;
  // Blocks until now_ns() >= deadline_ns (true) or until `stop` is requested (false). Returns
  // true at once if the deadline has passed.
  virtual bool sleep_until(int64_t deadline_ns, std::stop_token stop) = 0;
};

// std::chrono::steady_clock (CLOCK_MONOTONIC on Linux, the clock of V4L2 buffer timestamps).
class SteadyClock final : public Clock {
 public:
  int64_t now_ns() const override;
  bool sleep_until(int64_t deadline_ns, std::stop_token stop) override;
};

// A clock that moves only when told to, for tests.
//   auto_advance: sleep_until(t) jumps the time to t and returns at once (a producer runs as fast
//                 as it can, with the timestamps of real time);
//   manual:       sleep_until(t) blocks until the test moves the time to t or beyond. With
//                 wait_for_sleeper() / wake_next() a test steps a producer thread one deadline
//                 at a time, deterministically.
class FakeClock final : public Clock {
 public:
  enum class Mode { auto_advance, manual };
  explicit FakeClock(Mode mode = Mode::auto_advance, int64_t start_ns = 0);

  int64_t now_ns() const override;
  bool sleep_until(int64_t deadline_ns, std::stop_token stop) override;

  void set_ns(int64_t now_ns);  // never backwards: an earlier time is ignored
  void advance_ns(int64_t delta_ns);
  // Waits (in real time, up to `timeout`) until some thread is blocked in sleep_until() on a
  // deadline still ahead; returns the earliest such deadline, or nullopt on timeout.
  std::optional<int64_t> wait_for_sleeper(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // wait_for_sleeper(), then set the time to that deadline, which wakes the sleeper.
  std::optional<int64_t> wake_next(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  const Mode mode_;
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  int64_t now_ns_;
  std::multiset<int64_t> sleepers_;  // deadlines of the threads blocked in sleep_until()
};

// One frame of packed RGB24, with its timing.
struct LiveFrame {
  std::vector<uint8_t> rgb;  // height rows of `stride` bytes (stride = 3 * width when packed)
  int width = 0;
  int height = 0;
  ptrdiff_t stride = 0;
  int64_t capture_ns = 0;     // Clock time at which the frame was captured (or became due)
  double source_seconds = 0;  // the frame's time in its source: camera time since its first
                              // frame, or the file's pts (still increasing when a file loops)
  int64_t sequence = 0;       // set by publish(): 0, 1, 2, ... over all published frames, so a
                              // gap seen by the consumer is the number of frames dropped

  RgbImage view() const { return {rgb.data(), width, height, stride}; }
  // Makes room for width x height packed RGB (allocates only when the size grows).
  void resize(int new_width, int new_height);
};

struct LatestFrameCounters {
  int64_t published = 0;
  int64_t taken = 0;
  int64_t dropped = 0;  // published but replaced before a take()
};

enum class TakeResult {
  frame,    // `frame` holds the newest frame
  timeout,  // nothing arrived in time (the stream is still open)
  closed,   // closed and nothing pending: end of stream, or error() says why
};

class LatestFrame {
 public:
  LatestFrame() = default;
  LatestFrame(const LatestFrame&) = delete;
  LatestFrame& operator=(const LatestFrame&) = delete;

  // ---- producer (one thread) ----
  // The buffer to fill next. Owned by the producer until publish(); it holds old pixels of the
  // right size in steady state (only the fields, not the contents, need to be written).
  LiveFrame& producer_frame() { return spare_; }
  // Makes producer_frame() the pending frame (replacing, and counting as dropped, an untaken one)
  // and wakes the consumer. Ignored after close().
  void publish();
  // Ends the stream: the consumer takes what is pending, then gets TakeResult::closed. A
  // non-empty `error` (e.g. "camera /dev/video0 disappeared") is kept for error(); the first
  // close() wins.
  void close(const std::string& error = {});

  // ---- consumer (one thread) ----
  // Swaps the pending frame into `frame` (whose old buffer goes back to the producer). Waits up to
  // `timeout` for one to arrive; a zero timeout only looks.
  TakeResult take(LiveFrame& frame, std::chrono::nanoseconds timeout);
  TakeResult take(LiveFrame& frame);  // waits without a time limit
  // Waits until a frame is pending (true) or the stream is closed / the timeout passed (false),
  // without taking anything.
  bool wait(std::chrono::nanoseconds timeout);

  // ---- either side ----
  bool closed() const;
  std::string error() const;  // "" for a clean end of stream
  LatestFrameCounters counters() const;
  int backlog() const;  // frames waiting: 0 or 1

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  LiveFrame spare_;    // the producer's
  LiveFrame pending_;  // valid when has_pending_
  bool has_pending_ = false;
  bool closed_ = false;
  std::string error_;
  LatestFrameCounters counters_;
};

}  // namespace mattecast
