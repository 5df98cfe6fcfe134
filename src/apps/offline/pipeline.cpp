// The offline job's scheduling (see pipeline.h).
#include "offline/pipeline.h"

#include <sched.h>
#include <unistd.h>

namespace mattecast {

double ms_since(JobClock::time_point start) {
  return std::chrono::duration<double, std::milli>(JobClock::now() - start).count();
}

void IdleTimeThreads::enter() {
  std::lock_guard lock(mutex_);
  if (restored_) return;
  sched_param param{};
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) threads_.push_back(gettid());
}

void IdleTimeThreads::restore() {
  std::lock_guard lock(mutex_);
  if (restored_) return;
  restored_ = true;
  sched_param param{};
  for (pid_t thread : threads_) sched_setscheduler(thread, SCHED_OTHER, &param);
}

Pipeline::Pipeline(std::function<void(const std::string&)> warn, const std::atomic<bool>* abort)
    : slots_(kFrameSlots), mattes_(kMatteSlots), warn_(std::move(warn)), abort_(abort) {
  for (auto& slot : slots_) free_slots.push(&slot);
  for (auto& matte : mattes_) free_mattes.push(&matte);
}

void Pipeline::warn(const std::string& message) {
  std::lock_guard lock(warn_mutex_);
  if (warn_) warn_(message);
}

void Pipeline::fail(std::exception_ptr error) {
  {
    std::lock_guard lock(failure_mutex_);
    if (!failure_) failure_ = error;
    failed_ = true;
  }
  stop_all();
}

void Pipeline::rethrow_failure() {
  if (failure_) std::rethrow_exception(failure_);
}

void Pipeline::stop_all() {
  idle_threads.restore();
  free_slots.close();
  free_mattes.close();
  to_matting.close();
  to_output.close();
}

}  // namespace mattecast
