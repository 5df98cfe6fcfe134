// The offline job's scheduling, as FFmpeg's ffmpeg_sched.c is for its stages: the pools of frame
// and matte slots, the bounded queues that carry them from stage to stage, the first failure that
// stops every stage, the idle-time scheduling of the decode and output threads, and the warnings
// of every thread, serialised.
//
//   free_slots -> decode -> to_matting -> matting (+ free_mattes) -> to_output -> output
//   output returns each frame's slot and matte to free_slots and free_mattes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "mattecast/mattecast.h"
#include "offline/bounded_queue.h"

namespace mattecast {

using JobClock = std::chrono::steady_clock;

double ms_since(JobClock::time_point start);

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
  void enter();
  // Every thread that entered is scheduled normally again; idempotent.
  void restore();

 private:
  std::mutex mutex_;
  std::vector<pid_t> threads_;
  bool restored_ = false;
};

class Pipeline {
 public:
  // `warn` may be empty; `abort`, when given, stops the job once set.
  Pipeline(std::function<void(const std::string&)> warn, const std::atomic<bool>* abort);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  BoundedQueue<FrameSlot*> free_slots{kFrameSlots}, to_matting{kFrameSlots}, to_output{kFrameSlots};
  BoundedQueue<Matte*> free_mattes{kMatteSlots};
  IdleTimeThreads idle_threads;

  // From any thread (the sinks, the decoder, the job), one message at a time.
  void warn(const std::string& message);
  bool aborted() const { return abort_ && abort_->load(); }
  // Aborted, or a stage failed: every stage ends its loop.
  bool stop_requested() const { return aborted() || failed_; }
  // Keeps the first failure of any stage and stops the others.
  void fail(std::exception_ptr error);
  // On the calling thread, once the stages have ended.
  void rethrow_failure();
  // Closes every queue (waking every stage) and schedules the idle-time threads normally again
  // (a stopping job must not wait for the machine to go idle). Idempotent.
  void stop_all();

  // Pops from `queue`; when that takes longer than a frame ever should (the idle-time threads are
  // starved), they go back to normal scheduling.
  template <typename T>
  std::optional<T> pop_or_restore(BoundedQueue<T>& queue) {
    bool timed_out = false;
    auto item = queue.pop_for(kStarvedAfter, timed_out);
    if (!timed_out) return item;
    idle_threads.restore();
    return queue.pop();
  }

 private:
  static constexpr auto kStarvedAfter = std::chrono::milliseconds(150);

  std::vector<FrameSlot> slots_;
  std::vector<Matte> mattes_;
  std::function<void(const std::string&)> warn_;
  std::mutex warn_mutex_;
  const std::atomic<bool>* abort_;
  std::mutex failure_mutex_;
  std::exception_ptr failure_;
  std::atomic<bool> failed_{false};
};

}  // namespace mattecast
