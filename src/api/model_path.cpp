#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

// Preferred files inside a models folder: the official release names first. Files with random
// test parameters (the *_seed0 deep-guided-filter set) are never picked automatically.
const char* const kKnownModels[] = {
    "rvm_mobilenetv3.pth",
    "rvm_mobilenetv3_fp32.pth",
    "rvm_mobilenetv3_fp16.pth",
    "rvm_mobilenetv3_from_tfjs.pth",
    "rvm_mobilenetv3_tfjs_int8/model.json",
    "model.json",
};

std::string model_in(const fs::path& place) {
  std::error_code ec;
  if (fs::is_regular_file(place, ec)) return place.string();
  if (!fs::is_directory(place, ec)) return {};
  for (const char* name : kKnownModels)
    if (fs::is_regular_file(place / name, ec)) return (place / name).string();
  return {};
}

}  // namespace

std::string find_model(const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    std::error_code ec;
    if (!fs::exists(explicit_path, ec))
      throw Error(fmt::format("{}: model file not found", explicit_path));
    return explicit_path;
  }
  std::vector<fs::path> places;
  if (const char* env = std::getenv("MATTECAST_MODELS"); env && *env) places.emplace_back(env);
  if (const char* home = std::getenv("HOME"); home && *home)
    places.push_back(fs::path(home) / ".cache" / "mattecast");
  places.emplace_back("../shared/models");
  for (const fs::path& place : places)
    if (std::string found = model_in(place); !found.empty()) return found;

  std::string searched;
  for (const fs::path& place : places) searched += "\n  " + place.string();
  throw Error(fmt::format(
      "no model found; pass --model PATH or put rvm_mobilenetv3.pth (from the official Robust "
      "Video Matting releases) into one of:{}",
      searched));
}

float auto_downsample_ratio(int width, int height) {
  const int longer = std::max(width, height);
  return longer <= 512 ? 1.0f : float(512.0 / longer);
}

}  // namespace mattecast
