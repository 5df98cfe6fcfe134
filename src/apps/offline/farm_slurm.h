// `mattecast farm --engine slurm`: one job array for the parts not done of every input (a task
// list maps the array index to a job file and a part), requeued when a node fails, and per input
// a join job that depends on exactly its parts (--dependency=afterok). Scripts, the task list,
// the job ids and Slurm's logs live in the job folder, which every node must be able to read and
// write. Nothing waits unless asked: submit() returns the ids at once.
#pragma once

#include <string>
#include <vector>

namespace mattecast {

struct SlurmInput {
  std::string job_path;    // from plan
  std::vector<int> parts;  // the parts to run (not done)
  std::string done_mark;   // the join job creates it when the join succeeded
};

struct SlurmOptions {
  std::string executable;
  std::string job_dir;
  int threads = 0;  // per part (--cpus-per-task too); 0: the node's
  bool force = false;
};

struct SlurmSubmission {
  std::string array_id;               // "" when no part was left to run
  std::vector<std::string> join_ids;  // one per input
};

// Throws Error with sbatch's message when a submission fails (or sbatch is missing).
SlurmSubmission submit_to_slurm(const std::vector<SlurmInput>& inputs, const SlurmOptions& options);

// Blocks until none of `ids` is queued or running (polls squeue).
void wait_for_slurm(const std::vector<std::string>& ids);

}  // namespace mattecast
