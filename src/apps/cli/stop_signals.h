// Ctrl-C and SIGTERM ask a running job to stop between frames (so that it can remove or finish
// its outputs) instead of killing the process. The previous handlers come back on destruction.
#pragma once

#include <atomic>
#include <csignal>

namespace mattecast::cli {

class StopSignals {
 public:
  // With `ignore_sigpipe`, a reader of stdout that goes away shows up as EPIPE, not a kill.
  explicit StopSignals(bool ignore_sigpipe = false);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Set by the signal handler; the job polls it (clear when the guard is made).
  const std::atomic<bool>& requested() const;

 private:
  bool ignore_sigpipe_;
  struct sigaction old_int_ {
  }, old_term_{}, old_pipe_{};
};

}  // namespace mattecast::cli
