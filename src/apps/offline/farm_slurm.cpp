// Slurm engine of `mattecast farm` (see farm_slurm.h).
#include "offline/farm_slurm.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// Runs a command; its stdout (stderr too), and whether it exited with 0.
std::pair<std::string, bool> run(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error(fmt::format("cannot run: {}", command));
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return {output, WIFEXITED(status) && WEXITSTATUS(status) == 0};
}

void write_script(const std::string& path, const std::string& body) {
  std::ofstream out(path);
  out << "#!/bin/sh\n" << body;
  if (!out.flush()) throw Error(fmt::format("{}: cannot write", path));
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::add);
}

std::string sbatch(const std::string& arguments) {
  const auto [output, ok] = run("sbatch --parsable " + arguments);
  if (!ok) throw Error(fmt::format("sbatch {}: {}", arguments, output));
  return output.substr(0, output.find(';'));  // "id" or "id;cluster"
}

std::string write_part_script(const std::vector<SlurmInput>& inputs, const SlurmOptions& o,
                              size_t& tasks) {
  const std::string list = o.job_dir + "/slurm-tasks.txt";
  std::ofstream out(list);
  tasks = 0;
  for (const SlurmInput& input : inputs)
    for (int part : input.parts) {
      out << part << " " << input.job_path << "\n";
      ++tasks;
    }
  if (!out.flush()) throw Error(fmt::format("{}: cannot write", list));
  const std::string threads = o.threads > 0 ? fmt::format(" --threads {}", o.threads) : "";
  const std::string script = o.job_dir + "/slurm-part.sh";
  write_script(script,
               fmt::format("# One part: line SLURM_ARRAY_TASK_ID + 1 of the task list.\n"
                           "set -e\n"
                           "line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})\n"
                           "exec {} video --job \"${{line#* }}\" --part \"${{line%% *}}\"{} "
                           "--progress plain\n",
                           quoted(list), quoted(o.executable), threads));
  return script;
}

}  // namespace

SlurmSubmission submit_to_slurm(const std::vector<SlurmInput>& inputs, const SlurmOptions& o) {
  fs::create_directories(o.job_dir);
  SlurmSubmission submission;
  size_t tasks = 0;
  const std::string part_script = write_part_script(inputs, o, tasks);
  const std::string cpus = o.threads > 0 ? fmt::format("--cpus-per-task={} ", o.threads) : "";
  if (tasks > 0)
    submission.array_id = sbatch(
        fmt::format("--job-name=mattecast-part --requeue --array=0-{} {}--output={} {}", tasks - 1,
                    cpus, quoted(o.job_dir + "/slurm-part-%A_%a.log"), quoted(part_script)));
  size_t first_task = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SlurmInput& input = inputs[i];
    std::string after;
    for (size_t t = 0; t < input.parts.size(); ++t)
      after += fmt::format("{}{}_{}", after.empty() ? "afterok:" : ":", submission.array_id,
                           first_task + t);
    first_task += input.parts.size();
    const std::string script = fmt::format("{}/slurm-join-{}.sh", o.job_dir, i);
    write_script(script, fmt::format("set -e\n{} join {}{}\ntouch {}\n", quoted(o.executable),
                                     quoted(input.job_path), o.force ? " --force" : "",
                                     quoted(input.done_mark)));
    const std::string dependency =
        after.empty() ? "" : fmt::format("--dependency={} --kill-on-invalid-dep=yes ", after);
    submission.join_ids.push_back(sbatch(
        fmt::format("--job-name=mattecast-join {}--output={} {}", dependency,
                    quoted(fmt::format("{}/slurm-join-{}-%j.log", o.job_dir, i)), quoted(script))));
  }
  std::ofstream(o.job_dir + "/slurm-ids.txt")
      << "array " << submission.array_id << "\n"
      << "joins " << fmt::format("{}", fmt::join(submission.join_ids, " ")) << "\n";
  return submission;
}

void wait_for_slurm(const std::vector<std::string>& ids) {
  const std::string list = fmt::format("{}", fmt::join(ids, ","));
  for (;;) {
    const auto [output, ok] = run(fmt::format("squeue -h -o %i -j {}", list));
    if (ok && output.empty()) return;
    if (!ok && output.find("Invalid job id") != std::string::npos) return;  // all gone
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace mattecast
