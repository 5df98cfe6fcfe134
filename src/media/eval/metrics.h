// Alpha matte quality metrics as Robust Video Matting's evaluation defines them
// (evaluation/evaluate_lr.py of PeterL1n/RobustVideoMatting), so that numbers can be set beside
// the paper's tables.
//
// Inputs are float alpha in 0..1, rows packed (stride = width). Every metric carries the scale
// factor the official script applies; results are in these units:
//
//   MAD    mean |pred - true|                                  x 1e3
//   MSE    mean (pred - true)^2                                x 1e3
//   Grad   sum over pixels of (|grad pred| - |grad true|)^2    x 1e-3   (a sum: grows with size)
//   Conn   sum over pixels of |phi(true) - phi(pred)|          x 1e-3   (a sum: grows with size)
//   dtSSD  sqrt(mean ((pred_t - pred_t-1) - (true_t - true_t-1))^2)  x 1e2
//   IoU    |pred > 0.5 and true > 0.5| / |pred > 0.5 or true > 0.5|  (not RVM's: for the
//          segmentation networks, whose masks are judged as masks; 1 when both are empty)
//
// Grad follows evaluate_lr.py, which min-max normalises both mattes first (cv2.normalize);
// evaluate_hr.py leaves that step out, which changes nothing when each matte spans 0..1.
// dtSSD needs the previous frame; the official script scores a sequence's first frame 0 and
// averages over all frames including that 0, and SequenceMetrics does the same.
#pragma once

#include <vector>

namespace mattecast::eval {

// A read-only alpha matte: `width * height` floats, row after row.
struct AlphaPlane {
  const float* values = nullptr;
  int width = 0;
  int height = 0;
};

double mean_absolute_difference(AlphaPlane pred, AlphaPlane truth);
double mean_squared_error(AlphaPlane pred, AlphaPlane truth);
// Gaussian derivative filters with sigma 1.4 (9x9), replicated borders.
double gradient_error(AlphaPlane pred, AlphaPlane truth);
// Thresholds 0.1, 0.2, ... 1.0; largest 4-connected component of the joint foreground.
double connectivity_error(AlphaPlane pred, AlphaPlane truth);
double intersection_over_union(AlphaPlane pred, AlphaPlane truth);
double temporal_coherence_error(AlphaPlane pred, AlphaPlane pred_previous, AlphaPlane truth,
                                AlphaPlane truth_previous);

struct FrameMetrics {
  double mad = 0;
  double mse = 0;
  double grad = 0;
  double conn = 0;
  double dtssd = 0;
  double iou = 0;
};

// Scores the frames of one sequence in order, keeping the previous frame for dtSSD.
class SequenceMetrics {
 public:
  // Scores one frame pair. The planes need to stay valid only for this call. Throws Error
  // when the sizes differ from each other or from the earlier frames'.
  const FrameMetrics& add(AlphaPlane pred, AlphaPlane truth);

  const std::vector<FrameMetrics>& per_frame() const { return per_frame_; }
  FrameMetrics mean() const;  // all zeros before the first frame

 private:
  std::vector<FrameMetrics> per_frame_;
  std::vector<float> previous_pred_;
  std::vector<float> previous_truth_;
  int width_ = 0;
  int height_ = 0;
};

}  // namespace mattecast::eval
