// mattecast: separate people from their background in video, on the CPU.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

void add_engine_options(CLI::App& command, EngineOptions& options, bool with_ratio) {
  command.add_option("--model", options.model,
                     "Weights: RVM as a .pth state_dict or a TF.js model.json, or a light "
                     "segmentation .tflite; or a shipped light model by name: selfie, "
                     "selfie-landscape, mnv3, prisma, slim, munet, portrait-video (default: RVM, searched in "
                     "$MATTECAST_MODELS, $XDG_DATA_HOME/mattecast/models, ~/.cache/mattecast, "
                     "/usr/local/share/mattecast/models, ../shared/models)");
  command.add_option("--model-input", options.model_input,
                     "A .tflite's input and output convention where the file is not a known one: "
                     "unit|symmetric|byte|caffe (RGB in [0,1], [-1,1], [0,255], or ImageNet means "
                     "subtracted x 0.017), rgb|bgr, person=0|1 (channel of a two-channel output), "
                     "logits|probability, prior (a 4th input channel: its own last mask)");
  command.add_option("--refine", options.refine,
                     "Light models: the mask to full size by a guided filter following the "
                     "frame's edges (guided, default) or plainly (bilinear)")
      ->check(CLI::IsMember({"guided", "bilinear"}));
  command.add_option("--mask-smoothing", options.mask_smoothing,
                     fmt::format("Light models: weight of the previous frame's mask, against "
                                 "flicker (0..0.95, default {})",
                                 SessionParams{}.mask_smoothing))
      ->check(CLI::Range(0.0f, 0.95f));
  command
      .add_option("--precision", options.precision,
                  "fp32, bf16, int8 or auto (bf16 where the CPU has native bf16, else fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8", "auto"}));
  command
      .add_option("--int8-calibration", options.int8_calibration,
                  "int8: input ranges from `mattecast calibrate` (default: built in for the "
                  "official weights)")
      ->check(CLI::ExistingFile);
  command.add_option("--threads", options.threads, "Threads (0: one per core)")
      ->check(CLI::NonNegativeNumber);
  if (with_ratio)
    command
        .add_option("--ratio,--downsample-ratio", options.ratio,
                    "Network input scale in (0, 1] (default: longer side 512 px)")
        ->check(CLI::Range(0.0f, 1.0f));
}

std::shared_ptr<const Model> load_model(const EngineOptions& options) {
  return Model::load(find_model(options.model), options.model_input);
}

SessionParams session_params(const EngineOptions& options, const Model& model, bool alpha_only) {
  if (options.precision == "bf16" && !precision_supported(Precision::bf16))
    throw UsageError(fmt::format("this CPU ({}) has no bf16 support; use --precision fp32 or auto",
                                 to_string(cpu_tier())));
  if (model.info().format == "tflite" && options.precision != "auto" &&
      options.precision != "fp32")
    throw UsageError(fmt::format("{}: light models run in fp32 (--precision {} is for RVM)",
                                 model.info().path, options.precision));
  SessionParams params;
  params.threads = options.threads;
  params.precision = options.precision == "auto" ? default_precision(model)
                                                 : parse_precision(options.precision);
  params.downsample_ratio = options.ratio;
  params.alpha_only = alpha_only;
  params.int8_calibration = options.int8_calibration;
  params.guided_upsampling = options.refine == "guided";
  params.mask_smoothing = options.mask_smoothing;
  return params;
}

}  // namespace mattecast::cli

int main(int argc, char** argv) {
  mattecast::prefer_short_openmp_spins(argv);
  try {
    mattecast::cpu_tier();  // a bad MATTECAST_ISA stops every command before it starts
  } catch (const mattecast::Error& e) {
    fmt::print(stderr, "mattecast: error: {}\n", e.what());
    return 2;
  }
  CLI::App app{"mattecast: video matting (Robust Video Matting) on the CPU"};
  app.set_version_flag("--version", [] { return mattecast::version_string(); });
  app.require_subcommand(1);
  mattecast::cli::add_calibrate_command(app);
  mattecast::cli::add_images_command(app);
  mattecast::cli::add_info_command(app);
  mattecast::cli::add_infer_command(app);
  mattecast::cli::add_bench_command(app);
  mattecast::cli::add_eval_command(app);
  mattecast::cli::add_video_command(app);
  mattecast::cli::add_plan_command(app);
  mattecast::cli::add_join_command(app);
  mattecast::cli::add_farm_command(app);
  mattecast::cli::add_webcam_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mattecast::cli::Interrupted& e) {
    fmt::print(stderr, "mattecast: {}\n", e.what());
    return 130;
  } catch (const mattecast::cli::UsageError& e) {
    fmt::print(stderr, "mattecast: error: {}\n", e.what());
    return 2;
  } catch (const mattecast::Error& e) {
    fmt::print(stderr, "mattecast: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mattecast: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
