// Local engine of `mattecast farm` (see farm_local.h).
#include "offline/farm_local.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "mattecast/mattecast.h"

extern char** environ;

namespace mattecast {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t task;
  Clock::time_point start;
};

pid_t spawn_part(const PartTask& task, const LocalFarmOptions& options) {
  std::vector<std::string> args = {options.executable, "video",  "--job",
                                   task.job_path,      "--part", std::to_string(task.part),
                                   "--quiet"};
  if (options.threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(options.threads));
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, task.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, options.executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw Error(fmt::format("{}: cannot start a part: {}", options.executable, strerror(rc)));
  return pid;
}

void log(const LocalFarmOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

}  // namespace

std::vector<PartOutcome> run_parts_locally(const std::vector<PartTask>& tasks,
                                           const LocalFarmOptions& options) {
  std::vector<PartOutcome> outcomes;
  std::map<pid_t, Running> running;
  size_t next = 0;
  bool stopping = false;
  while (next < tasks.size() || !running.empty()) {
    stopping = stopping || (options.abort && options.abort->load());
    if (stopping)
      for (const auto& entry : running) kill(entry.first, SIGTERM);
    while (!stopping && next < tasks.size() &&
           running.size() < size_t(std::max(1, options.workers))) {
      const pid_t pid = spawn_part(tasks[next], options);
      log(options, fmt::format("part {} of {}: started (pid {})", tasks[next].part,
                               tasks[next].job_path, pid));
      running[pid] = {next++, Clock::now()};
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, stopping ? 0 : WNOHANG);
    if (pid <= 0 || !running.count(pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const Running r = running[pid];
    running.erase(pid);
    PartOutcome outcome{tasks[r.task], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                        std::chrono::duration<double>(Clock::now() - r.start).count()};
    log(options, outcome.status == 0
                     ? fmt::format("part {}: done in {:.1f} s", outcome.task.part, outcome.seconds)
                     : fmt::format("part {}: failed (exit status {}), see {}", outcome.task.part,
                                   outcome.status, outcome.task.log_path));
    outcomes.push_back(outcome);
  }
  return outcomes;
}

}  // namespace mattecast
