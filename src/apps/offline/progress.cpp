#include "offline/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace mattecast {

std::string format_duration(double seconds) {
  const auto s = int64_t(std::max(0.0, std::round(seconds)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

ProgressDisplay::ProgressDisplay(Mode mode, int64_t total, std::FILE* out)
    : mode_(mode), total_(total), out_(out) {
  if (mode_ == Mode::automatic) mode_ = isatty(fileno(out_)) ? Mode::tty : Mode::plain;
}

std::string ProgressDisplay::format_line(int64_t done, int64_t total, double elapsed,
                                         int bar_width) {
  const double fps = elapsed > 0 ? double(done) / elapsed : 0.0;
  if (total <= 0)
    return fmt::format("{} frames  {:.1f} fps  {}", done, fps, format_duration(elapsed));
  const double fraction = std::clamp(double(done) / double(total), 0.0, 1.0);
  std::string bar;
  if (bar_width > 0) {
    const int filled = int(fraction * bar_width);
    bar = fmt::format("[{:#<{}}{:-<{}}] ", "", filled, "", bar_width - filled);
  }
  const std::string eta =
      fps > 0 ? format_duration(double(std::max<int64_t>(total - done, 0)) / fps) : "?";
  return fmt::format("{}{}/{} frames  {:.1f} fps  ETA {}", bar, done, total, fps, eta);
}

void ProgressDisplay::update(int64_t done, double elapsed) {
  if (mode_ == Mode::quiet) return;
  const double interval = mode_ == Mode::tty ? 0.2 : 5.0;
  if (elapsed - last_shown_ < interval && done != total_) return;
  last_shown_ = elapsed;
  if (mode_ == Mode::tty) {
    fmt::print(out_, "\r{}\x1b[K", format_line(done, total_, elapsed, 30));
    drawn_ = true;
  } else {
    fmt::print(out_, "{}\n", format_line(done, total_, elapsed, 0));
  }
  std::fflush(out_);
}

void ProgressDisplay::finish() {
  if (mode_ == Mode::tty && drawn_) fmt::print(out_, "\r\x1b[K");
  std::fflush(out_);
}

}  // namespace mattecast
