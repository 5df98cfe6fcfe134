// How a light segmentation network (a TFLite file) wants its input and gives its mask. The files
// do not say (no normalisation, channel order or class meaning is stored in them), so the shipped
// models are recognised by their SHA-256 and anything else takes an explicit override.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mattecast {

enum class InputRange { unit, symmetric, byte };  // [0, 1], [-1, 1], [0, 255]

struct SegmentationProfile {
  std::string name;  // the short name ("selfie"); "" for a file not in the table
  InputRange range = InputRange::unit;
  bool bgr = false;        // channels in B, G, R order
  int person_channel = 0;  // which channel of a two-channel output is the person
  bool logits = false;     // a two-channel output of logits: the mask is their softmax
};

struct KnownSegmentationModel {
  const char* sha256;
  const char* file;  // as shipped (found in the model search path's folders by `name`)
  const char* folder;
  SegmentationProfile profile;
  const char* source;  // where its preprocessing comes from
};

std::span<const KnownSegmentationModel> known_segmentation_models();
const KnownSegmentationModel* find_segmentation_model_by_checksum(std::string_view sha256);
const KnownSegmentationModel* find_segmentation_model_by_name(std::string_view name);

// An override, comma-separated on top of `base`: "unit" | "symmetric" | "byte", "rgb" | "bgr",
// "person=N", "logits" | "probability". Throws Error naming the bad word.
SegmentationProfile parse_segmentation_profile(std::string_view text, SegmentationProfile base);
// The same words back: "unit,rgb,person=0,probability".
std::string to_string(const SegmentationProfile& profile);

}  // namespace mattecast
