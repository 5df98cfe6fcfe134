// Reinhard colour transfer of the person towards the background (see harmonize.h): statistics on
// a sample grid, then one per-pixel pass, vectorised per instruction set through
// for_row_bands_simd with polynomial log2/exp2 (the libm calls would stay scalar).
#include "compose/harmonize.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "compose/composite.h"
#include "compose/foreground_extension.h"

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;
using Mat3 = std::array<std::array<float, 3>, 3>;

#define INLINE __attribute__((always_inline)) inline

// The paper's RGB -> LMS matrix and log LMS -> lαβ (rows scaled by 1/sqrt(3), 1/sqrt(6),
// 1/sqrt(2)).
constexpr Mat3 kRgbToLms{
    {{0.3811f, 0.5783f, 0.0402f}, {0.1967f, 0.7244f, 0.0782f}, {0.0241f, 0.1288f, 0.8444f}}};
const Mat3 kLogLmsToLab{{{1 / std::sqrt(3.0f), 1 / std::sqrt(3.0f), 1 / std::sqrt(3.0f)},
                         {1 / std::sqrt(6.0f), 1 / std::sqrt(6.0f), -2 / std::sqrt(6.0f)},
                         {1 / std::sqrt(2.0f), -1 / std::sqrt(2.0f), 0.0f}}};

Mat3 multiply(const Mat3& a, const Mat3& b) {
  Mat3 product{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) product[i][j] += a[i][k] * b[k][j];
  return product;
}

Mat3 inverse(const Mat3& m) {
  const auto cofactor = [&](int i, int j) {
    const int i1 = (i + 1) % 3, i2 = (i + 2) % 3, j1 = (j + 1) % 3, j2 = (j + 2) % 3;
    return double(m[i1][j1]) * m[i2][j2] - double(m[i1][j2]) * m[i2][j1];
  };
  const double determinant =
      m[0][0] * cofactor(0, 0) + m[0][1] * cofactor(0, 1) + m[0][2] * cofactor(0, 2);
  Mat3 result{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) result[i][j] = float(cofactor(j, i) / determinant);
  return result;
}

// log2 of x > 0: exponent plus a degree-6 least-squares polynomial of the mantissa m - 1 (error
// below 5e-6; no division, which would be the dearest instruction of the per-pixel pass).
INLINE float fast_log2(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const float exponent = float(int((bits >> 23) & 255) - 127);
  const float t = std::bit_cast<float>((bits & 0x7fffffu) | 0x3f800000u) - 1.0f;
  const float poly =
      1.44251703f +
      t * (-0.717898381f +
           t * (0.456894174f + t * (-0.27736505f + t * (0.121914139f + t * -0.0260663015f))));
  return exponent + t * poly;
}

// 2^x for x in [-126, 126]: the integer part in the exponent, a Taylor polynomial for the rest
// (relative error below 2e-5).
INLINE float fast_exp2(float x) {
  x = std::min(126.0f, std::max(-126.0f, x));
  const int truncated = int(x);
  const int whole = truncated - int(x < float(truncated));  // floor, without SSE4.1's roundps
  const float f = (x - float(whole)) * 0.6931471805599453f;
  const float poly =
      1 + f * (1 + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f / 720)))));
  return std::bit_cast<float>(uint32_t(whole + 127) << 23) * poly;
}

INLINE void lab_of(const float* rgb, float* lab) {
  float log_lms[3];
  for (int i = 0; i < 3; ++i) {
    const float lms =
        kRgbToLms[i][0] * rgb[0] + kRgbToLms[i][1] * rgb[1] + kRgbToLms[i][2] * rgb[2];
    log_lms[i] = fast_log2(std::max(lms, 0.0f) + kLabOffset);
  }
  for (int i = 0; i < 3; ++i) {
    lab[i] = kLogLmsToLab[i][0] * log_lms[0] + kLogLmsToLab[i][1] * log_lms[1] +
             kLogLmsToLab[i][2] * log_lms[2];
  }
}

// About this many pixels are sampled for the statistics: plenty for a mean and a deviation.
constexpr double kSamples = 16384;

// Per sampled row: alpha-weighted sums for the person, (1 - alpha)-weighted for the background.
struct RowSums {
  double person_weight = 0, background_weight = 0;
  std::array<double, 3> person{}, person_squares{}, background{}, background_squares{};
};

ColourStatistics statistics_of(double weight, const std::array<double, 3>& sums,
                               const std::array<double, 3>& squares) {
  ColourStatistics stats;
  for (int c = 0; c < 3; ++c) {
    stats.mean[c] = sums[c] / weight;
    stats.deviation[c] =
        std::sqrt(std::max(0.0, squares[c] / weight - stats.mean[c] * stats.mean[c]));
  }
  return stats;
}

// The per-pixel map log LMS -> log LMS' = transform * log LMS + shift, and its ends.
struct Transfer {
  Mat3 lms_to_rgb;
  Mat3 transform;
  std::array<float, 3> shift;
};

// One pixel, channels in place: RGB -> log LMS -> transformed -> LMS -> RGB, clamped.
INLINE void recolour_pixel(float& r, float& g, float& b, const Transfer& t) {
  float log_lms[3], lms[3];
  for (int i = 0; i < 3; ++i) {
    const float v = kRgbToLms[i][0] * r + kRgbToLms[i][1] * g + kRgbToLms[i][2] * b;
    log_lms[i] = fast_log2(std::max(v, 0.0f) + kLabOffset);
  }
  for (int i = 0; i < 3; ++i) {
    const float m = t.transform[i][0] * log_lms[0] + t.transform[i][1] * log_lms[1] +
                    t.transform[i][2] * log_lms[2] + t.shift[i];
    lms[i] = fast_exp2(m) - kLabOffset;
  }
  const auto to_rgb = [&](int i) {
    const float v =
        t.lms_to_rgb[i][0] * lms[0] + t.lms_to_rgb[i][1] * lms[1] + t.lms_to_rgb[i][2] * lms[2];
    return std::min(1.0f, std::max(0.0f, v));
  };
  r = to_rgb(0);
  g = to_rgb(1);
  b = to_rgb(2);
}

// Chunks of the row are split into planes first: the per-pixel pass then vectorises plainly.
// Chunks without any alpha are skipped: the background covers them (most of a frame).
INLINE void recolour_row(float* __restrict rgb, const float* __restrict alpha, int width,
                         const Transfer& transfer) {
  constexpr int kChunk = 64;
  float red[kChunk], green[kChunk], blue[kChunk];
  for (int begin = 0; begin < width; begin += kChunk) {
    const int n = std::min(kChunk, width - begin);
    int visible = 0;
    for (int x = 0; x < n; ++x) visible |= int(alpha[begin + x] > 0);
    if (!visible) continue;
    float* __restrict p = rgb + 3 * size_t(begin);
    for (int x = 0; x < n; ++x) {
      red[x] = p[3 * x];
      green[x] = p[3 * x + 1];
      blue[x] = p[3 * x + 2];
    }
    for (int x = 0; x < n; ++x) recolour_pixel(red[x], green[x], blue[x], transfer);
    for (int x = 0; x < n; ++x) {
      p[3 * x] = red[x];
      p[3 * x + 1] = green[x];
      p[3 * x + 2] = blue[x];
    }
  }
}

}  // namespace

std::array<float, 3> rgb_to_lab(const std::array<float, 3>& rgb) {
  std::array<float, 3> log_lms{}, lab{};
  for (int i = 0; i < 3; ++i) {
    const double lms = double(kRgbToLms[i][0]) * rgb[0] + double(kRgbToLms[i][1]) * rgb[1] +
                       double(kRgbToLms[i][2]) * rgb[2];
    log_lms[i] = float(std::log2(std::max(lms, 0.0) + kLabOffset));
  }
  for (int i = 0; i < 3; ++i) {
    lab[i] = kLogLmsToLab[i][0] * log_lms[0] + kLogLmsToLab[i][1] * log_lms[1] +
             kLogLmsToLab[i][2] * log_lms[2];
  }
  return lab;
}

struct ColourHarmonizer::Impl {
  std::vector<RowSums> rows;  // one per sampled row
  ColourStatistics person, background;
  int width = 0, height = 0;
  bool have_statistics = false;

  bool measure(const Matte& matte, const RgbImage& background_image, int threads);
  Transfer transfer(float strength) const;
};

// Fills `person` and `background` (smoothed over frames); false when either has no weight.
bool ColourHarmonizer::Impl::measure(const Matte& matte, const RgbImage& bg, int threads) {
  const int step = std::max(1, int(std::sqrt(double(width) * height / kSamples)));
  const int sampled_rows = (height + step - 1) / step;
  rows.resize(size_t(sampled_rows));  // no allocation once sized: the count only changes with size
  const float* alpha = matte.alpha.data();
  const float* foreground = matte.foreground.data();
  for_row_bands_simd(sampled_rows, threads, size_t(width / step) * 40,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int r = begin; r < end; ++r) {
                         const int y = r * step;
                         RowSums sums;
                         for (int x = 0; x < width; x += step) {
                           const size_t i = size_t(y) * width + x;
                           const float a = std::min(1.0f, std::max(0.0f, alpha[i]));
                           const uint8_t* b = bg.data + bg.stride * y + 3 * x;
                           const float bg_rgb[3] = {b[0] / 255.0f, b[1] / 255.0f, b[2] / 255.0f};
                           float person_lab[3], background_lab[3];
                           lab_of(foreground + 3 * i, person_lab);
                           lab_of(bg_rgb, background_lab);
                           sums.person_weight += a;
                           sums.background_weight += 1.0f - a;
                           for (int c = 0; c < 3; ++c) {
                             sums.person[c] += a * person_lab[c];
                             sums.person_squares[c] += a * person_lab[c] * person_lab[c];
                             sums.background[c] += (1.0f - a) * background_lab[c];
                             sums.background_squares[c] +=
                                 (1.0f - a) * background_lab[c] * background_lab[c];
                           }
                         }
                         rows[size_t(r)] = sums;
                       }
                     });
  RowSums total;
  for (const RowSums& row : rows) {
    total.person_weight += row.person_weight;
    total.background_weight += row.background_weight;
    for (int c = 0; c < 3; ++c) {
      total.person[c] += row.person[c];
      total.person_squares[c] += row.person_squares[c];
      total.background[c] += row.background[c];
      total.background_squares[c] += row.background_squares[c];
    }
  }
  if (!(total.person_weight > 0 && total.background_weight > 0)) return false;
  const ColourStatistics now_person =
      statistics_of(total.person_weight, total.person, total.person_squares);
  const ColourStatistics now_background =
      statistics_of(total.background_weight, total.background, total.background_squares);
  const double keep = have_statistics ? kKeep : 0.0;
  for (int c = 0; c < 3; ++c) {
    person.mean[c] = keep * person.mean[c] + (1 - keep) * now_person.mean[c];
    person.deviation[c] = keep * person.deviation[c] + (1 - keep) * now_person.deviation[c];
    background.mean[c] = keep * background.mean[c] + (1 - keep) * now_background.mean[c];
    background.deviation[c] =
        keep * background.deviation[c] + (1 - keep) * now_background.deviation[c];
  }
  have_statistics = true;
  return true;
}

Transfer ColourHarmonizer::Impl::transfer(float strength) const {
  // In lαβ: v' = scale * v + offset per channel; in log LMS that is lab_to_log * diag(scale) *
  // log_to_lab, plus lab_to_log * offset.
  static const Mat3 lab_to_log_lms = inverse(kLogLmsToLab);
  Mat3 scaled = kLogLmsToLab;
  std::array<float, 3> offset{};
  for (int c = 0; c < 3; ++c) {
    const double ratio =
        person.deviation[c] > 1e-6 ? background.deviation[c] / person.deviation[c] : 1.0;
    const double scale = 1 + strength * (ratio - 1);
    offset[c] =
        float(person.mean[c] * (1 - scale) + strength * (background.mean[c] - person.mean[c]));
    for (float& v : scaled[c]) v = float(v * scale);
  }
  Transfer t{inverse(kRgbToLms), multiply(lab_to_log_lms, scaled), {}};
  for (int i = 0; i < 3; ++i) {
    for (int c = 0; c < 3; ++c) t.shift[i] += lab_to_log_lms[i][c] * offset[c];
  }
  return t;
}

ColourHarmonizer::ColourHarmonizer() : impl_(std::make_unique<Impl>()) {}
ColourHarmonizer::~ColourHarmonizer() = default;
ColourHarmonizer::ColourHarmonizer(ColourHarmonizer&&) noexcept = default;
ColourHarmonizer& ColourHarmonizer::operator=(ColourHarmonizer&&) noexcept = default;

void ColourHarmonizer::reset() { impl_->have_statistics = false; }
const ColourStatistics& ColourHarmonizer::person() const { return impl_->person; }
const ColourStatistics& ColourHarmonizer::background() const { return impl_->background; }

void ColourHarmonizer::apply(float strength, Matte& matte, const RgbImage& source,
                             const RgbImage& background, int threads) {
  if (!(strength >= 0 && strength <= 1)) {
    throw Error(fmt::format("harmonize: strength {} is not in [0, 1]", strength));
  }
  if (strength == 0) return;
  const int width = matte.width, height = matte.height;
  const size_t pixels = size_t(std::max(width, 0)) * size_t(std::max(height, 0));
  if (matte.alpha.size() != pixels || background.width != width || background.height != height) {
    throw Error(fmt::format("harmonize: the matte is {}x{}, the background {}x{}", width, height,
                            background.width, background.height));
  }
  if (pixels == 0) return;
  if (matte.foreground.empty()) fill_foreground(source, matte, threads);
  Impl& s = *impl_;
  if (width != s.width || height != s.height) {
    s.width = width;
    s.height = height;
    s.have_statistics = false;
  }
  if (!s.measure(matte, background, threads)) return;
  const Transfer transfer = s.transfer(strength);
  float* foreground = matte.foreground.data();
  for_row_bands_simd(height, threads, size_t(width) * 60,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y)
                         recolour_row(foreground + size_t(y) * width * 3,
                                      matte.alpha.data() + size_t(y) * width, width, transfer);
                     });
}

}  // namespace mattecast
