// The settings of `video`, shared by `plan` and `farm` (see video_options.h).
#include "video_options.h"

#include <fmt/format.h>

#include <filesystem>
#include <type_traits>

#include <unistd.h>

namespace mattecast::cli {

namespace fs = std::filesystem;

namespace {

Rational rate_from(double fps) {
  if (!(fps > 0 && fps <= 1000))
    throw Error(fmt::format("--fps {}: expected 0 < fps <= 1000", fps));
  return {int(fps * 1000 + 0.5), 1000};
}

// --downsample-ratio: "auto" (0) or a value in (0, 1].
float parse_ratio(const std::string& text) {
  if (text == "auto") return 0;
  float ratio = 0;
  try {
    ratio = std::stof(text);
  } catch (const std::exception&) {
    throw Error(fmt::format("--downsample-ratio '{}': expected auto or a number", text));
  }
  if (!(ratio > 0 && ratio <= 1))
    throw Error(fmt::format("--downsample-ratio '{}': expected a value in (0, 1]", text));
  return ratio;
}

// An output path made absolute; a trailing '/' (a PNG folder) is kept.
std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  return fs::absolute(path).string();
}

void add_output_options(CLI::App& command, VideoOptions& o, const std::string& composite_flag) {
  command.add_option(composite_flag, o.job.composite_path,
                     "Composite: .mp4/.mkv (H.264), .mov (ProRes), .webm (VP9), a folder or "
                     "a %05d.png pattern (PNG sequence)");
  command.add_option("--alpha", o.job.alpha_path, "Alpha matte, same kinds of path");
  command.add_option("--foreground", o.job.foreground_path,
                     "The network's foreground with alpha (over --background if given)");
  command.add_option("--background", o.job.background,
                     "green (default), a colour (#RRGGBB or a name), an image, a video (looped), "
                     "blur[:STRENGTH] or transparent");
}

void add_encoding_options(CLI::App& command, VideoOptions& o) {
  command.add_option("--crf", o.job.crf, "H.264/VP9 quality (lower is better; default 18 / 30)")
      ->check(CLI::Range(0, 63));
  command
      .add_option("--preset", o.job.preset,
                  "libx264 preset (default ultrafast: keeps pace with the network; "
                  "veryfast: files ~2.5x smaller)")
      ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                             "slow", "slower", "veryslow"}));
  command.add_option("--alpha-depth", o.job.alpha_depth, "8 or 16 (16: PNG sequences only)")
      ->check(CLI::IsMember({8, 16}));
}

}  // namespace

void add_video_settings(CLI::App& command, VideoOptions& o, const std::string& composite_flag) {
  add_engine_options(command, o.engine, /*with_ratio=*/false);
  add_output_options(command, o, composite_flag);
  add_blend_options(command, o.blend, /*with_temporal=*/true);
  command.add_option("--downsample-ratio,--ratio", o.ratio_text,
                     "Network input scale: auto (longer side 512 px) or a value in (0, 1]");
  add_encoding_options(command, o);
  command.add_flag("--scene-reset", o.job.scene_reset,
                   "Reset the recurrent state at hard cuts (and list them)");
  command.add_flag("--no-audio", o.no_audio, "Leave the audio out");
  command.add_option("--fps", o.image_fps, "Frame rate of an image-sequence input (default 25)");
  command.add_flag("--force", o.job.overwrite, "Overwrite existing outputs");
}

void settle_job_options(VideoOptions& o) {
  VideoJobOptions& job = o.job;
  job.image_rate = rate_from(o.image_fps);
  job.blend = blend_settings(o.blend);
  job.audio = !o.no_audio;
  parse_ratio(o.ratio_text);
}

std::shared_ptr<const Model> settle_session(VideoOptions& o) {
  const auto model = load_model(o.engine);
  o.job.session = session_params(o.engine, *model);
  const float ratio = parse_ratio(o.ratio_text);
  if (ratio > 0) o.job.session.downsample_ratio = ratio;
  return model;
}

nlohmann::json settings_to_json(const VideoOptions& o) {
  const BlendOptions& b = o.blend;
  const VideoJobOptions& j = o.job;
  std::error_code ec;
  const bool background_file = !j.background.empty() && fs::exists(j.background, ec);
  return {{"model", resolved_model_path(o.engine)},
          {"precision", o.engine.precision},
          {"threads", o.engine.threads},
          {"int8_calibration", absolute_path(o.engine.int8_calibration)},
          {"model_input", o.engine.model_input},
          {"refine", o.engine.refine},
          {"mask_smoothing", o.engine.mask_smoothing},
          {"composite", absolute_path(j.composite_path)},
          {"alpha", absolute_path(j.alpha_path)},
          {"foreground", absolute_path(j.foreground_path)},
          {"background", background_file ? absolute_path(j.background) : j.background},
          {"downsample_ratio", o.ratio_text},
          {"crf", j.crf},
          {"preset", j.preset},
          {"alpha_depth", j.alpha_depth},
          {"scene_reset", j.scene_reset},
          {"no_audio", o.no_audio},
          {"fps", o.image_fps},
          {"force", j.overwrite},
          {"feather", b.feather_px},
          {"feather_mode", b.feather_mode},
          {"shrink", b.shrink_px},
          {"grow", b.grow_px},
          {"edge_low", b.edge_low},
          {"edge_high", b.edge_high},
          {"temporal", b.temporal},
          {"harmonize", b.harmonize},
          {"light_wrap", b.light_wrap_px},
          {"blend", b.blend}};
}

void settings_from_json(const nlohmann::json& s, VideoOptions& o) {
  const auto take = [&s](const char* key, auto& field) {
    field = s.at(key).get<std::decay_t<decltype(field)>>();
  };
  BlendOptions& b = o.blend;
  VideoJobOptions& j = o.job;
  take("model", o.engine.model);
  take("precision", o.engine.precision);
  take("threads", o.engine.threads);
  take("int8_calibration", o.engine.int8_calibration);
  // Light-model settings: absent from job files written before them, which keep the defaults.
  const auto take_if_there = [&s, &take](const char* key, auto& field) {
    if (s.contains(key)) take(key, field);
  };
  take_if_there("model_input", o.engine.model_input);
  take_if_there("refine", o.engine.refine);
  take_if_there("mask_smoothing", o.engine.mask_smoothing);
  take("composite", j.composite_path);
  take("alpha", j.alpha_path);
  take("foreground", j.foreground_path);
  take("background", j.background);
  take("downsample_ratio", o.ratio_text);
  take("crf", j.crf);
  take("preset", j.preset);
  take("alpha_depth", j.alpha_depth);
  take("scene_reset", j.scene_reset);
  take("no_audio", o.no_audio);
  take("fps", o.image_fps);
  take("force", j.overwrite);
  take("feather", b.feather_px);
  take("feather_mode", b.feather_mode);
  take("shrink", b.shrink_px);
  take("grow", b.grow_px);
  take("edge_low", b.edge_low);
  take("edge_high", b.edge_high);
  take("temporal", b.temporal);
  take("harmonize", b.harmonize);
  take("light_wrap", b.light_wrap_px);
  take("blend", b.blend);
}

std::string resolved_model_path(const EngineOptions& engine) {
  return fs::absolute(find_model(engine.model)).string();
}

std::string executable_path() {
  std::error_code ec;
  const auto path = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the running executable (/proc/self/exe)");
  return path.string();
}

}  // namespace mattecast::cli
