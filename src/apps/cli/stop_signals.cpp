#include "stop_signals.h"

namespace mattecast::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested.store(true); }

}  // namespace

StopSignals::StopSignals(bool ignore_sigpipe) : ignore_sigpipe_(ignore_sigpipe) {
  g_stop_requested.store(false);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
  if (ignore_sigpipe_) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  if (ignore_sigpipe_) sigaction(SIGPIPE, &old_pipe_, nullptr);
}

const std::atomic<bool>& StopSignals::requested() const { return g_stop_requested; }

}  // namespace mattecast::cli
