#include "io/frame_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "io/image.h"
#include "mattecast/mattecast.h"

namespace mattecast {

namespace fs = std::filesystem;

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(uint8_t(a[i])) && std::isdigit(uint8_t(b[j]))) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && std::isdigit(uint8_t(a[i_end]))) ++i_end;
      while (j_end < b.size() && std::isdigit(uint8_t(b[j_end]))) ++j_end;
      // Compare the numbers by value: strip leading zeros, then length, then digits.
      size_t i_start = i, j_start = j;
      while (i_start + 1 < i_end && a[i_start] == '0') ++i_start;
      while (j_start + 1 < j_end && b[j_start] == '0') ++j_start;
      const size_t i_len = i_end - i_start, j_len = j_end - j_start;
      if (i_len != j_len) return i_len < j_len;
      const int order = a.compare(i_start, i_len, b, j_start, j_len);
      if (order != 0) return order < 0;
      i = i_end, j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> list_images(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(fmt::format("{}: not a folder", folder));
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::error_code unreadable;  // a dangling link is skipped like any other non-image
    if (entry.is_regular_file(unreadable) && is_image_path(entry.path().string()))
      names.push_back(entry.path().filename().string());
  }
  if (ec) throw Error(fmt::format("{}: cannot list: {}", folder, ec.message()));
  if (names.empty()) throw Error(fmt::format("{}: no images in this folder", folder));
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

}  // namespace mattecast
