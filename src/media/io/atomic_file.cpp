#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

// Distinguishes the temporaries of several AtomicFiles for the same target in one process.
std::atomic<unsigned> temp_counter{0};

// "dir/.name.tmp-<pid>-<n>.ext": hidden, in the target's folder so rename() stays on one file
// system, and the extension last so writers that pick a format by extension still work.
std::string make_temp_path(const std::filesystem::path& target, unsigned counter) {
  std::string name = fmt::format(".{}.tmp-{}-{}{}", target.stem().string(), getpid(), counter,
                                 target.extension().string());
  return (target.parent_path() / name).string();
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  if (!target.has_filename()) throw Error(fmt::format("'{}' is not a file name", path_));
  // Creating the temporary now (exclusively, so no other writer shares it) reports a missing
  // or read-only folder here, before the caller does any expensive work.
  constexpr int attempts = 100;  // only stale temporaries of an earlier process with our pid clash
  for (int attempt = 0; attempt < attempts; ++attempt) {
    std::string candidate = make_temp_path(target, temp_counter.fetch_add(1));
    const int fd = open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      close(fd);
      temp_path_ = std::move(candidate);
      return;
    }
    if (errno != EEXIST) {
      const std::string folder =
          target.has_parent_path() ? target.parent_path().string() : std::string(".");
      throw Error(fmt::format("cannot write '{}': cannot create a file in folder '{}': {}", path_,
                              folder, std::strerror(errno)));
    }
  }
  throw Error(fmt::format("cannot write '{}': no free temporary name beside it", path_));
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::commit() {
  if (committed_) throw Error(fmt::format("'{}' was already committed", path_));
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw Error(
        fmt::format("cannot rename '{}' to '{}': {}", temp_path_, path_, std::strerror(errno)));
  }
  committed_ = true;
}

}  // namespace mattecast
