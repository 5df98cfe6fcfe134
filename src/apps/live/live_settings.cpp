#include "live/live_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

using json = nlohmann::ordered_json;

// Floats as the shortest text that reads back to them (0.1f prints as 0.1, not 0.100000001).
double tidy(float value) {
  const std::string text = fmt::format("{}", value);
  return std::strtod(text.c_str(), nullptr);
}

std::string lower_trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Ranges, checked on the value as given (a double) before it is narrowed to float.
struct Range {
  double low, high;
  bool low_open;
};
constexpr Range kBlurRange{0, 100, true};
constexpr Range kFeatherRange{0, 50, false};
constexpr Range kEdgeRange{0, 1, false};
constexpr Range kTemporalRange{0, 0.95, false};
constexpr Range kHarmonizeRange{0, 1, false};

void check_range(const char* field, double value, Range range) {
  const bool ok = std::isfinite(value) &&
                  (range.low_open ? value > range.low : value >= range.low) && value <= range.high;
  if (!ok)
    throw Error(fmt::format("{}: {} is out of range {}{}, {}]", field, value,
                            range.low_open ? "(" : "[", range.low, range.high));
}

// "blur:N" → N when the text is the blur with a strength, nullopt for anything else. A malformed
// strength ("blur:abc") throws, naming the background.
std::optional<double> blur_strength_in(const std::string& lowered) {
  constexpr std::string_view prefix = "blur:";
  if (lowered.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string_view number = std::string_view(lowered).substr(prefix.size());
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty())
    throw Error(fmt::format(
        "background: '{}' has no valid blur strength (expected blur:N, 0 < N <= 100)", lowered));
  return value;
}

void check_background(const std::string& background, const BackgroundValidator& validate) {
  const std::string lowered = lower_trimmed(background);
  if (lowered.empty()) throw Error("background: must not be empty");
  if (lowered == "transparent" || lowered == "none")
    throw Error(fmt::format(
        "background: '{}' is not available live (the webcam output has no alpha)", background));
  if (!validate) return;
  try {
    validate(background);
  } catch (const std::exception& e) {
    throw Error(fmt::format("background: {}", e.what()));
  }
}

constexpr const char* kFields[] = {"background",   "blur_strength", "mirror",    "feather_px",
                                   "feather_mode", "shrink_px",     "grow_px",   "edge_low",
                                   "edge_high",    "temporal",      "harmonize", "light_wrap_px",
                                   "poisson"};

double number_field(const char* field, const json& value) {
  if (!value.is_number())
    throw Error(fmt::format("{}: must be a number, not {}", field, value.type_name()));
  return value.get<double>();
}

FeatherMode feather_mode_field(const json& value) {
  if (!value.is_string())
    throw Error(fmt::format("feather_mode: must be a string, not {}", value.type_name()));
  const auto mode = parse_feather_mode(lower_trimmed(value.get<std::string>()));
  if (!mode)
    throw Error(fmt::format("feather_mode: '{}' is not inward, outward or centred",
                            value.get<std::string>()));
  return *mode;
}

// Strips nlohmann's "[json.exception.parse_error.101] " prefix from its messages.
std::string json_message(const std::exception& e) {
  std::string_view text = e.what();
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("] ");
    if (close != std::string_view::npos) text.remove_prefix(close + 2);
  }
  return std::string(text);
}

}  // namespace

std::string LiveSettings::background_spec() const {
  if (lower_trimmed(background) == "blur") return fmt::format("blur:{}", blur_strength);
  return background;
}

MatteFilterParams LiveSettings::matte_filter() const {
  MatteFilterParams params;
  params.feather_px = feather_px;
  params.feather_mode = feather_mode;
  params.shrink_px = shrink_px;
  params.grow_px = grow_px;
  params.edge_low = edge_low;
  params.edge_high = edge_high;
  params.temporal = temporal;
  return params;
}

std::string LiveSettings::to_json() const {
  json j;
  j["background"] = background;
  j["blur_strength"] = tidy(blur_strength);
  j["mirror"] = mirror;
  j["feather_px"] = tidy(feather_px);
  j["feather_mode"] = feather_mode_name(feather_mode);
  j["shrink_px"] = tidy(shrink_px);
  j["grow_px"] = tidy(grow_px);
  j["edge_low"] = tidy(edge_low);
  j["edge_high"] = tidy(edge_high);
  j["temporal"] = tidy(temporal);
  j["harmonize"] = tidy(harmonize);
  j["light_wrap_px"] = tidy(light_wrap_px);
  j["poisson"] = poisson;
  return j.dump();
}

void validate_live_settings(const LiveSettings& s, const BackgroundValidator& validate_background) {
  check_range("blur_strength", s.blur_strength, kBlurRange);
  check_range("feather_px", s.feather_px, kFeatherRange);
  check_range("shrink_px", s.shrink_px, kFeatherRange);
  check_range("grow_px", s.grow_px, kFeatherRange);
  check_range("edge_low", s.edge_low, kEdgeRange);
  check_range("edge_high", s.edge_high, kEdgeRange);
  if (!(s.edge_low < s.edge_high))
    throw Error(fmt::format("edge_low: must be less than edge_high ({} >= {})", tidy(s.edge_low),
                            tidy(s.edge_high)));
  check_range("temporal", s.temporal, kTemporalRange);
  check_range("harmonize", s.harmonize, kHarmonizeRange);
  check_range("light_wrap_px", s.light_wrap_px, kFeatherRange);
  check_background(s.background, validate_background);
}

SettingsStore::SettingsStore(LiveSettings initial, BackgroundValidator validate_background)
    : validate_background_(std::move(validate_background)), settings_(std::move(initial)) {
  validate_live_settings(settings_, validate_background_);
}

SettingsStore::Snapshot SettingsStore::get() const {
  std::lock_guard lock(mutex_);
  return {settings_, version_.load(std::memory_order_relaxed)};
}

bool SettingsStore::get_if_changed(uint64_t& seen_version, LiveSettings& out) const {
  if (version_.load(std::memory_order_acquire) == seen_version) return false;
  std::lock_guard lock(mutex_);
  out = settings_;
  seen_version = version_.load(std::memory_order_relaxed);
  return true;
}

std::string SettingsStore::to_json() const { return get().settings.to_json(); }

uint64_t SettingsStore::set(const LiveSettings& settings) {
  std::lock_guard writer(writer_mutex_);
  validate_live_settings(settings, validate_background_);
  std::lock_guard lock(mutex_);
  if (settings == settings_) return version_.load(std::memory_order_relaxed);
  settings_ = settings;
  return version_.fetch_add(1, std::memory_order_acq_rel) + 1;
}

SettingsUpdate SettingsStore::apply_json(std::string_view body) {
  std::lock_guard writer(writer_mutex_);  // the only writers: settings_ cannot change under us
  SettingsUpdate result;
  LiveSettings next;
  {
    std::lock_guard lock(mutex_);
    next = settings_;
  }
  try {
    json request;
    try {
      request = json::parse(body);
    } catch (const json::exception& e) {
      throw Error("malformed JSON: " + json_message(e));
    }
    if (!request.is_object())
      throw Error(
          fmt::format("request: expected a JSON object of settings, not {}", request.type_name()));
    for (const auto& [key, value] : request.items()) {
      if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields))
        throw Error(fmt::format("unknown field '{}' (known: {})", key, fmt::join(kFields, ", ")));
    }
    std::optional<double> blur_from_background;
    if (request.contains("background")) {
      const json& value = request["background"];
      if (!value.is_string())
        throw Error(fmt::format("background: must be a string, not {}", value.type_name()));
      next.background = value.get<std::string>();
      blur_from_background = blur_strength_in(lower_trimmed(next.background));
      if (blur_from_background) {
        check_range("background", *blur_from_background, kBlurRange);
        next.background = "blur";
      }
    }
    auto number = [&](const char* field, float& target, Range range) {
      if (!request.contains(field)) return;
      const double value = number_field(field, request[field]);
      check_range(field, value, range);
      target = static_cast<float>(value);
    };
    number("blur_strength", next.blur_strength, kBlurRange);
    number("feather_px", next.feather_px, kFeatherRange);
    number("shrink_px", next.shrink_px, kFeatherRange);
    number("grow_px", next.grow_px, kFeatherRange);
    number("edge_low", next.edge_low, kEdgeRange);
    number("edge_high", next.edge_high, kEdgeRange);
    number("temporal", next.temporal, kTemporalRange);
    number("harmonize", next.harmonize, kHarmonizeRange);
    number("light_wrap_px", next.light_wrap_px, kFeatherRange);
    if (request.contains("feather_mode"))
      next.feather_mode = feather_mode_field(request["feather_mode"]);
    if (blur_from_background) {
      const float strength = static_cast<float>(*blur_from_background);
      if (request.contains("blur_strength") && next.blur_strength != strength)
        throw Error(fmt::format("blur_strength: {} conflicts with the background's '{}'",
                                tidy(next.blur_strength),
                                request["background"].get<std::string>()));
      next.blur_strength = strength;
    }
    for (const auto& [field, flag] :
         {std::pair{"mirror", &next.mirror}, {"poisson", &next.poisson}}) {
      if (!request.contains(field)) continue;
      const json& value = request[field];
      if (!value.is_boolean())
        throw Error(fmt::format("{}: must be true or false, not {}", field, value.type_name()));
      *flag = value.get<bool>();
    }
    // Ranges again (cheap), the edge order and the background, which only the validator knows.
    validate_live_settings(
        next, request.contains("background") ? validate_background_ : BackgroundValidator{});
  } catch (const std::exception& e) {
    result.error = e.what();
    std::lock_guard lock(mutex_);
    result.version = version_.load(std::memory_order_relaxed);
    result.settings_json = settings_.to_json();
    return result;
  }
  std::lock_guard lock(mutex_);
  result.ok = true;
  result.changed = !(next == settings_);
  if (result.changed) {
    settings_ = std::move(next);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }
  result.version = version_.load(std::memory_order_relaxed);
  result.settings_json = settings_.to_json();
  return result;
}

}  // namespace mattecast
