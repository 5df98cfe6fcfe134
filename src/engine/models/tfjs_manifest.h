// The `weightsManifest` of a TF.js model.json: which tensors the .bin shards hold, in which order,
// with which dtype and quantization. Kept apart from file access so that the parsing of this
// untrusted text can be fuzzed on its own (fuzz/fuzz_tfjs_json.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mattecast {

enum class TfjsDtype { float32, int32, boolean };

const char* to_string(TfjsDtype dtype);  // the manifest's spelling: "float32", "int32", "bool"

// uint8 affine quantization of a float32 tensor. The value of a stored byte q is
// float32(double(q) * scale + min), computed in double as TF.js does (JavaScript numbers are
// doubles). The parser guarantees finite values, scale >= 0 and a range that fits in float32.
struct TfjsQuantization {
  double scale = 0.0;
  double min = 0.0;
};

struct TfjsWeight {
  std::string name;
  std::vector<int64_t> shape;
  TfjsDtype dtype = TfjsDtype::float32;
  std::optional<TfjsQuantization> quantization;  // only for float32; absent: stored as raw float32
  int64_t numel = 0;
  int64_t offset = 0;  // bytes from the start of the group's first shard
  int64_t bytes = 0;   // stored size
};

// The shards of a group are read back to back; the weights are stored one after another in them.
struct TfjsWeightGroup {
  std::vector<std::string> paths;  // relative to model.json's folder, never leaving it
  std::vector<TfjsWeight> weights;
  int64_t bytes = 0;  // sum of the weights' sizes: the shards together must hold exactly this
};

struct TfjsManifest {
  std::vector<TfjsWeightGroup> groups;
};

// Parses a model.json of a TF.js graph model and validates its weightsManifest: field types,
// shard paths (relative, no `..`), dtypes, quantization parameters, shapes and size arithmetic,
// unique tensor names. Throws Error naming `source` and the offending entry.
TfjsManifest parse_tfjs_manifest(std::string_view json_text, const std::string& source);

}  // namespace mattecast
