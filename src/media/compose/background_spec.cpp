// Background specs: colour names, #RGB / #RRGGBB, blur strengths, and files probed as a still or
// a video (see parse_background in background.h).
#include "compose/background.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "io/image.h"
#include "video/video_reader.h"

namespace mattecast {

namespace {

namespace fs = std::filesystem;

struct NamedColour {
  std::string_view name;
  Rgb8 colour;
};
constexpr std::array<NamedColour, 15> kColours = {{
    {"green", kDefaultGreen},  // RVM's green, not #00ff00
    {"black", {0, 0, 0}},
    {"white", {255, 255, 255}},
    {"gray", {128, 128, 128}},
    {"grey", {128, 128, 128}},
    {"red", {255, 0, 0}},
    {"blue", {0, 0, 255}},
    {"yellow", {255, 255, 0}},
    {"cyan", {0, 255, 255}},
    {"magenta", {255, 0, 255}},
    {"orange", {255, 165, 0}},
    {"purple", {128, 0, 128}},
    {"pink", {255, 192, 203}},
    {"brown", {139, 69, 19}},
    {"navy", {0, 0, 128}},
}};

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = char(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<Rgb8> parse_hex(std::string_view hex) {  // without the '#', lowercase
  if (hex.size() != 3 && hex.size() != 6) return std::nullopt;
  std::array<int, 6> digits{};
  for (size_t i = 0; i < hex.size(); ++i) {
    digits[i] = hex_digit(hex[i]);
    if (digits[i] < 0) return std::nullopt;
  }
  if (hex.size() == 3) {
    return Rgb8{uint8_t(digits[0] * 17), uint8_t(digits[1] * 17), uint8_t(digits[2] * 17)};
  }
  return Rgb8{uint8_t(digits[0] * 16 + digits[1]), uint8_t(digits[2] * 16 + digits[3]),
              uint8_t(digits[4] * 16 + digits[5])};
}

BackgroundSpec probe_file(const std::string& text) {
  BackgroundSpec spec;
  spec.path = text;
  const fs::path path(text);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw Error(
        fmt::format("background '{}': not a colour, 'blur[:STRENGTH][:disc]', 'transparent', or "
                    "an existing image or video file",
                    text));
  }
  if (fs::is_directory(status)) {
    throw Error(fmt::format("background '{}': is a folder, not an image or video file", text));
  }
  if (is_image_path(text)) {
    // A still by its name: it must decode (read_image's message names the file and the reason).
    try {
      read_image(text);
    } catch (const Error& e) {
      throw Error(fmt::format("background '{}': not a usable image: {}", text, e.what()));
    }
    spec.kind = BackgroundSpec::Kind::image;
    return spec;
  }
  // Anything else: a video when FFmpeg decodes more than one frame of it, a still when one.
  int frames = 0;
  try {
    VideoReader reader(text, {.threads = 1});
    VideoFrame frame;
    while (frames < 2 && reader.read(frame)) ++frames;
  } catch (const Error& e) {
    throw Error(fmt::format("background '{}': not an image or video file: {}", text, e.what()));
  }
  if (frames == 0) {
    throw Error(fmt::format("background '{}': no picture could be decoded from the file", text));
  }
  spec.kind = frames >= 2 ? BackgroundSpec::Kind::video : BackgroundSpec::Kind::image;
  if (spec.kind == BackgroundSpec::Kind::image) {
    try {
      read_image(text);
    } catch (const Error& e) {
      throw Error(fmt::format("background '{}': not a usable image: {}", text, e.what()));
    }
  }
  return spec;
}

// "blur[:STRENGTH][:disc|:gaussian]"; `lower` is `text` in lower case.
BackgroundSpec parse_blur(std::string_view text, std::string_view lower) {
  BackgroundSpec spec;
  spec.kind = BackgroundSpec::Kind::blur;
  spec.blur_strength = kDefaultBlurStrength;
  std::string_view rest = lower.substr(std::min(lower.size(), size_t(5)));  // after "blur:"
  for (const auto& [name, shape] :
       {std::pair{":disc", BlurShape::disc}, std::pair{":gaussian", BlurShape::gaussian}}) {
    if (rest == std::string_view(name).substr(1)) {  // "blur:disc": the default strength
      spec.blur_shape = shape;
      return spec;
    }
    if (rest.ends_with(name)) {
      spec.blur_shape = shape;
      rest.remove_suffix(std::string_view(name).size());
      break;
    }
  }
  if (lower != "blur") {
    const std::string_view number = rest;
    float strength = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), strength);
    if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(strength) ||
        strength <= 0 || strength > kMaxBlurStrength) {
      throw Error(
          fmt::format("background '{}': the blur strength must be a number above 0 and "
                      "at most {} (pixels at 720 lines; default {}), optionally followed by "
                      "':disc' for a lens blur",
                      text, kMaxBlurStrength, kDefaultBlurStrength));
    }
    spec.blur_strength = strength;
  }
  return spec;
}

}  // namespace

BackgroundSpec parse_background(std::string_view text_view) {
  const std::string text(text_view);
  const std::string lower = lowercase(text);
  BackgroundSpec spec;
  if (lower.empty()) {
    throw Error(
        "background '': empty; give a colour, 'blur[:STRENGTH][:disc]', 'transparent', or an "
        "image or video file");
  }
  for (const NamedColour& named : kColours) {
    if (lower == named.name) {
      spec.kind = BackgroundSpec::Kind::colour;
      spec.colour = named.colour;
      return spec;
    }
  }
  if (lower[0] == '#') {
    const std::optional<Rgb8> colour = parse_hex(std::string_view(lower).substr(1));
    if (!colour) {
      throw Error(
          fmt::format("background '{}': not a colour (use #RGB or #RRGGBB in hex digits)", text));
    }
    spec.kind = BackgroundSpec::Kind::colour;
    spec.colour = *colour;
    return spec;
  }
  if (lower == "transparent" || lower == "none") {
    spec.kind = BackgroundSpec::Kind::transparent;
    return spec;
  }
  if (lower == "blur" || lower.starts_with("blur:")) return parse_blur(text, lower);
  return probe_file(text);
}

}  // namespace mattecast
