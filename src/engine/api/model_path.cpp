#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "mattecast/mattecast.h"
#include "models/segmentation_profile.h"

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

std::vector<std::string> model_search_path() {
  std::vector<std::string> places;
  const auto env = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
  };
  if (const char* models = env("MATTECAST_MODELS")) places.emplace_back(models);
  const char* home = env("HOME");
  if (const char* data = env("XDG_DATA_HOME"))
    places.push_back((fs::path(data) / "mattecast" / "models").string());
  else if (home)
    places.push_back((fs::path(home) / ".local" / "share" / "mattecast" / "models").string());
  if (home) places.push_back((fs::path(home) / ".cache" / "mattecast").string());  // old place
  places.emplace_back("/usr/local/share/mattecast/models");
  places.emplace_back("/usr/share/mattecast/models");
  // A source checkout: the shared folder beside it, seen from build/mattecast or from the checkout.
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside_checkout = exe.parent_path().parent_path().parent_path();
    places.push_back((beside_checkout / "shared" / "models").string());
  }
  places.emplace_back("../shared/models");
  return places;
}

namespace {

// The places, one per line, for messages.
std::string listed(const std::vector<std::string>& places) {
  std::string text;
  for (const std::string& place : places) text += "\n  " + place;
  return text;
}

// A shipped light model by its short name: its file in a search place or that place's folder for it.
std::string find_light_model(const KnownSegmentationModel& known,
                             const std::vector<std::string>& places) {
  for (const std::string& place : places) {
    std::error_code ec;
    for (const fs::path& candidate : {fs::path(place) / known.file,
                                      fs::path(place) / known.folder / known.file})
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  throw Error(fmt::format("model '{}': {} not found in any of:{}", known.profile.name, known.file,
                          listed(places)));
}

}  // namespace

std::string find_model(const std::string& explicit_path) {
  const std::vector<std::string> places = model_search_path();
  if (!explicit_path.empty()) {
    std::error_code ec;
    if (fs::exists(explicit_path, ec)) return explicit_path;
    if (const auto* known = find_segmentation_model_by_name(explicit_path))
      return find_light_model(*known, places);
    throw Error(fmt::format("{}: model file not found", explicit_path));
  }
  for (const std::string& place : places)
    if (std::string found = model_in(place); !found.empty()) return found;
  throw Error(fmt::format(
      "no model found; pass --model PATH or put rvm_mobilenetv3.pth (from the official Robust "
      "Video Matting releases) into one of:{}",
      listed(places)));
}

float auto_downsample_ratio(int width, int height) {
  const int longer = std::max(width, height);
  return longer <= 512 ? 1.0f : float(512.0 / longer);
}

}  // namespace mattecast
