#include "compose/matte_filter.h"

#include <omp.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "compose/composite.h"
#include "compose/foreground_extension.h"
#include "compose/matte_morphology.h"
#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;

#define INLINE __attribute__((always_inline)) inline

// Radii of three box filters whose succession approximates a Gaussian of `sigma` (the box widths
// of "boxes for Gauss": two widths two apart, mixed to match the variance).
std::array<int, 3> box_radii(float sigma) {
  constexpr int n = 3;
  const double variance = double(sigma) * sigma;
  int lower = int(std::floor(std::sqrt(12.0 * variance / n + 1.0)));
  if (lower % 2 == 0) --lower;
  const double m_ideal =
      (12.0 * variance - n * lower * lower - 4.0 * n * lower - 3.0 * n) / (-4.0 * lower - 4.0);
  const int m = int(std::lround(m_ideal));
  std::array<int, 3> radii{};
  for (int i = 0; i < n; ++i) radii[i] = ((i < m ? lower : lower + 2) - 1) / 2;
  return radii;
}

// One box filter of radius r along a row of `width` pixels of C channels, edges repeated.
template <int C>
INLINE void box_row(const float* __restrict in, float* __restrict out, int width, int r) {
  const float scale = 1.0f / float(2 * r + 1);
  float sum[C] = {};
  for (int i = -r; i <= r; ++i) {
    const float* p = in + size_t(std::clamp(i, 0, width - 1)) * C;
    for (int c = 0; c < C; ++c) sum[c] += p[c];
  }
  for (int c = 0; c < C; ++c) out[c] = sum[c] * scale;
  for (int x = 1; x < width; ++x) {
    const float* add = in + size_t(std::min(x + r, width - 1)) * C;
    const float* sub = in + size_t(std::max(x - r - 1, 0)) * C;
    for (int c = 0; c < C; ++c) {
      sum[c] += add[c] - sub[c];
      out[size_t(x) * C + c] = sum[c] * scale;
    }
  }
}

// The same along columns, for the values [begin, end) of each row (rows `row_length` apart):
// each output row is the previous one plus the row entering minus the row leaving the box.
INLINE void box_columns(const float* __restrict in, float* __restrict out, int height,
                        size_t row_length, size_t begin, size_t end, int r) {
  const float scale = 1.0f / float(2 * r + 1);
  const auto row = [&](int y) { return in + size_t(std::clamp(y, 0, height - 1)) * row_length; };
  float* __restrict first = out;
  for (size_t i = begin; i < end; ++i) first[i] = 0.0f;
  for (int y = -r; y <= r; ++y) {
    const float* __restrict p = row(y);
    for (size_t i = begin; i < end; ++i) first[i] += p[i];
  }
  for (size_t i = begin; i < end; ++i) first[i] *= scale;
  for (int y = 1; y < height; ++y) {
    const float* __restrict add = row(y + r);
    const float* __restrict sub = row(y - r - 1);
    const float* __restrict previous = out + size_t(y - 1) * row_length;
    float* __restrict current = out + size_t(y) * row_length;
    for (size_t i = begin; i < end; ++i) current[i] = previous[i] + (add[i] - sub[i]) * scale;
  }
}

// The three box filters along the rows of a single-channel plane, eight rows at a time: the rows
// are interleaved into `lanes` (x-major, so the running sums vectorise across the rows), filtered
// there, and written back in place.
INLINE void box_rows_by_eight(float* data, int width, int height, int y,
                              const std::array<int, 3>& radii, float* __restrict lanes,
                              float* __restrict other) {
  const int rows = std::min(8, height - y);
  for (int r = 0; r < 8; ++r) {
    const float* __restrict row = data + size_t(y + std::min(r, rows - 1)) * width;
    for (int x = 0; x < width; ++x) lanes[8 * x + r] = row[x];
  }
  for (const int radius : radii) {
    if (radius == 0) continue;
    box_row<8>(lanes, other, width, radius);
    std::swap(lanes, other);
  }
  for (int r = 0; r < rows; ++r) {
    float* __restrict row = data + size_t(y + r) * width;
    for (int x = 0; x < width; ++x) row[x] = lanes[8 * x + r];
  }
}

template <int C>
void blur_passes(float* data, std::vector<float>& scratch_buffer, std::vector<float>& lane_buffer,
                 int width, int height, float sigma, int threads) {
  const std::array<int, 3> radii = box_radii(sigma);
  const size_t row_length = size_t(width) * C;
  if (scratch_buffer.size() < row_length * height) scratch_buffer.resize(row_length * height);
  float* current = data;
  float* other = scratch_buffer.data();
  if constexpr (C == 1) {
    // Groups of eight rows, in chunks with their own lane buffers (one chunk per thread).
    const int groups = (height + 7) / 8;
    const int team = threads > 0 ? threads : omp_get_max_threads();
    const int chunks = std::clamp(team, 1, groups);
    const size_t lanes_size = size_t(width) * 8;
    if (lane_buffer.size() < lanes_size * 2 * chunks) lane_buffer.resize(lanes_size * 2 * chunks);
    float* lanes = lane_buffer.data();
    for_row_bands_simd(chunks, threads, size_t(width) * height * 6 / chunks,
                       [&](int chunk_begin, int chunk_end) MATTECAST_COMPOSE_INLINE {
                         for (int chunk = chunk_begin; chunk < chunk_end; ++chunk) {
                           float* mine = lanes + lanes_size * 2 * chunk;
                           const int group_begin = int(int64_t(groups) * chunk / chunks);
                           const int group_end = int(int64_t(groups) * (chunk + 1) / chunks);
                           for (int group = group_begin; group < group_end; ++group) {
                             box_rows_by_eight(data, width, height, 8 * group, radii, mine,
                                               mine + lanes_size);
                           }
                         }
                       });
  } else {
    for (const int r : radii) {
      if (r == 0) continue;
      for_row_bands_simd(height, threads, row_length * size_t(2 * 3),
                         [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                           for (int y = begin; y < end; ++y) {
                             box_row<C>(current + row_length * y, other + row_length * y, width, r);
                           }
                         });
      std::swap(current, other);
    }
  }
  // Columns in blocks of 16 values (a cache line) per band: every column is filtered alone, so
  // the split does not change the result.
  constexpr size_t kBlock = 16;
  const int blocks = int((row_length + kBlock - 1) / kBlock);
  for (const int r : radii) {
    if (r == 0) continue;
    for_row_bands_simd(blocks, threads, size_t(height) * kBlock * 3,
                       [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                         box_columns(current, other, height, row_length, size_t(begin) * kBlock,
                                     std::min(size_t(end) * kBlock, row_length), r);
                       });
    std::swap(current, other);
  }
  if (current != data) std::memcpy(data, current, row_length * height * sizeof(float));
}

INLINE float smoothstep(float value, float low, float scale) {
  const float t = std::min(1.0f, std::max(0.0f, (value - low) * scale));
  return t * t * (3.0f - 2.0f * t);
}

}  // namespace

void GaussianBlur::apply(float* data, int width, int height, int channels, float sigma,
                         int threads) {
  if (channels < 1 || channels > 8) {
    throw Error(fmt::format("blur: {} channels (1 to 8 supported)", channels));
  }
  if (!(sigma >= 0) || !std::isfinite(sigma)) throw Error(fmt::format("blur: bad sigma {}", sigma));
  if (width <= 0 || height <= 0 || sigma == 0) return;
  switch (channels) {
#define MATTECAST_BLUR_CASE(C)                                             \
  case C:                                                                  \
    blur_passes<C>(data, scratch_, lanes_, width, height, sigma, threads); \
    break;
    MATTECAST_BLUR_CASE(1)
    MATTECAST_BLUR_CASE(2)
    MATTECAST_BLUR_CASE(3)
    MATTECAST_BLUR_CASE(4)
    MATTECAST_BLUR_CASE(5)
    MATTECAST_BLUR_CASE(6)
    MATTECAST_BLUR_CASE(7)
    MATTECAST_BLUR_CASE(8)
#undef MATTECAST_BLUR_CASE
  }
}

std::optional<FeatherMode> parse_feather_mode(std::string_view text) {
  if (text == "centred" || text == "centered") return FeatherMode::centred;
  if (text == "inward") return FeatherMode::inward;
  if (text == "outward") return FeatherMode::outward;
  return std::nullopt;
}

const char* feather_mode_name(FeatherMode mode) {
  switch (mode) {
    case FeatherMode::inward:
      return "inward";
    case FeatherMode::outward:
      return "outward";
    case FeatherMode::centred:
      break;
  }
  return "centred";
}

struct MatteFilter::Impl {
  GaussianBlur blur;
  MatteMorphology morphology;
  ForegroundExtension extension;
  std::vector<float> shaped;    // inward/outward feather: the shrunk or grown, blurred alpha
  std::vector<float> previous;  // the last filtered alpha, for the temporal average
  int width = 0, height = 0;
  bool have_previous = false;

  void feather(const MatteFilterParams& params, float* alpha, int threads);
};

// Centred: a blur. Inward (outward): the blur of the alpha shrunk (grown) by feather_px, whose
// soft band then lies inside (outside) the edge, combined with min (max) so that the person never
// gains (loses) alpha.
void MatteFilter::Impl::feather(const MatteFilterParams& params, float* alpha, int threads) {
  const float sigma = params.feather_px / 2;
  if (params.feather_mode == FeatherMode::centred) {
    blur.apply(alpha, width, height, 1, sigma, threads);
    return;
  }
  const size_t count = size_t(width) * height;
  if (shaped.size() < count) shaped.resize(count);
  float* soft = shaped.data();
  std::copy(alpha, alpha + count, soft);
  const bool outward = params.feather_mode == FeatherMode::outward;
  morphology.apply(soft, width, height, params.feather_px, outward, threads);
  blur.apply(soft, width, height, 1, sigma, threads);
  for_row_bands_simd(height, threads, size_t(width) * 2,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       float* __restrict a = alpha + size_t(begin) * width;
                       const float* __restrict b = soft + size_t(begin) * width;
                       const size_t n = size_t(end - begin) * width;
                       if (outward) {
                         for (size_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]);
                       } else {
                         for (size_t i = 0; i < n; ++i) a[i] = std::min(a[i], b[i]);
                       }
                     });
}

MatteFilter::MatteFilter() : impl_(std::make_unique<Impl>()) {}
MatteFilter::~MatteFilter() = default;
MatteFilter::MatteFilter(MatteFilter&&) noexcept = default;
MatteFilter& MatteFilter::operator=(MatteFilter&&) noexcept = default;

void MatteFilter::reset() { impl_->have_previous = false; }

void MatteFilter::apply(const MatteFilterParams& params, Matte& matte, const RgbImage& source,
                        int threads) {
  const float reach = raised_reach_px(params);
  if (reach > 0) impl_->extension.remember(matte);
  apply(params, matte.alpha.data(), matte.width, matte.height, threads);
  if (reach > 0) impl_->extension.apply(matte, source, reach, threads);
}

void MatteFilter::apply(const MatteFilterParams& params, float* alpha, int width, int height,
                        int threads) {
  for (const auto& [name, px] :
       {std::pair{"shrink", params.shrink_px}, std::pair{"grow", params.grow_px},
        std::pair{"feather", params.feather_px}}) {
    if (!(px >= 0) || !std::isfinite(px)) {
      throw Error(fmt::format("matte filter: {} {} px is not a non-negative number", name, px));
    }
  }
  if (!(params.edge_low >= 0 && params.edge_high <= 1 && params.edge_low < params.edge_high)) {
    throw Error(fmt::format("matte filter: edges {} and {} are not 0 <= low < high <= 1",
                            params.edge_low, params.edge_high));
  }
  if (!(params.temporal >= 0 && params.temporal < 1)) {
    throw Error(fmt::format("matte filter: temporal weight {} is not in [0, 1)", params.temporal));
  }
  Impl& s = *impl_;
  if (width != s.width || height != s.height) {
    s.width = width;
    s.height = height;
    s.have_previous = false;
  }
  if (!params.active() || width <= 0 || height <= 0) return;
  const size_t count = size_t(width) * height;

  if (params.shrink_px > 0)
    s.morphology.apply(alpha, width, height, params.shrink_px, false, threads);
  if (params.grow_px > 0) s.morphology.apply(alpha, width, height, params.grow_px, true, threads);
  if (params.feather_px > 0) s.feather(params, alpha, threads);

  if (params.edge_low > 0 || params.edge_high < 1) {
    const float low = params.edge_low, scale = 1.0f / (params.edge_high - params.edge_low);
    for_row_bands_simd(height, threads, size_t(width) * 4,
                       [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                         float* __restrict a = alpha + size_t(begin) * width;
                         const size_t n = size_t(end - begin) * width;
                         for (size_t i = 0; i < n; ++i) a[i] = smoothstep(a[i], low, scale);
                       });
  }

  if (params.temporal > 0) {
    if (s.have_previous) {
      const float keep = params.temporal, take = 1.0f - params.temporal;
      float* previous_data = s.previous.data();
      for_row_bands_simd(height, threads, size_t(width) * 2,
                         [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                           float* __restrict a = alpha + size_t(begin) * width;
                           float* __restrict previous = previous_data + size_t(begin) * width;
                           const size_t n = size_t(end - begin) * width;
                           for (size_t i = 0; i < n; ++i) {
                             a[i] = keep * previous[i] + take * a[i];
                             previous[i] = a[i];
                           }
                         });
    } else {
      s.previous.assign(alpha, alpha + count);
      s.have_previous = true;
    }
  } else {
    s.have_previous = false;
  }
}

}  // namespace mattecast
