// `mattecast eval`: scores predicted alpha mattes against ground truth with RVM's metrics.
#include <algorithm>
#include <filesystem>
#include <optional>

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
#include "video/video_reader.h"

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
    throw Error(
        fmt::format("{}: holds both pha_*.npy files and images; which are the alpha "
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
  const bool matte_shape =
      (shape.size() == 2 || (shape.size() == 3 && shape[2] == 1)) && shape[0] > 0 && shape[1] > 0;
  if (!matte_shape)
    throw Error(fmt::format("{}: shape ({}) is not an alpha matte (height, width)", path,
                            fmt::join(shape, ", ")));
  return {int(shape[1]), int(shape[0]), std::move(array.values)};
}

// Alpha frames one after another from a folder (pha_NNN.npy or images) or a video: the alpha
// channel of a video that has one (ProRes 4444, VP9 alpha), else its luma (an alpha matte
// written as gray video).
class AlphaSource {
 public:
  explicit AlphaSource(const std::string& path) : path_(path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      files_ = list_alpha_frames(path);
    } else {
      video_.emplace(path, VideoReader::Options{.threads = 0, .keep_alpha = true});
    }
  }

  const std::string& path() const { return path_; }

  // False after the last frame; `name` says which frame it was, for messages.
  bool next(AlphaImage& out, std::string& name) {
    if (!video_) {
      if (index_ >= files_.size()) return false;
      name = files_[index_++];
      out = read_alpha_frame(name);
      return true;
    }
    if (!video_->read(frame_)) return false;
    name = fmt::format("{} frame {}", path_, index_++);
    out.width = frame_.width;
    out.height = frame_.height;
    out.values.resize(size_t(frame_.width) * frame_.height);
    for (int y = 0; y < frame_.height; ++y) {
      const uint8_t* row = frame_.data + y * frame_.stride;
      float* alpha = out.values.data() + size_t(y) * frame_.width;
      for (int x = 0; x < frame_.width; ++x) {
        const uint8_t* p = row + x * frame_.channels;
        if (frame_.channels == 4)
          alpha[x] = float(p[3]) / 255.0f;
        else if (p[0] == p[1] && p[1] == p[2])  // gray: exact
          alpha[x] = float(p[0]) / 255.0f;
        else
          alpha[x] = (0.2126f * p[0] + 0.7152f * p[1] + 0.0722f * p[2]) / 255.0f;
      }
    }
    return true;
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
  std::optional<VideoReader> video_;
  VideoFrame frame_;
  size_t index_ = 0;
};

eval::AlphaPlane plane(const AlphaImage& image) {
  return {image.values.data(), image.width, image.height};
}

nlohmann::ordered_json to_json(const eval::FrameMetrics& metrics) {
  return {{"mad", metrics.mad},
          {"mse", metrics.mse},
          {"grad", metrics.grad},
          {"conn", metrics.conn},
          {"dtssd", metrics.dtssd},
          {"iou", metrics.iou}};
}

void run_eval(const EvalOptions& o) {
  AlphaSource pred_source(o.pred), truth_source(o.truth);
  eval::SequenceMetrics metrics;
  std::vector<std::string> pred_frames;
  AlphaImage pred, truth;
  std::string pred_name, truth_name;
  int width = 0, height = 0;
  for (;;) {
    const bool has_pred = pred_source.next(pred, pred_name);
    const bool has_truth = truth_source.next(truth, truth_name);
    if (!has_pred && !has_truth) break;
    if (has_pred != has_truth) {
      // Count the longer one to its end, so the message says both lengths.
      size_t longer = pred_frames.size() + 1;
      for (AlphaSource& rest = has_pred ? pred_source : truth_source; rest.next(pred, pred_name);)
        ++longer;
      const size_t pred_count = has_pred ? longer : pred_frames.size();
      const size_t truth_count = has_truth ? longer : pred_frames.size();
      throw Error(fmt::format("{} has {} alpha frames but {} has {}; they must match one to one",
                              o.pred, pred_count, o.truth, truth_count));
    }
    if (pred.width != truth.width || pred.height != truth.height)
      throw Error(fmt::format("{} is {}x{} but {} is {}x{}", pred_name, pred.width, pred.height,
                              truth_name, truth.width, truth.height));
    if (pred_frames.empty()) {
      width = truth.width;
      height = truth.height;
    } else if (truth.width != width || truth.height != height) {
      throw Error(fmt::format("{} is {}x{}, unlike the first frame's {}x{}", truth_name,
                              truth.width, truth.height, width, height));
    }
    metrics.add(plane(pred), plane(truth));
    pred_frames.push_back(pred_name);
  }
  if (pred_frames.empty()) throw Error(fmt::format("{}: no alpha frames", o.pred));

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
    fmt::print("{:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}  {}\n", "frame", "MAD", "MSE",
               "Grad", "Conn", "dtSSD", "IoU", "prediction");
    for (size_t i = 0; i < pred_frames.size(); ++i) {
      const eval::FrameMetrics& frame = metrics.per_frame()[i];
      fmt::print("{:>6} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>8.4f}  {}\n", i,
                 frame.mad, frame.mse, frame.grad, frame.conn, frame.dtssd, frame.iou,
                 fs::path(pred_frames[i]).filename().string());
    }
  }
  fmt::print("MAD   (x1e3)  {:.4f}\n", mean.mad);
  fmt::print("MSE   (x1e3)  {:.4f}\n", mean.mse);
  fmt::print("Grad  (x1e-3) {:.4f}\n", mean.grad);
  fmt::print("Conn  (x1e-3) {:.4f}\n", mean.conn);
  fmt::print("dtSSD (x1e2)  {:.4f}\n", mean.dtssd);
  fmt::print("IoU   (> 0.5) {:.4f}\n", mean.iou);
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
                   "Predicted alpha: a folder of pha_NNN.npy (`mattecast infer`) or images "
                   "(gray, or the alpha channel of RGBA), or a video (its alpha channel, else "
                   "its luma)")
      ->required();
  command->add_option("--gt", options->truth, "Ground-truth alpha, same kinds")->required();
  command->add_flag("--json", options->json,
                    "Print one JSON object with the averages and a per_frame list");
  command->add_flag("--per-frame", options->per_frame, "Also print each frame's scores");
  command->callback([options] { run_eval(*options); });
}

}  // namespace mattecast::cli
