// Runs the built mattecast CLI as a user would, with stdout and stderr together.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace mattecast::testing {

struct CliResult {
  int status;          // exit status; -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// `environment`: shell words put before the command, e.g. "MATTECAST_ISA=avx2" or "cd / &&".
inline CliResult run_cli(const std::string& arguments, const std::string& environment = "") {
  const std::string command = fmt::format("{} '{}' {} 2>&1", environment, MATTECAST_CLI, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace mattecast::testing
