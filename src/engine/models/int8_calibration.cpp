#include "models/int8_calibration.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace mattecast {

extern const std::string_view kBuiltinInt8Calibration;

namespace {

constexpr const char* kFormat = "mattecast-int8-calibration";

struct Fnv1a {
  uint64_t hash = 0xcbf29ce484222325ull;
  void add(const std::vector<float>& values) {
    for (const float value : values) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      for (int byte = 0; byte < 4; ++byte) {
        hash ^= (bits >> (8 * byte)) & 0xff;
        hash *= 0x100000001b3ull;
      }
    }
  }
  void add(const ConvLayer& layer) {
    add(layer.weights.weight);
    add(layer.weights.bias);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the int8 calibration file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string weights_fingerprint(const RvmWeights& w) {
  Fnv1a fnv;
  fnv.add(w.stem);
  for (const InvertedResidual& block : w.blocks) {
    if (block.expand) fnv.add(*block.expand);
    fnv.add(block.depthwise);
    fnv.add(block.project);
  }
  for (const ConvLayer* layer :
       {&w.last, &w.aspp_main, &w.bottleneck_gru.input_hidden, &w.bottleneck_gru.hidden_hidden})
    fnv.add(*layer);
  for (const UpsamplingLayer& level : w.upsampling)
    for (const ConvLayer* layer : {&level.conv, &level.gru.input_hidden, &level.gru.hidden_hidden})
      fnv.add(*layer);
  for (const ConvLayer* layer : {&w.output_conv1, &w.output_conv2, &w.project_mat}) fnv.add(*layer);
  return fmt::format("{:016x}", fnv.hash);
}

Int8Calibration parse_int8_calibration(std::string_view json, const std::string& source) {
  const auto fail = [&](const std::string& what) {
    return Error(fmt::format("{}: not an int8 calibration: {}", source, what));
  };
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw fail("not a JSON object");
  if (doc.value("format", "") != kFormat)
    throw fail(fmt::format("\"format\" is not \"{}\"", kFormat));
  if (!doc.contains("weights") || !doc["weights"].is_string()) throw fail("no \"weights\" string");
  if (!doc.contains("ranges") || !doc["ranges"].is_object()) throw fail("no \"ranges\" object");
  Int8Calibration calibration;
  calibration.weights = doc["weights"].get<std::string>();
  if (doc.contains("frames") && doc["frames"].is_number_integer())
    calibration.frames = doc["frames"].get<int>();
  for (const auto& [name, values] : doc["ranges"].items()) {
    if (!values.is_array() || values.empty())
      throw fail(fmt::format("the ranges of {} are not a list of numbers", name));
    std::vector<float>& ranges = calibration.ranges[name];
    for (const auto& value : values) {
      // Zero is a channel that was always zero (e.g. padding); negative or huge is corrupt.
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 ||
          value.get<double>() > 1e30)
        throw fail(fmt::format("a range of {} is not a finite number >= 0", name));
      ranges.push_back(value.get<float>());
    }
  }
  return calibration;
}

// One layer per line, so that a diff of two calibrations reads layer by layer.
std::string to_json(const Int8Calibration& calibration) {
  std::string layers;
  for (const auto& [name, ranges] : calibration.ranges) {
    if (!layers.empty()) layers += ",\n";
    layers += fmt::format("    {}: [{:.6g}]", nlohmann::json(name).dump(), fmt::join(ranges, ", "));
  }
  return fmt::format(
      "{{\n  \"format\": \"{}\",\n  \"weights\": {},\n  \"frames\": {},\n  \"ranges\": {{\n{}\n  "
      "}}\n}}\n",
      kFormat, nlohmann::json(calibration.weights).dump(), calibration.frames, layers);
}

Int8Calibration load_int8_calibration(const RvmWeights& weights, const std::string& path) {
  const std::string fingerprint = weights_fingerprint(weights);
  if (!path.empty()) {
    Int8Calibration calibration = parse_int8_calibration(read_file(path), path);
    if (calibration.weights != fingerprint)
      throw Error(fmt::format("{}: int8 calibration made for other weights ({}; these are {})",
                              path, calibration.weights, fingerprint));
    return calibration;
  }
  // The built-in file holds one calibration per known model, by fingerprint.
  const nlohmann::json builtin =
      nlohmann::json::parse(kBuiltinInt8Calibration, nullptr, /*allow_exceptions=*/false);
  if (builtin.is_array())
    for (const auto& entry : builtin)
      if (entry.value("weights", "") == fingerprint)
        return parse_int8_calibration(entry.dump(), "built-in int8 calibration");
  throw Error(fmt::format(
      "no built-in int8 calibration for these weights ({}): make one with `mattecast calibrate` "
      "and pass it with --int8-calibration",
      fingerprint));
}

}  // namespace mattecast
