#include "models/tfjs_manifest.h"

#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

using nlohmann::json;

// Bounds far above any matting model that keep every size computation below int64 overflow.
constexpr size_t kMaxRank = 8;
constexpr int64_t kMaxTensorElements = int64_t(1) << 32;
constexpr int64_t kMaxGroupBytes = int64_t(1) << 40;

// Where in model.json a check failed, for the error message
// "<file>: weightsManifest[g].weights[i] ('name'): what".
class EntryContext {
 public:
  EntryContext(const std::string& source, std::string location)
      : source_(source), location_(std::move(location)) {}

  void set_name(const std::string& name) { name_ = name; }

  [[noreturn]] void fail(const std::string& what) const {
    if (location_.empty()) throw Error(fmt::format("{}: {}", source_, what));
    if (name_.empty()) throw Error(fmt::format("{}: {}: {}", source_, location_, what));
    throw Error(fmt::format("{}: {} ('{}'): {}", source_, location_, name_, what));
  }

 private:
  const std::string& source_;
  std::string location_;
  std::string name_;
};

const json& require_field(const json& object, const char* key, json::value_t type,
                          const char* type_name, const EntryContext& context) {
  auto it = object.find(key);
  if (it == object.end()) context.fail(fmt::format("missing field \"{}\"", key));
  if (it->type() != type) context.fail(fmt::format("field \"{}\" is not {}", key, type_name));
  return *it;
}

const std::string& require_string(const json& object, const char* key,
                                  const EntryContext& context) {
  return require_field(object, key, json::value_t::string, "a string", context)
      .get_ref<const std::string&>();
}

double require_number(const json& object, const char* key, const EntryContext& context) {
  auto it = object.find(key);
  if (it == object.end()) context.fail(fmt::format("missing field \"{}\"", key));
  if (!it->is_number()) context.fail(fmt::format("field \"{}\" is not a number", key));
  return it->get<double>();
}

// Shards must stay inside the model folder: a model file from the internet must not make us read
// arbitrary files.
void check_shard_path(const std::string& path, const EntryContext& context) {
  if (path.empty()) context.fail("empty shard path");
  if (path.find('\0') != std::string::npos) context.fail("shard path contains a NUL character");
  if (path.front() == '/' || path.find('\\') != std::string::npos)
    context.fail(fmt::format("shard path '{}' is not a relative path with '/' separators", path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0)
      context.fail(fmt::format("shard path '{}' leaves the model folder", path));
    start = end + 1;
  }
}

TfjsDtype parse_dtype(const std::string& text, const EntryContext& context) {
  if (text == "float32") return TfjsDtype::float32;
  if (text == "int32") return TfjsDtype::int32;
  if (text == "bool") return TfjsDtype::boolean;
  context.fail(fmt::format("unsupported dtype '{}' (expected float32, int32 or bool)", text));
}

std::vector<int64_t> parse_shape(const json& entry, const EntryContext& context, int64_t& numel) {
  const json& shape_json = require_field(entry, "shape", json::value_t::array, "an array", context);
  if (shape_json.size() > kMaxRank)
    context.fail(fmt::format("shape has rank {}, more than {}", shape_json.size(), kMaxRank));
  std::vector<int64_t> shape;
  numel = 1;
  for (const json& dim_json : shape_json) {
    if (dim_json.is_number_integer() && !dim_json.is_number_unsigned())
      context.fail(fmt::format("shape has a negative dimension ({})", dim_json.get<int64_t>()));
    if (!dim_json.is_number_unsigned()) context.fail("shape holds a value that is not an integer");
    uint64_t dim = dim_json.get<uint64_t>();
    if (dim > uint64_t(kMaxTensorElements) ||
        (dim != 0 && numel > kMaxTensorElements / int64_t(dim)))
      context.fail(
          fmt::format("shape {} has more than {} elements", shape_json.dump(), kMaxTensorElements));
    shape.push_back(int64_t(dim));
    numel *= int64_t(dim);
  }
  return shape;
}

TfjsQuantization parse_quantization(const json& entry, const EntryContext& context) {
  const json& quant = entry.at("quantization");
  if (!quant.is_object()) context.fail("field \"quantization\" is not an object");
  const std::string& stored = require_string(quant, "dtype", context);
  if (stored != "uint8")
    context.fail(fmt::format("unsupported quantization dtype '{}' (expected uint8)", stored));
  auto original = quant.find("original_dtype");
  if (original != quant.end() && *original != "float32")
    context.fail(fmt::format("quantized original_dtype {} is not \"float32\"", original->dump()));
  TfjsQuantization result;
  result.scale = require_number(quant, "scale", context);
  result.min = require_number(quant, "min", context);
  if (result.scale < 0)
    context.fail(fmt::format("quantization scale {} is negative", result.scale));
  // Every stored byte must dequantize to a finite float32. The parser already rejects numbers
  // beyond double range; the negated form also turns away NaN should it ever get through.
  double max = result.min + 255.0 * result.scale;
  if (!(std::fabs(result.min) <= FLT_MAX && std::fabs(max) <= FLT_MAX))
    context.fail(fmt::format("quantization range [{}, {}] exceeds float32", result.min, max));
  return result;
}

TfjsWeight parse_weight(const json& entry, EntryContext& context) {
  if (!entry.is_object()) context.fail("not an object");
  TfjsWeight weight;
  weight.name = require_string(entry, "name", context);
  if (weight.name.empty()) context.fail("empty tensor name");
  context.set_name(weight.name);
  weight.dtype = parse_dtype(require_string(entry, "dtype", context), context);
  weight.shape = parse_shape(entry, context, weight.numel);
  int64_t bytes_per_element = weight.dtype == TfjsDtype::boolean ? 1 : 4;
  if (entry.contains("quantization")) {
    if (weight.dtype != TfjsDtype::float32)
      context.fail(fmt::format("a {} tensor cannot be quantized", to_string(weight.dtype)));
    weight.quantization = parse_quantization(entry, context);
    bytes_per_element = 1;
  }
  weight.bytes = weight.numel * bytes_per_element;  // < 2^34: no overflow
  return weight;
}

TfjsWeightGroup parse_group(const json& group_json, size_t group_index, const std::string& source,
                            std::unordered_set<std::string>& names) {
  EntryContext group_context(source, fmt::format("weightsManifest[{}]", group_index));
  if (!group_json.is_object()) group_context.fail("not an object");
  TfjsWeightGroup group;
  const json& paths =
      require_field(group_json, "paths", json::value_t::array, "an array", group_context);
  if (paths.empty()) group_context.fail("no shard paths");
  for (const json& path : paths) {
    if (!path.is_string()) group_context.fail("a shard path is not a string");
    group.paths.push_back(path.get<std::string>());
    check_shard_path(group.paths.back(), group_context);
  }
  const json& weights =
      require_field(group_json, "weights", json::value_t::array, "an array", group_context);
  for (size_t i = 0; i < weights.size(); ++i) {
    EntryContext context(source, fmt::format("weightsManifest[{}].weights[{}]", group_index, i));
    TfjsWeight weight = parse_weight(weights[i], context);
    if (!names.insert(weight.name).second) context.fail("tensor name appears twice");
    weight.offset = group.bytes;
    group.bytes += weight.bytes;
    if (group.bytes > kMaxGroupBytes)
      context.fail(fmt::format("the weights of this group exceed {} bytes", kMaxGroupBytes));
    group.weights.push_back(std::move(weight));
  }
  return group;
}

}  // namespace

const char* to_string(TfjsDtype dtype) {
  switch (dtype) {
    case TfjsDtype::float32:
      return "float32";
    case TfjsDtype::int32:
      return "int32";
    case TfjsDtype::boolean:
      return "bool";
  }
  return "?";
}

TfjsManifest parse_tfjs_manifest(std::string_view json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {  // syntax errors, and numbers beyond double range
    throw Error(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  EntryContext root_context(source, "");
  if (!root.is_object()) root_context.fail("the top level is not an object");
  const std::string& format = require_string(root, "format", root_context);
  if (format != "graph-model")
    root_context.fail(fmt::format("format '{}' is not a TF.js graph model", format));
  const json& groups =
      require_field(root, "weightsManifest", json::value_t::array, "an array", root_context);
  if (groups.empty()) root_context.fail("weightsManifest is empty");

  TfjsManifest manifest;
  std::unordered_set<std::string> names;
  for (size_t g = 0; g < groups.size(); ++g)
    manifest.groups.push_back(parse_group(groups[g], g, source, names));
  return manifest;
}

}  // namespace mattecast
