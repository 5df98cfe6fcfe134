// The settings of `video`, shared by `plan` and `farm` (which take every one of them) and stored
// in job files, so that a part runs with exactly the settings its job was planned with.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "commands.h"
#include "offline/video_job.h"

namespace mattecast::cli {

struct VideoOptions {
  EngineOptions engine;
  VideoJobOptions job;
  std::string ratio_text = "auto";
  double image_fps = 25;
  bool no_audio = false;
  std::string preview;
  bool preview_only = false;
  bool quiet = false;
  std::string progress = "auto";
  BlendOptions blend;
};

// Every setting but INPUT, the preview and the progress display. `composite_flag`: the option
// naming the composite ("-o,--output" in `video` and `farm`, "--composite" in `plan`).
void add_video_settings(CLI::App& command, VideoOptions& options,
                        const std::string& composite_flag);

// Checks and settles what the options say (ratio, frame rate, edges, blend, audio) into
// options.job; the session comes from settle_session().
void settle_job_options(VideoOptions& options);
// Loads the model and sets options.job.session (precision auto settled for this model and CPU).
std::shared_ptr<const Model> settle_session(VideoOptions& options);

// The settings as JSON, with absolute paths (outputs, model, an image or video background), and
// back. from_json leaves INPUT, the preview and the progress display alone.
nlohmann::json settings_to_json(const VideoOptions& options);
void settings_from_json(const nlohmann::json& settings, VideoOptions& options);

// The resolved model file's absolute path; the running executable's.
std::string resolved_model_path(const EngineOptions& engine);
std::string executable_path();

}  // namespace mattecast::cli
