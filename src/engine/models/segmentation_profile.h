// How a light segmentation network (a TFLite file) wants its input and gives its mask. The files
// do not say (no normalisation, channel order or class meaning is stored in them), so the shipped
// models are recognised by their SHA-256 and anything else takes an explicit override.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mattecast {

// [0, 1], [-1, 1], [0, 255], or Caffe's: (x - mean) * 0.017 with the ImageNet means
// (R 123.68, G 116.78, B 103.94) on x in [0, 255]
enum class InputRange { unit, symmetric, byte, caffe };

struct SegmentationProfile {
  std::string name;  // the short name ("selfie"); "" for a file not in the table
  InputRange range = InputRange::unit;
  bool bgr = false;        // channels in B, G, R order
  int person_channel = 0;  // which channel of a two-channel output is the person
  bool logits = false;     // a two-channel output of logits: the mask is their softmax
  bool prior_mask = false;  // a fourth input channel: the network's own mask of the last frame
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

// An override, comma-separated on top of `base`: "unit" | "symmetric" | "byte" | "caffe",
// "rgb" | "bgr", "person=N", "logits" | "probability", "prior" | "no-prior". Throws Error naming
// the bad word.
SegmentationProfile parse_segmentation_profile(std::string_view text, SegmentationProfile base);
// The same words back: "unit,rgb,person=0,probability" (",prior" when it has one).
std::string to_string(const SegmentationProfile& profile);

}  // namespace mattecast
