// The CLI's subcommands: each registers itself on the app and runs from its callback.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "compose/compositor.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

void add_bench_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_infer_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_join_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_farm_command(CLI::App& app);
void add_images_command(CLI::App& app);
void add_video_command(CLI::App& app);
void add_webcam_command(CLI::App& app);

// Options every matting command shares.
struct EngineOptions {
  std::string model;
  std::string precision = "auto";
  int threads = 0;
  float ratio = 0.0f;            // 0: automatic
  std::string int8_calibration;  // "": the built-in one
  // Light (.tflite) models: how an unknown file is fed, how its mask is upsampled and smoothed.
  std::string model_input;
  std::string refine = "guided";
  float mask_smoothing = SessionParams{}.mask_smoothing;
};
// `with_ratio` false: the command parses its own --downsample-ratio (e.g. accepting "auto").
void add_engine_options(CLI::App& command, EngineOptions& options, bool with_ratio = true);

// The compositing options `video`, `images` and `webcam` share: edge shaping and colour.
struct BlendOptions {
  float feather_px = 0;
  std::string feather_mode = "centred";
  float shrink_px = 0;
  float grow_px = 0;
  float edge_low = 0;
  float edge_high = 1;
  float temporal = 0;
  float harmonize = 0;
  float light_wrap_px = 0;
  std::string blend = "alpha";  // or "poisson"
};
// `with_temporal` false: no --temporal (single images have no time).
void add_blend_options(CLI::App& command, BlendOptions& options, bool with_temporal);
// The compositing the options ask for; throws UsageError naming a bad option (exit status 2).
BlendSettings blend_settings(const BlendOptions& options);

// A job stopped by Ctrl-C / SIGTERM: the CLI exits with status 130.
struct Interrupted : Error {
  using Error::Error;
};

// Options or settings that cannot work on this machine (e.g. bf16 on a CPU without it): exit 2.
struct UsageError : Error {
  using Error::Error;
};

// The model the options name (or the one find_model() finds), loaded.
std::shared_ptr<const Model> load_model(const EngineOptions& options);
// Session settings from the options: their threads, precision and ratio; --precision auto is
// settled for `model` (default_precision(model): int8 where calibrated and proven).
SessionParams session_params(const EngineOptions& options, const Model& model,
                             bool alpha_only = false);

}  // namespace mattecast::cli
