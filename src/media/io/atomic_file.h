// Output files appear whole or not at all: write to a temporary name beside the target, then
// rename over it on commit(). Destroying an uncommitted AtomicFile removes the temporary.
#pragma once

#include <string>

namespace mattecast {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws Error if the folder is not writable
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& path() const { return path_; }
  void commit();  // renames the temporary to the final path

 private:
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
};

}  // namespace mattecast
