#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "api/model_impl.h"
#include "models/int8_calibration.h"
#include "models/pth_reader.h"
#include "models/tfjs_reader.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

enum class Format { pth, tfjs };

// From the path first (a folder or .json is TF.js, .pth/.pt PyTorch), else from the first bytes.
Format detect_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(fmt::format("{}: model file not found", path));
  if (fs::is_directory(path, ec)) return Format::tfjs;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return Format::tfjs;
  if (ext == ".pth" || ext == ".pt") return Format::pth;
  std::ifstream file(path, std::ios::binary);
  char magic[2] = {};
  file.read(magic, 2);
  if (magic[0] == 'P' && magic[1] == 'K') return Format::pth;
  if (magic[0] == '{') return Format::tfjs;
  throw Error(
      fmt::format("{}: not a model file (expected a PyTorch .pth or a TF.js model.json)", path));
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

std::shared_ptr<const Model> Model::load(const std::string& path) {
  const Format format = detect_format(path);
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
