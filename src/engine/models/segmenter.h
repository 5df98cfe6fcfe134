// A light segmentation network (a TFLite file, models/tflite_graph.h) as a matting session: the
// frame resized to the network's input (stretched, as the models were trained on whole frames),
// normalised per its profile; its person mask smoothed over time (these networks have no memory:
// a running average against flicker) and brought to the frame's size by a fast guided filter
// guided by the frame (RVM's refiner idea: edges follow hair and clothing), or bilinearly. A
// network with a `prior_mask` input (the Portrait-Segmentation video model) is fed its own last mask.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/segmentation_profile.h"
#include "models/tflite_graph.h"
#include "nn/workspace.h"

namespace mattecast {

struct SegmenterOptions {
  SegmentationProfile profile;
  bool guided_upsampling = true;
  float mask_smoothing = 0;  // weight of the previous frame's mask, 0..1
};

class Segmenter {
 public:
  // `bytes`: the .tflite file; `name` stands for it in messages. Throws Error for a graph the
  // runner cannot run, or an output that is not a mask of the input's size.
  Segmenter(std::span<const uint8_t> bytes, const std::string& name, SegmenterOptions options);
  ~Segmenter();

  // alpha at the frame's size; no foreground (out.foreground emptied). A frame of another size
  // than the last starts a new stream (no smoothing with the last mask, a prior of zeros).
  void forward(const RgbImage& frame, Matte& out);
  void reset_state();
  void set_mask_smoothing(float weight) { options_.mask_smoothing = weight; }
  const StageTimings& timings() const { return timings_; }
  // The network's own input size.
  int input_width() const { return input_w_; }
  int input_height() const { return input_h_; }

 private:
  void fill_input(const RgbImage& frame);
  void read_mask();

  std::string name_;
  SegmenterOptions options_;
  tflite::Graph graph_;
  int input_h_ = 0, input_w_ = 0, mask_h_ = 0, mask_w_ = 0, mask_channels_ = 1;
  int frame_w_ = 0, frame_h_ = 0;  // the stream's frame size: another starts a new stream
  kernels::Workspace workspace_;
  std::vector<float> guide_;     // the frame at the mask's size, RGB 0..1
  std::vector<float> y_;         // [0, 0, 0, mask] per pixel: the guided filter's four channels
  std::vector<float> previous_;  // last frame's smoothed mask
  std::vector<float> prior_;     // the network's own last mask, for a profile with prior_mask
  std::vector<float> rgb_input_; // the frame at the input's size, when the input has a 4th channel
  std::vector<float> a_, b_;     // guided filter coefficients, 4 channels
  bool has_previous_ = false;
  StageTimings timings_;
};

}  // namespace mattecast
