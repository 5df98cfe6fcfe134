// `mattecast infer`: raw network outputs as NumPy files, for verification against references.
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "io/frame_list.h"
#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace fs = std::filesystem;

namespace {

struct InferOptions {
  EngineOptions engine;
  std::string frames;
  std::string out;
  bool force = false;
  bool alpha_only = false;
};

void write_output(const std::string& path, const float* values, std::vector<int64_t> shape,
                  bool force) {
  if (!force && fs::exists(path))
    throw Error(fmt::format("{}: already exists (use --force to overwrite)", path));
  write_npy(path, values, shape);
}

void run_infer(const InferOptions& o) {
  const auto frames = list_images(o.frames);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", o.out, ec.message()));

  const auto model = load_model(o.engine);
  Session session(model, session_params(o.engine, *model, o.alpha_only));
  Matte matte;
  for (size_t i = 0; i < frames.size(); ++i) {
    const RgbFrame frame = read_image(frames[i]);
    if (i > 0 && (frame.width != matte.width || frame.height != matte.height))
      throw Error(fmt::format("{}: {}x{} differs from the first frame's {}x{}", frames[i],
                              frame.width, frame.height, matte.width, matte.height));
    session.process(frame.view(), matte);
    const int64_t h = matte.height, w = matte.width;
    write_output((fs::path(o.out) / fmt::format("pha_{:03d}.npy", i)).string(), matte.alpha.data(),
                 {h, w}, o.force);
    if (!o.alpha_only)
      write_output((fs::path(o.out) / fmt::format("fgr_{:03d}.npy", i)).string(),
                   matte.foreground.data(), {h, w, 3}, o.force);
  }
  fmt::print("{} frames -> {}\n", frames.size(), o.out);
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "infer",
      "Run the network over a folder of frames (state carried) and write raw outputs "
      "as pha_NNN.npy / fgr_NNN.npy");
  auto options = std::make_shared<InferOptions>();
  options->engine.precision = "fp32";  // a verification tool: exact unless asked otherwise
  add_engine_options(*command, options->engine);
  command->add_option("--frames", options->frames, "Folder of frames, taken in name order")
      ->required();
  command->add_option("--out", options->out, "Output folder")->required();
  command->add_flag("--alpha-only", options->alpha_only, "Write alpha only");
  command->add_flag("--force", options->force, "Overwrite existing files");
  command->callback([options] { run_infer(*options); });
}

}  // namespace mattecast::cli
