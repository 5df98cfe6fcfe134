// The settings a user may change while `mattecast webcam` runs (from the preview page's controls
// or any HTTP client posting JSON to /control), and the thread-safe store the processing loop
// reads them from.
//
//   SettingsStore store(initial, [](const std::string& text) { parse_background(text); });
//   uint64_t seen = 0;
//   LiveSettings settings;
//   for (each frame) {
//     if (store.get_if_changed(seen, settings)) { /* rebuild background, filter params */ }
//     ...
//   }
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "compose/matte_filter.h"

namespace mattecast {

struct LiveSettings {
  // What goes behind the person, as parse_background() reads it: "blur", a colour name, "#RRGGBB"
  // or the path of an image or video. "transparent"/"none" are not allowed live (a webcam has no
  // alpha). "blur:N" is accepted on input and stored as "blur" with blur_strength N.
  std::string background = "blur";
  float blur_strength = 12;  // (0, 100]: sigma of the blur background (see BackgroundSpec)
  bool mirror = false;       // flip the output left-right
  float feather_px = 0;      // 0..50
  FeatherMode feather_mode = FeatherMode::centred;
  float shrink_px = 0;      // 0..50
  float grow_px = 0;        // 0..50
  float edge_low = 0;       // 0..1, edge_low < edge_high
  float edge_high = 1;      // 0..1
  float temporal = 0;       // 0..0.95
  float harmonize = 0;      // 0..1: colour transfer of the person towards the background
  float light_wrap_px = 0;  // 0..50: the background's light over the person's edge
  bool poisson = false;     // seamless cloning at the edge instead of the alpha blend

  // The text to hand to parse_background(): "blur:<blur_strength>" for the blur, else background.
  std::string background_spec() const;
  MatteFilterParams matte_filter() const;
  // {"background": ..., "blur_strength": ..., ...}; every field, in the order above.
  std::string to_json() const;

  friend bool operator==(const LiveSettings&, const LiveSettings&) = default;
};

// Throws Error("<what>: ...") for an invalid background text (text only; no file access needed by
// the store itself). The webcam command wires it to parse_background().
using BackgroundValidator = std::function<void(const std::string&)>;

// Checks every field's range and the background (through `validate_background` when given);
// throws Error naming the first bad field ("feather_px: 60 is out of range 0..50").
void validate_live_settings(const LiveSettings& settings,
                            const BackgroundValidator& validate_background = {});

struct SettingsUpdate {
  bool ok = false;
  std::string error;          // when !ok: names the bad field, e.g. "edge_low: must be a number"
  uint64_t version = 0;       // the store's version after the call
  bool changed = false;       // ok and at least one value differs from before
  std::string settings_json;  // the settings after the call (unchanged when !ok)
};

class SettingsStore {
 public:
  // `initial` must be valid (validate_live_settings throws otherwise).
  explicit SettingsStore(LiveSettings initial = {}, BackgroundValidator validate_background = {});
  SettingsStore(const SettingsStore&) = delete;
  SettingsStore& operator=(const SettingsStore&) = delete;

  struct Snapshot {
    LiveSettings settings;
    uint64_t version = 0;
  };
  // A copy of the current settings and their version (starts at 1, +1 per change).
  Snapshot get() const;
  // The current version: one atomic load.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  // For the per-frame check: when the version differs from `seen_version`, copies the settings
  // into `out`, updates `seen_version` and returns true; otherwise only an atomic load.
  bool get_if_changed(uint64_t& seen_version, LiveSettings& out) const;

  // A partial update: a JSON object with any subset of the fields. Everything is validated first
  // (malformed JSON, not an object, unknown field, wrong type, out of range, edge_low >= edge_high,
  // background rejected by the validator); then all of it is applied at once, or nothing.
  // The version is bumped only when a value actually changes. Never throws for bad input.
  SettingsUpdate apply_json(std::string_view body);
  // Replaces everything; throws Error like validate_live_settings. Returns the new version.
  uint64_t set(const LiveSettings& settings);

  std::string to_json() const;

 private:
  BackgroundValidator validate_background_;
  std::mutex writer_mutex_;   // serialises apply_json/set (held while validating)
  mutable std::mutex mutex_;  // guards settings_ (held only to copy)
  LiveSettings settings_;
  std::atomic<uint64_t> version_{1};
};

}  // namespace mattecast
