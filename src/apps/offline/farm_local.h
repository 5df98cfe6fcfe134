// `mattecast farm --engine local`: runs planned parts on this machine, W at a time, each as its own
// process (`mattecast video --job JOB --part K`), exactly as a cluster node would run it, with its
// output in a log file beside the part.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace mattecast {

struct PartTask {
  std::string job_path;
  int part = 0;
  std::string log_path;
};

struct PartOutcome {
  PartTask task;
  int status = 0;  // the process's exit status; -1 when killed by a signal or not started
  double seconds = 0;
};

struct LocalFarmOptions {
  std::string executable;
  int workers = 1;
  int threads = 0;                              // per part; 0: the job's setting
  const std::atomic<bool>* abort = nullptr;     // set: running parts get SIGTERM, none start
  std::function<void(const std::string&)> log;  // a line per part started and ended
};

std::vector<PartOutcome> run_parts_locally(const std::vector<PartTask>& tasks,
                                           const LocalFarmOptions& options);

}  // namespace mattecast
