// `mattecast images`: still images to RGBA PNG cut-outs (each image on its own, fresh state).
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "io/image.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace fs = std::filesystem;

namespace {

struct ImagesOptions {
  EngineOptions engine;
  std::vector<std::string> inputs;
  std::string out;
  bool force = false;
};

uint8_t to_u8(float v) { return uint8_t(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f); }

// Straight (not premultiplied) RGBA: the network's foreground colour and its alpha.
std::vector<uint8_t> cutout(const Matte& matte) {
  std::vector<uint8_t> rgba(size_t(matte.width) * matte.height * 4);
  for (size_t i = 0; i < size_t(matte.width) * matte.height; ++i) {
    for (int c = 0; c < 3; ++c) rgba[i * 4 + c] = to_u8(matte.foreground[i * 3 + c]);
    rgba[i * 4 + 3] = to_u8(matte.alpha[i]);
  }
  return rgba;
}

void run_images(const ImagesOptions& o) {
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", o.out, ec.message()));
  Session session(load_model(o.engine), session_params(o.engine));
  Matte matte;
  int failed = 0;
  for (const std::string& input : o.inputs) {
    const std::string output =
        (fs::path(o.out) / fs::path(input).stem()).string() + ".png";
    try {
      if (!o.force && fs::exists(output))
        throw Error(fmt::format("{}: already exists (use --force to overwrite)", output));
      const RgbFrame frame = read_image(input);
      session.reset();  // unrelated stills: no state carried between them
      session.process(frame.view(), matte);
      const auto rgba = cutout(matte);
      write_png_rgba(output, rgba.data(), matte.width, matte.height, ptrdiff_t(matte.width) * 4);
      fmt::print("{} -> {}\n", input, output);
    } catch (const Error& e) {
      fmt::print(stderr, "mattecast: error: {}\n", e.what());
      ++failed;
    }
  }
  if (failed > 0) throw Error(fmt::format("{} of {} images failed", failed, o.inputs.size()));
}

}  // namespace

void add_images_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("images", "Cut people out of still images into RGBA PNGs");
  auto options = std::make_shared<ImagesOptions>();
  add_engine_options(*command, options->engine);
  command->add_option("INPUT", options->inputs, "Image files")->required();
  command->add_option("-o,--out", options->out, "Output folder")->required();
  command->add_flag("--force", options->force, "Overwrite existing files");
  command->callback([options] { run_images(*options); });
}

}  // namespace mattecast::cli
