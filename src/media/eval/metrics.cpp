#include "eval/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "mattecast/mattecast.h"

namespace mattecast::eval {
namespace {

size_t pixel_count(AlphaPlane plane) { return size_t(plane.width) * size_t(plane.height); }

void check_same_size(AlphaPlane pred, AlphaPlane truth) {
  if (pred.width <= 0 || pred.height <= 0 || !pred.values || !truth.values)
    throw Error(fmt::format("empty alpha matte ({}x{})", pred.width, pred.height));
  if (pred.width != truth.width || pred.height != truth.height)
    throw Error(fmt::format("alpha sizes differ: prediction {}x{}, ground truth {}x{}", pred.width,
                            pred.height, truth.width, truth.height));
}

// ---- Gradient error -------------------------------------------------------------------------

// The official filter is the outer product of a Gaussian (down the rows) and its derivative
// (along the columns), normalised to unit L2 norm; the y filter is its transpose. Being
// separable, it runs as two 1-D passes, and the norm folds into the derivative taps.
constexpr double gradient_sigma = 1.4;
constexpr int gradient_radius = 4;  // ceil(sigma * sqrt(-2 ln(sqrt(2 pi) sigma 0.01))) for 1.4
constexpr int gradient_taps = 2 * gradient_radius + 1;

struct GradientTaps {
  std::array<float, gradient_taps> gaussian;
  std::array<float, gradient_taps> derivative;  // already divided by the 2-D filter's norm
};

GradientTaps make_gradient_taps() {
  std::array<double, gradient_taps> gaussian{}, derivative{};
  double gaussian_energy = 0, derivative_energy = 0;
  for (int k = 0; k < gradient_taps; ++k) {
    const double x = k - gradient_radius;
    gaussian[k] = std::exp(-x * x / (2 * gradient_sigma * gradient_sigma)) /
                  (gradient_sigma * std::sqrt(2 * std::numbers::pi));
    derivative[k] = -x * gaussian[k] / (gradient_sigma * gradient_sigma);
    gaussian_energy += gaussian[k] * gaussian[k];
    derivative_energy += derivative[k] * derivative[k];
  }
  // The 2-D filter's sum of squares is the product of the 1-D ones.
  const double norm = std::sqrt(gaussian_energy * derivative_energy);
  GradientTaps taps;
  for (int k = 0; k < gradient_taps; ++k) {
    taps.gaussian[k] = float(gaussian[k]);
    taps.derivative[k] = float(derivative[k] / norm);
  }
  return taps;
}

// Correlation down the columns (as cv2.filter2D: no kernel flip), rows beyond the edge
// replicated.
void filter_columns(const float* source, float* destination, int width, int height,
                    const std::array<float, gradient_taps>& taps) {
  for (int y = 0; y < height; ++y) {
    float* out = destination + ptrdiff_t(y) * width;
    std::fill(out, out + width, 0.0f);
    for (int k = 0; k < gradient_taps; ++k) {
      const int source_y = std::clamp(y + k - gradient_radius, 0, height - 1);
      const float* in = source + ptrdiff_t(source_y) * width;
      const float tap = taps[k];
      for (int x = 0; x < width; ++x) out[x] += tap * in[x];
    }
  }
}

// Correlation along the rows, columns beyond the edge replicated (through a padded row copy).
void filter_rows(const float* source, float* destination, int width, int height,
                 const std::array<float, gradient_taps>& taps) {
  std::vector<float> padded(size_t(width) + 2 * gradient_radius);
  for (int y = 0; y < height; ++y) {
    const float* in = source + ptrdiff_t(y) * width;
    std::fill(padded.begin(), padded.begin() + gradient_radius, in[0]);
    std::copy(in, in + width, padded.begin() + gradient_radius);
    std::fill(padded.end() - gradient_radius, padded.end(), in[width - 1]);
    float* out = destination + ptrdiff_t(y) * width;
    std::fill(out, out + width, 0.0f);
    for (int k = 0; k < gradient_taps; ++k) {
      const float* shifted = padded.data() + k;
      const float tap = taps[k];
      for (int x = 0; x < width; ++x) out[x] += tap * shifted[x];
    }
  }
}

// cv2.normalize(NORM_MINMAX) to 0..1; a constant matte becomes all zeros, as in OpenCV.
std::vector<float> normalize_min_max(AlphaPlane plane) {
  const size_t count = pixel_count(plane);
  const auto [low, high] = std::minmax_element(plane.values, plane.values + count);
  const double range = double(*high) - double(*low);
  const double scale = range > std::numeric_limits<double>::epsilon() ? 1.0 / range : 0.0;
  const double shift = -double(*low) * scale;
  std::vector<float> normalized(count);
  for (size_t i = 0; i < count; ++i) normalized[i] = float(plane.values[i] * scale + shift);
  return normalized;
}

// |gradient| of the min-max normalised matte.
std::vector<float> gradient_magnitude(AlphaPlane plane, const GradientTaps& taps) {
  const int width = plane.width, height = plane.height;
  const std::vector<float> normalized = normalize_min_max(plane);
  std::vector<float> smoothed(normalized.size()), along_x(normalized.size()),
      along_y(normalized.size());
  filter_columns(normalized.data(), smoothed.data(), width, height, taps.gaussian);
  filter_rows(smoothed.data(), along_x.data(), width, height, taps.derivative);
  filter_columns(normalized.data(), smoothed.data(), width, height, taps.derivative);
  filter_rows(smoothed.data(), along_y.data(), width, height, taps.gaussian);
  for (size_t i = 0; i < along_x.size(); ++i)
    along_x[i] = std::sqrt(along_x[i] * along_x[i] + along_y[i] * along_y[i]);
  return along_x;
}

// ---- Connectivity error ---------------------------------------------------------------------

// A horizontal stretch [begin, end) of joint-foreground pixels in one row.
struct Run {
  int row;
  int begin;
  int end;
};

// Union-find over runs whose root is always the smallest index of its set, so that the root is
// the component's first run in raster order.
class RunSets {
 public:
  explicit RunSets(size_t count) : parent_(count) {
    for (size_t i = 0; i < count; ++i) parent_[i] = int(i);
  }
  int find(int i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void join(int a, int b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<int> parent_;
};

// Marks in `in_component` (1/0) the largest 4-connected component of the pixels where both
// mattes reach `threshold`. On a tie the component met first in raster order wins, as with
// np.argmax over cv2.connectedComponentsWithStats labels. Leaves all zeros if none.
void mark_largest_component(AlphaPlane pred, AlphaPlane truth, float threshold,
                            std::vector<uint8_t>& in_component) {
  const int width = pred.width, height = pred.height;
  std::vector<Run> runs;
  std::vector<size_t> row_first_run(size_t(height) + 1);
  for (int y = 0; y < height; ++y) {
    row_first_run[y] = runs.size();
    const float* pred_row = pred.values + ptrdiff_t(y) * width;
    const float* truth_row = truth.values + ptrdiff_t(y) * width;
    int x = 0;
    while (x < width) {
      while (x < width && !(truth_row[x] >= threshold && pred_row[x] >= threshold)) ++x;
      if (x == width) break;
      const int begin = x;
      while (x < width && truth_row[x] >= threshold && pred_row[x] >= threshold) ++x;
      runs.push_back({y, begin, x});
    }
  }
  row_first_run[height] = runs.size();

  // Runs of neighbouring rows touch (4-connectivity) when their column ranges overlap.
  RunSets sets(runs.size());
  for (int y = 1; y < height; ++y) {
    size_t above = row_first_run[y - 1], below = row_first_run[y];
    while (above < row_first_run[y] && below < row_first_run[y + 1]) {
      const Run& a = runs[above];
      const Run& b = runs[below];
      if (a.begin < b.end && b.begin < a.end) sets.join(int(above), int(below));
      // The run that ends first cannot overlap anything further along the other row.
      if (a.end < b.end) {
        ++above;
      } else {
        ++below;
      }
    }
  }

  std::vector<int64_t> component_size(runs.size(), 0);
  for (size_t i = 0; i < runs.size(); ++i)
    component_size[sets.find(int(i))] += runs[i].end - runs[i].begin;
  std::fill(in_component.begin(), in_component.end(), uint8_t(0));
  if (runs.empty()) return;
  // Roots are first runs, so scanning in index order with a strict > keeps the earliest on ties.
  int largest = 0;
  for (size_t i = 1; i < runs.size(); ++i)
    if (component_size[i] > component_size[largest]) largest = int(i);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (sets.find(int(i)) != largest) continue;
    uint8_t* row = in_component.data() + ptrdiff_t(runs[i].row) * width;
    std::fill(row + runs[i].begin, row + runs[i].end, uint8_t(1));
  }
}

}  // namespace

double mean_absolute_difference(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  const size_t count = pixel_count(pred);
  double sum = 0;
  for (size_t i = 0; i < count; ++i) sum += std::abs(pred.values[i] - truth.values[i]);
  return sum / double(count) * 1e3;
}

double mean_squared_error(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  const size_t count = pixel_count(pred);
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const float difference = pred.values[i] - truth.values[i];
    sum += difference * difference;
  }
  return sum / double(count) * 1e3;
}

double gradient_error(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  static const GradientTaps taps = make_gradient_taps();
  const std::vector<float> truth_gradient = gradient_magnitude(truth, taps);
  const std::vector<float> pred_gradient = gradient_magnitude(pred, taps);
  double sum = 0;
  for (size_t i = 0; i < truth_gradient.size(); ++i) {
    const float difference = truth_gradient[i] - pred_gradient[i];
    sum += difference * difference;
  }
  return sum / 1000;
}

double connectivity_error(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  const size_t count = pixel_count(pred);
  // The official thresholds are np.arange(0, 1.1, 0.1), i.e. step * 0.1 in double, compared
  // with float32 mattes in float32 (NumPy 1.x casting), hence the float() of each.
  constexpr int steps = 10;
  constexpr float unset = -1.0f;
  // The threshold at which each pixel first drops out of the largest connected component.
  std::vector<float> round_down(count, unset);
  std::vector<uint8_t> in_largest(count);
  for (int step = 1; step <= steps; ++step) {
    mark_largest_component(pred, truth, float(step * 0.1), in_largest);
    const float previous_threshold = float((step - 1) * 0.1);
    for (size_t i = 0; i < count; ++i)
      if (round_down[i] == unset && !in_largest[i]) round_down[i] = previous_threshold;
  }

  // phi = 1 - d where d = alpha - round_down, counting only d >= 0.15.
  const auto phi = [](float alpha, float level) {
    const float difference = alpha - level;
    return difference >= 0.15f ? 1.0f - difference : 1.0f;
  };
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const float level = round_down[i] == unset ? 1.0f : round_down[i];
    sum += std::abs(phi(truth.values[i], level) - phi(pred.values[i], level));
  }
  return sum / 1000;
}

double intersection_over_union(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  const size_t count = pixel_count(pred);
  size_t both = 0, either = 0;
  for (size_t i = 0; i < count; ++i) {
    const bool in_pred = pred.values[i] > 0.5f, in_truth = truth.values[i] > 0.5f;
    both += in_pred && in_truth;
    either += in_pred || in_truth;
  }
  return either == 0 ? 1.0 : double(both) / double(either);
}

double temporal_coherence_error(AlphaPlane pred, AlphaPlane pred_previous, AlphaPlane truth,
                                AlphaPlane truth_previous) {
  check_same_size(pred, truth);
  check_same_size(pred_previous, truth_previous);
  check_same_size(pred, pred_previous);
  const size_t count = pixel_count(pred);
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const float difference =
        (pred.values[i] - pred_previous.values[i]) - (truth.values[i] - truth_previous.values[i]);
    sum += difference * difference;
  }
  return std::sqrt(sum / double(count)) * 1e2;
}

const FrameMetrics& SequenceMetrics::add(AlphaPlane pred, AlphaPlane truth) {
  check_same_size(pred, truth);
  if (!per_frame_.empty() && (pred.width != width_ || pred.height != height_))
    throw Error(fmt::format("frame {} is {}x{}, the sequence's earlier frames {}x{}",
                            per_frame_.size(), pred.width, pred.height, width_, height_));
  FrameMetrics frame;
  frame.mad = mean_absolute_difference(pred, truth);
  frame.mse = mean_squared_error(pred, truth);
  frame.grad = gradient_error(pred, truth);
  frame.conn = connectivity_error(pred, truth);
  frame.iou = intersection_over_union(pred, truth);
  if (!per_frame_.empty()) {
    frame.dtssd = temporal_coherence_error(pred, {previous_pred_.data(), width_, height_}, truth,
                                           {previous_truth_.data(), width_, height_});
  }
  width_ = pred.width;
  height_ = pred.height;
  const size_t count = pixel_count(pred);
  previous_pred_.assign(pred.values, pred.values + count);
  previous_truth_.assign(truth.values, truth.values + count);
  per_frame_.push_back(frame);
  return per_frame_.back();
}

FrameMetrics SequenceMetrics::mean() const {
  FrameMetrics total;
  if (per_frame_.empty()) return total;
  for (const FrameMetrics& frame : per_frame_) {
    total.mad += frame.mad;
    total.mse += frame.mse;
    total.grad += frame.grad;
    total.conn += frame.conn;
    total.dtssd += frame.dtssd;
    total.iou += frame.iou;
  }
  const double count = double(per_frame_.size());
  return {total.mad / count, total.mse / count, total.grad / count, total.conn / count,
          total.dtssd / count, total.iou / count};
}

}  // namespace mattecast::eval
