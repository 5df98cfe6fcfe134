// `mattecast calibrate`: measures the int8 calibration (each int8 layer's input range) of a model
// on representative videos with an fp32 run, and writes it as JSON for --int8-calibration.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "commands.h"
#include "io/atomic_file.h"
#include "mattecast/mattecast.h"
#include "video/video_reader.h"

namespace mattecast::cli {

namespace {

struct CalibrateOptions {
  EngineOptions engine;
  std::vector<std::string> inputs;
  std::string output;
  int frames = 0;  // per input; 0: all
  bool force = false;
};

void run_calibrate(const CalibrateOptions& o) {
  if (!o.force && std::filesystem::exists(o.output))
    throw Error(fmt::format("{}: already exists (use --force to overwrite)", o.output));
  const auto model = load_model(o.engine);
  SessionParams params = session_params(o.engine, *model);
  params.precision = Precision::fp32;
  params.record_int8_ranges = true;
  Session session(model, params);
  Matte matte;
  VideoFrame frame;
  for (const std::string& input : o.inputs) {
    VideoReader reader(input);
    session.reset();  // each clip is its own stream, as in use
    int count = 0;
    while ((o.frames == 0 || count < o.frames) && reader.read(frame)) {
      session.process(frame.rgb(), matte);
      ++count;
    }
    fmt::print(stderr, "{}: {} frames\n", input, count);
  }
  AtomicFile file(o.output);
  std::ofstream out(file.temp_path());
  out << session.int8_calibration();
  out.close();
  if (!out) throw Error(fmt::format("{}: cannot write the calibration", o.output));
  file.commit();
  fmt::print(stderr, "wrote {}\n", o.output);
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* command = app.add_subcommand(
      "calibrate", "Measure a model's int8 calibration on videos (for --int8-calibration)");
  command->add_option("inputs", options->inputs, "Videos or image folders, as used in practice")
      ->required()
      ->check(CLI::ExistingPath);
  command->add_option("-o,--output", options->output, "Calibration JSON to write")->required();
  command->add_option("--frames", options->frames, "Frames per input (0: all)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--force", options->force, "Overwrite the output");
  add_engine_options(*command, options->engine);
  command->callback([options] { run_calibrate(*options); });
}

}  // namespace mattecast::cli
