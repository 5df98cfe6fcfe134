// Progress of a long job on the terminal: one updating line with a bar on a TTY, a plain line
// every few seconds otherwise (logs, CI), nothing when quiet.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace mattecast {

class ProgressDisplay {
 public:
  enum class Mode { automatic, tty, plain, quiet };

  // `total` frames, or -1 when unknown (no bar, no ETA). Automatic picks tty or plain from
  // whether `out` is a terminal.
  ProgressDisplay(Mode mode, int64_t total, std::FILE* out = stderr);

  // Throttled: redraws at most 5 times a second (tty) or every 5 seconds (plain).
  void update(int64_t done, double elapsed_seconds);
  // Clears the tty line so the summary starts on a clean line.
  void finish();

  // "[########------------]  120/300  28.5 fps  ETA 0:06" (exposed for tests).
  static std::string format_line(int64_t done, int64_t total, double elapsed_seconds,
                                 int bar_width);

 private:
  Mode mode_;
  int64_t total_;
  std::FILE* out_;
  double last_shown_ = -1e9;
  bool drawn_ = false;
};

std::string format_duration(double seconds);  // "0:06", "1:02:03"

}  // namespace mattecast
