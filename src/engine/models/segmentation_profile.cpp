#include "models/segmentation_profile.h"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

const std::array<KnownSegmentationModel, 7> kKnown = {{
    {"8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27",
     "selfie_segmentation.tflite", "mediapipe-selfie", {.name = "selfie"},
     "MediaPipe selfie_segmentation_cpu.pbtxt: RGB in [0, 1] (output_tensor_float_range 0..1), "
     "stretched (keep_aspect_ratio false), the mask a probability"},
    {"4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894",
     "selfie_segmentation_landscape.tflite", "mediapipe-selfie", {.name = "selfie-landscape"},
     "MediaPipe selfie_segmentation_landscape_cpu.pbtxt: RGB in [0, 1], stretched, the mask a "
     "probability"},
    {"e8550082200e7501ac36f3abf9281e40fececb86c3f9443c1e89032a8b5fa943",
     "bilinear_fin_munet_uint8.tflite", "portrait-segmentation", {.name = "munet"},
     "Portrait-Segmentation scripts/tflite_webcam.py: RGB / 255, the mask a probability"},
    {"ab3b857fad5992c50edc411f1fa54450ab18e6faedc4d7093a5eb4d0f0dae0a5", "mnv3_seg_float.tflite",
     "portrait-segmentation", {.name = "mnv3", .range = InputRange::symmetric, .person_channel = 1, .logits = true},
     "Portrait-Segmentation mnv3seg_tfsource.ipynb: (RGB - 127.5) / 127.5, two logits "
     "(background, person)"},
    {"239033b3ff31fb3490c1f89aba1c37345e944484d3e209e8538550a301e5d127", "prisma-net.tflite",
     "portrait-segmentation", {.name = "prisma"},
     "Portrait-Segmentation prisma_segmentation.ipynb: RGB / 255, the mask a probability"},
    {"7e258fac7c83b2698aa4d4c90d3a97eb65ad3e9c27dc283bed304b3c2dfef9a3", "slim_reshape_v2.tflite",
     "portrait-segmentation", {.name = "slim"},
     "Portrait-Segmentation slim512.ipynb: RGB / 255, the softmax's person channel"},
    {"8dfa4796dd428d0bccdd6dfa0c6dc4caff8683c36bc4887fd68091cfd61c3b32",
     "portrait_video_quant.tflite", "portrait-segmentation",
     {.name = "portrait-video", .range = InputRange::caffe, .bgr = true, .prior_mask = true},
     "Portrait-Segmentation's portrait video model: BGR, (x - [103.94, 116.78, 123.68]) * "
     "0.017, its own last mask (0 at first) as a fourth channel; the person's softmax"},
}};

}  // namespace

std::span<const KnownSegmentationModel> known_segmentation_models() { return kKnown; }

const KnownSegmentationModel* find_segmentation_model_by_checksum(std::string_view sha256) {
  for (const auto& known : kKnown)
    if (sha256 == known.sha256) return &known;
  return nullptr;
}

const KnownSegmentationModel* find_segmentation_model_by_name(std::string_view name) {
  for (const auto& known : kKnown)
    if (name == known.profile.name) return &known;
  return nullptr;
}

SegmentationProfile parse_segmentation_profile(std::string_view text, SegmentationProfile base) {
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view word = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    int channel = 0;
    if (word == "unit") base.range = InputRange::unit;
    else if (word == "symmetric") base.range = InputRange::symmetric;
    else if (word == "byte") base.range = InputRange::byte;
    else if (word == "caffe") base.range = InputRange::caffe;
    else if (word == "prior") base.prior_mask = true;
    else if (word == "no-prior") base.prior_mask = false;
    else if (word == "rgb") base.bgr = false;
    else if (word == "bgr") base.bgr = true;
    else if (word == "logits") base.logits = true;
    else if (word == "probability") base.logits = false;
    else if (word.starts_with("person=") &&
             std::from_chars(word.data() + 7, word.data() + word.size(), channel).ec ==
                 std::errc{} &&
             (channel == 0 || channel == 1))
      base.person_channel = channel;
    else
      throw Error(fmt::format("model input '{}': expected unit, symmetric, byte, caffe, rgb, bgr, "
                              "person=0, person=1, logits, probability, prior or no-prior",
                              word));
  }
  return base;
}

std::string to_string(const SegmentationProfile& profile) {
  const char* range = profile.range == InputRange::unit        ? "unit"
                      : profile.range == InputRange::symmetric ? "symmetric"
                      : profile.range == InputRange::byte      ? "byte"
                                                               : "caffe";
  return fmt::format("{},{},person={},{}{}", range, profile.bgr ? "bgr" : "rgb",
                     profile.person_channel, profile.logits ? "logits" : "probability",
                     profile.prior_mask ? ",prior" : "");
}

}  // namespace mattecast
