// `mattecast eval`: scores predicted alpha mattes against ground truth with RVM's metrics.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "eval/metrics.h"
#include "io/frame_list.h"
#include "io/alpha_image.h"
#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace fs = std::filesystem;

namespace {

struct EvalOptions {
  std::string pred;
  std::string truth;
  bool json = false;
  bool per_frame = false;
};

// `mattecast infer` writes the alpha of frame N as pha_NNN.npy.
bool is_npy_alpha_name(const std::string& name) {
  return name.size() > 8 && name.starts_with("pha_") && name.ends_with(".npy");
}

// The alpha frames of a folder in natural name order: its pha_*.npy files if it has any, else
// its images. A folder with both is refused, since either choice could be the wrong one.
std::vector<std::string> list_alpha_frames(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(fmt::format("{}: not a folder", folder));
  std::vector<std::string> npy_names;
  bool has_images = false;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (is_npy_alpha_name(name)) npy_names.push_back(name);
    has_images |= is_image_path(name);
  }
  if (ec) throw Error(fmt::format("{}: cannot list: {}", folder, ec.message()));
  if (npy_names.empty() && !has_images)
    throw Error(fmt::format("{}: no alpha frames (pha_NNN.npy or images) in this folder", folder));
  if (npy_names.empty()) return list_images(folder);
  if (has_images)
    throw Error(fmt::format("{}: holds both pha_*.npy files and images; which are the alpha "
                            "frames is unclear",
                            folder));
  std::sort(npy_names.begin(), npy_names.end(), natural_less);
  std::vector<std::string> paths;
  for (const auto& name : npy_names) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

// Float alpha from .npy is scored as it is; the official script reads 8-bit PNGs, so its scores
// include that rounding.
AlphaImage read_alpha_frame(const std::string& path) {
  if (!path.ends_with(".npy")) return read_alpha_image(path);
  NpyArray array = read_npy(path);
  // `mattecast infer` writes (height, width); a trailing channel of one is the same matte.
  const auto& shape = array.shape;
  const bool matte_shape = (shape.size() == 2 || (shape.size() == 3 && shape[2] == 1)) &&
                           shape[0] > 0 && shape[1] > 0;
  if (!matte_shape)
    throw Error(fmt::format("{}: shape ({}) is not an alpha matte (height, width)", path,
                            fmt::join(shape, ", ")));
  return {int(shape[1]), int(shape[0]), std::move(array.values)};
}

eval::AlphaPlane plane(const AlphaImage& image) {
  return {image.values.data(), image.width, image.height};
}

nlohmann::ordered_json to_json(const eval::FrameMetrics& metrics) {
  return {{"mad", metrics.mad},
          {"mse", metrics.mse},
          {"grad", metrics.grad},
          {"conn", metrics.conn},
          {"dtssd", metrics.dtssd}};
}

void run_eval(const EvalOptions& o) {
  const auto pred_frames = list_alpha_frames(o.pred);
  const auto truth_frames = list_alpha_frames(o.truth);
  if (pred_frames.size() != truth_frames.size())
    throw Error(fmt::format("{} has {} alpha frames but {} has {}; they must match one to one",
                            o.pred, pred_frames.size(), o.truth, truth_frames.size()));

  eval::SequenceMetrics metrics;
  int width = 0, height = 0;
  for (size_t i = 0; i < pred_frames.size(); ++i) {
    const AlphaImage pred = read_alpha_frame(pred_frames[i]);
    const AlphaImage truth = read_alpha_frame(truth_frames[i]);
    if (pred.width != truth.width || pred.height != truth.height)
      throw Error(fmt::format("{} is {}x{} but {} is {}x{}", pred_frames[i], pred.width,
                              pred.height, truth_frames[i], truth.width, truth.height));
    if (i == 0) {
      width = truth.width;
      height = truth.height;
    } else if (truth.width != width || truth.height != height) {
      throw Error(fmt::format("{} is {}x{}, unlike the first frame's {}x{}", truth_frames[i],
                              truth.width, truth.height, width, height));
    }
    metrics.add(plane(pred), plane(truth));
  }

  const eval::FrameMetrics mean = metrics.mean();
  if (o.json) {
    nlohmann::ordered_json per_frame = nlohmann::ordered_json::array();
    for (const auto& frame : metrics.per_frame()) per_frame.push_back(to_json(frame));
    nlohmann::ordered_json result = {{"frames", pred_frames.size()}};
    result.update(to_json(mean));
    result["per_frame"] = std::move(per_frame);
    fmt::print("{}\n", result.dump());
    return;
  }
  fmt::print("{} frames of {}x{}: {} against {}\n", pred_frames.size(), width, height, o.pred,
             o.truth);
  if (o.per_frame) {
    fmt::print("{:>6} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "frame", "MAD", "MSE", "Grad",
               "Conn", "dtSSD", "prediction");
    for (size_t i = 0; i < pred_frames.size(); ++i) {
      const eval::FrameMetrics& frame = metrics.per_frame()[i];
      fmt::print("{:>6} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f}  {}\n", i, frame.mad,
                 frame.mse, frame.grad, frame.conn, frame.dtssd,
                 fs::path(pred_frames[i]).filename().string());
    }
  }
  fmt::print("MAD   (x1e3)  {:.4f}\n", mean.mad);
  fmt::print("MSE   (x1e3)  {:.4f}\n", mean.mse);
  fmt::print("Grad  (x1e-3) {:.4f}\n", mean.grad);
  fmt::print("Conn  (x1e-3) {:.4f}\n", mean.conn);
  fmt::print("dtSSD (x1e2)  {:.4f}\n", mean.dtssd);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "eval",
      "Score predicted alpha mattes against ground truth with Robust Video Matting's metrics "
      "and scale factors: MAD x1e3, MSE x1e3, Grad x1e-3, Conn x1e-3 (both sums over the "
      "frame), dtSSD x1e2; averages over the frames");
  auto options = std::make_shared<EvalOptions>();
  command
      ->add_option("--pred", options->pred,
                   "Folder of predicted alpha: pha_NNN.npy from `mattecast infer`, or images "
                   "(gray, or the alpha channel of RGBA)")
      ->required();
  command->add_option("--gt", options->truth, "Folder of ground-truth alpha, same kinds")
      ->required();
  command->add_flag("--json", options->json,
                    "Print one JSON object with the averages and a per_frame list");
  command->add_flag("--per-frame", options->per_frame, "Also print each frame's scores");
  command->callback([options] { run_eval(*options); });
}

}  // namespace mattecast::cli
