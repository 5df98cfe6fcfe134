// The compositing options shared by `video`, `images` and `webcam` (see commands.h).
#include <fmt/format.h>

#include <cmath>

#include "commands.h"

namespace mattecast::cli {

namespace {

constexpr float kMaxEdgePx = 50;

void check_range(const char* option, float value, float low, float high) {
  if (!(std::isfinite(value) && value >= low && value <= high))
    throw UsageError(fmt::format("{} {}: expected a value in [{}, {}]", option, value, low, high));
}

MatteFilterParams matte_filter_params(const BlendOptions& options) {
  check_range("--feather", options.feather_px, 0, kMaxEdgePx);
  check_range("--shrink", options.shrink_px, 0, kMaxEdgePx);
  check_range("--grow", options.grow_px, 0, kMaxEdgePx);
  check_range("--edge-low", options.edge_low, 0, 1);
  check_range("--edge-high", options.edge_high, 0, 1);
  if (!(options.edge_low < options.edge_high))
    throw UsageError(fmt::format("--edge-low {} must be below --edge-high {}", options.edge_low,
                                 options.edge_high));
  check_range("--temporal", options.temporal, 0, 0.95f);
  check_range("--harmonize", options.harmonize, 0, 1);
  check_range("--light-wrap", options.light_wrap_px, 0, kMaxEdgePx);
  const auto mode = parse_feather_mode(options.feather_mode);
  if (!mode)
    throw UsageError(fmt::format("--feather-mode '{}': expected inward, outward or centred",
                                 options.feather_mode));
  return {.shrink_px = options.shrink_px,
          .grow_px = options.grow_px,
          .feather_px = options.feather_px,
          .feather_mode = *mode,
          .edge_low = options.edge_low,
          .edge_high = options.edge_high,
          .temporal = options.temporal};
}

bool poisson_blend(const BlendOptions& options) {
  if (options.blend != "alpha" && options.blend != "poisson")
    throw UsageError(fmt::format("--blend '{}': expected alpha or poisson", options.blend));
  return options.blend == "poisson";
}

}  // namespace

void add_blend_options(CLI::App& command, BlendOptions& options, bool with_temporal) {
  command.add_option("--feather", options.feather_px, "Soften the matte's edge by PX (0..50)");
  command.add_option("--feather-mode", options.feather_mode,
                     "Where --feather softens: centred (default: across the edge), inward (inside "
                     "the person only) or outward (outside only)");
  command.add_option("--shrink", options.shrink_px,
                     "Erode the matte by PX (0..50, sub-pixel), before --feather");
  command.add_option("--grow", options.grow_px,
                     "Dilate the matte by PX (0..50, sub-pixel), before --feather");
  command.add_option("--edge-low", options.edge_low,
                     "Smooth-step edge: alpha <= LOW becomes 0 (0..1, default 0)");
  command.add_option("--edge-high", options.edge_high,
                     "Smooth-step edge: alpha >= HIGH becomes 1 (0..1, default 1)");
  if (with_temporal) {
    command.add_option(
        "--temporal", options.temporal,
        "Temporal smoothing of the matte: weight of the previous frame (0..0.95, default 0)");
  }
  command.add_option("--harmonize", options.harmonize,
                     "Move the person's colours towards the background's (0..1: Reinhard colour "
                     "transfer strength; default 0, off)");
  command.add_option("--blend", options.blend,
                     "How the person meets the background: alpha (default: the matte's blend) or "
                     "poisson (seamless cloning in a band around the edge)");
  command.add_option("--light-wrap", options.light_wrap_px,
                     "Let the background's light bleed over the person's edge by PX (0..50; "
                     "default 0, off)");
}

BlendSettings blend_settings(const BlendOptions& options) {
  return {.matte_filter = matte_filter_params(options),
          .harmonize = options.harmonize,
          .light_wrap_px = options.light_wrap_px,
          .poisson = poisson_blend(options)};
}

}  // namespace mattecast::cli
