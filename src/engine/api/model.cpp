#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "api/model_impl.h"
#include "core/sha256.h"
#include "models/int8_calibration.h"
#include "models/segmenter.h"
#include "models/tflite_reader.h"
#include "models/pth_reader.h"
#include "models/tfjs_reader.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

enum class Format { pth, tfjs, tflite };

// From the path first (a folder or .json is TF.js, .pth/.pt PyTorch), else from the first bytes.
Format detect_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: model file not found", path));
  if (fs::is_directory(path, ec)) return Format::tfjs;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return Format::tfjs;
  if (ext == ".pth" || ext == ".pt") return Format::pth;
  if (ext == ".tflite") return Format::tflite;
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  file.read(magic, 8);
  if (magic[0] == 'P' && magic[1] == 'K') return Format::pth;
  if (magic[0] == '{') return Format::tfjs;
  if (std::string_view(magic + 4, 4) == "TFL3") return Format::tflite;
  throw Error(fmt::format(
      "{}: not a model file (expected a PyTorch .pth, a TF.js model.json or a .tflite)", path));
}

}  // namespace

const char* to_string(Precision precision) {
  switch (precision) {
    case Precision::bf16:
      return "bf16";
    case Precision::int8:
      return "int8";
    case Precision::fp32:
      break;
  }
  return "fp32";
}

const char* to_string(RefinerKind refiner) {
  return refiner == RefinerKind::deep_guided_filter ? "deep_guided_filter" : "fast_guided_filter";
}

Precision default_precision() {
  return precision_supported(Precision::bf16) ? Precision::bf16 : Precision::fp32;
}

Precision default_precision(const Model& model) {
  if (model.impl().light()) return Precision::fp32;  // light models run in fp32 only
  const Precision native = default_precision();
  if (native != Precision::fp32 || cpu_tier() < CpuTier::avx2) return native;
  try {
    load_int8_calibration(model.impl().weights, "");
    return Precision::int8;
  } catch (const Error&) {
    return Precision::fp32;  // other weights: no built-in calibration
  }
}

Precision parse_precision(const std::string& text) {
  if (text == "auto") return default_precision();
  const Precision precision =
      text == "bf16"   ? Precision::bf16
      : text == "int8" ? Precision::int8
      : text == "fp32" ? Precision::fp32
                       : throw Error(fmt::format("unknown precision '{}' (expected fp32, "
                                                 "bf16, int8 or auto)",
                                                 text));
  check_precision_supported(precision);
  return precision;
}

void check_precision_supported(Precision precision) {
  if (!precision_supported(precision))
    throw Error(fmt::format("this CPU ({}) has no {} support; use precision fp32 or auto",
                            to_string(cpu_tier()), to_string(precision)));
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

namespace {

std::unique_ptr<Model::Impl> load_light(const std::string& path,
                                        const std::string& input_convention) {
  tflite::Model file = tflite::read_tflite(path);
  auto impl = std::make_unique<Model::Impl>();
  const KnownSegmentationModel* known = find_segmentation_model_by_checksum(sha256_hex(file.bytes));
  if (known) impl->profile = known->profile;
  impl->profile = parse_segmentation_profile(input_convention, impl->profile);
  ModelInfo& info = impl->info;
  info.path = path;
  info.format = "tflite";
  info.tensor_count = file.tensors.size();
  for (const tflite::Tensor& tensor : file.tensors)
    if (tensor.constant()) info.parameter_count += tensor.elements();
  info.short_name = impl->profile.name;
  info.input_convention = to_string(impl->profile);
  info.convention_known = known || !input_convention.empty();
  impl->tflite_bytes = std::move(file.bytes);
  // Every check a session would make (operators, types, shapes), once, here.
  SegmenterOptions options;
  options.profile = impl->profile;
  const Segmenter trial(impl->tflite_bytes, path, options);
  info.input_width = trial.input_width();
  info.input_height = trial.input_height();
  return impl;
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string& path,
                                         const std::string& input_convention) {
  const Format format = detect_format(path);
  if (format == Format::tflite)
    return std::shared_ptr<const Model>(new Model(load_light(path, input_convention)));
  if (!input_convention.empty())
    throw Error(fmt::format("{}: an input convention is for .tflite models only", path));
  const WeightMap map = format == Format::pth ? read_pth(path) : read_tfjs(path);
  auto impl = std::make_unique<Impl>();
  impl->weights = build_rvm_weights(map);
  impl->info.path = path;
  impl->info.format = format == Format::pth ? "pth" : "tfjs";
  impl->info.tensor_count = map.size();
  impl->info.parameter_count = map.parameter_count();
  impl->info.refiner = impl->weights.refiner;
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

}  // namespace mattecast
