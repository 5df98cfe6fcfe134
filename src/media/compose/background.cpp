// Backgrounds: a colour, a picture or a looping video scaled to "cover" the frame, or the frame
// itself blurred without the person's colour (a weighted blur on a coarse grid).
#include "compose/background.h"

#include <omp.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include "compose/composite.h"
#include "compose/matte_filter.h"
#include "io/av_handles.h"
#include "io/image.h"
#include "video/video_reader.h"

namespace mattecast {

namespace {

namespace fs = std::filesystem;
using compose_detail::for_row_bands_simd;

#define INLINE __attribute__((always_inline)) inline

// ---------------------------------------------------------------------------------------------
// Parsing

struct NamedColour {
  std::string_view name;
  Rgb8 colour;
};
constexpr std::array<NamedColour, 15> kColours = {{
    {"green", kDefaultGreen},  // RVM's green, not #00ff00
    {"black", {0, 0, 0}},
    {"white", {255, 255, 255}},
    {"gray", {128, 128, 128}},
    {"grey", {128, 128, 128}},
    {"red", {255, 0, 0}},
    {"blue", {0, 0, 255}},
    {"yellow", {255, 255, 0}},
    {"cyan", {0, 255, 255}},
    {"magenta", {255, 0, 255}},
    {"orange", {255, 165, 0}},
    {"purple", {128, 0, 128}},
    {"pink", {255, 192, 203}},
    {"brown", {139, 69, 19}},
    {"navy", {0, 0, 128}},
}};

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = char(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<Rgb8> parse_hex(std::string_view hex) {  // without the '#', lowercase
  if (hex.size() != 3 && hex.size() != 6) return std::nullopt;
  std::array<int, 6> digits{};
  for (size_t i = 0; i < hex.size(); ++i) {
    digits[i] = hex_digit(hex[i]);
    if (digits[i] < 0) return std::nullopt;
  }
  if (hex.size() == 3) {
    return Rgb8{uint8_t(digits[0] * 17), uint8_t(digits[1] * 17), uint8_t(digits[2] * 17)};
  }
  return Rgb8{uint8_t(digits[0] * 16 + digits[1]), uint8_t(digits[2] * 16 + digits[3]),
              uint8_t(digits[4] * 16 + digits[5])};
}

BackgroundSpec probe_file(const std::string& text) {
  BackgroundSpec spec;
  spec.path = text;
  const fs::path path(text);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw Error(fmt::format("background '{}': not a colour, 'blur[:STRENGTH]', 'transparent', or "
                            "an existing image or video file",
                            text));
  }
  if (fs::is_directory(status)) {
    throw Error(fmt::format("background '{}': is a folder, not an image or video file", text));
  }
  if (is_image_path(text)) {
    // A still by its name: it must decode (read_image's message names the file and the reason).
    try {
      read_image(text);
    } catch (const Error& e) {
      throw Error(fmt::format("background '{}': not a usable image: {}", text, e.what()));
    }
    spec.kind = BackgroundSpec::Kind::image;
    return spec;
  }
  // Anything else: a video when FFmpeg decodes more than one frame of it, a still when one.
  int frames = 0;
  try {
    VideoReader reader(text, {.threads = 1});
    VideoFrame frame;
    while (frames < 2 && reader.read(frame)) ++frames;
  } catch (const Error& e) {
    throw Error(fmt::format("background '{}': not an image or video file: {}", text, e.what()));
  }
  if (frames == 0) {
    throw Error(fmt::format("background '{}': no picture could be decoded from the file", text));
  }
  spec.kind = frames >= 2 ? BackgroundSpec::Kind::video : BackgroundSpec::Kind::image;
  if (spec.kind == BackgroundSpec::Kind::image) {
    try {
      read_image(text);
    } catch (const Error& e) {
      throw Error(fmt::format("background '{}': not a usable image: {}", text, e.what()));
    }
  }
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Pixels

INLINE float clamp01(float value) { return std::min(1.0f, std::max(0.0f, value)); }
INLINE uint8_t to_u8(float value) {
  return uint8_t(int(std::min(255.0f, std::max(0.0f, value)) + 0.5f));
}

// An RGB24 picture in FFmpeg's padded, aligned buffer (swscale's SIMD may touch bytes past the
// end of a row).
AvFramePtr make_rgb_frame(int width, int height) {
  AvFramePtr frame = make_av_frame();
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();
  return frame;
}

RgbImage view_of(const AVFrame& frame) {
  return {frame.data[0], frame.width, frame.height, ptrdiff_t(frame.linesize[0])};
}

void fill(AVFrame& frame, Rgb8 colour) {
  for (int y = 0; y < frame.height; ++y) {
    uint8_t* row = frame.data[0] + ptrdiff_t(frame.linesize[0]) * y;
    for (int x = 0; x < frame.width; ++x) {
      row[3 * x] = colour.r;
      row[3 * x + 1] = colour.g;
      row[3 * x + 2] = colour.b;
    }
  }
}

// Scales pictures of one size to "cover" the target: the largest centred part of the source with
// the target's aspect ratio, scaled to the target size (area filter when shrinking, bicubic when
// enlarging).
class CoverScaler {
 public:
  CoverScaler(const std::string& path, int source_width, int source_height, int width, int height)
      : source_width_(source_width), source_height_(source_height), width_(width),
        height_(height) {
    // Crop to the target's aspect (rounded to whole pixels), centred.
    const int64_t sw = source_width, sh = source_height;
    if (sw * height > int64_t(width) * sh) {  // wider than the target: crop the sides
      crop_width_ = int((sh * width * 2 + height) / (2 * int64_t(height)));
      crop_height_ = source_height;
    } else {  // taller: crop top and bottom
      crop_width_ = source_width;
      crop_height_ = int((sw * height * 2 + width) / (2 * int64_t(width)));
    }
    crop_width_ = std::clamp(crop_width_, 1, source_width);
    crop_height_ = std::clamp(crop_height_, 1, source_height);
    crop_x_ = (source_width - crop_width_) / 2;
    crop_y_ = (source_height - crop_height_) / 2;
    if (crop_width_ == width && crop_height_ == height) return;  // a plain copy
    const bool shrinking = crop_width_ >= width && crop_height_ >= height;
    const int flags =
        (shrinking ? SWS_AREA : SWS_BICUBIC) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
    context_.reset(sws_getContext(crop_width_, crop_height_, AV_PIX_FMT_RGB24, width, height,
                                  AV_PIX_FMT_RGB24, flags, nullptr, nullptr, nullptr));
    if (!context_) {
      throw Error(fmt::format("background '{}': cannot scale {}x{} to {}x{}", path, source_width,
                              source_height, width, height));
    }
  }

  bool fits(int source_width, int source_height) const {
    return source_width == source_width_ && source_height == source_height_;
  }

  void scale(const uint8_t* source, ptrdiff_t stride, AVFrame& out) const {
    const uint8_t* crop = source + stride * crop_y_ + ptrdiff_t(crop_x_) * 3;
    if (!context_) {
      for (int y = 0; y < height_; ++y) {
        std::memcpy(out.data[0] + ptrdiff_t(out.linesize[0]) * y, crop + stride * y,
                    size_t(width_) * 3);
      }
      return;
    }
    const uint8_t* planes[4] = {crop, nullptr, nullptr, nullptr};
    const int strides[4] = {int(stride), 0, 0, 0};
    sws_scale(context_.get(), planes, strides, 0, crop_height_, out.data, out.linesize);
  }

 private:
  int source_width_, source_height_, width_, height_;
  int crop_x_ = 0, crop_y_ = 0, crop_width_ = 0, crop_height_ = 0;
  SwsContextPtr context_;
};

// ---------------------------------------------------------------------------------------------
// A looping video, following the input's clock

class VideoLoop {
 public:
  VideoLoop(const std::string& path, int width, int height, int threads)
      : path_(path), width_(width), height_(height), decoder_threads_(threads == 1 ? 1 : 0) {
    open();
    if (!read_next()) {
      throw Error(fmt::format("background '{}': no frame could be decoded from the video", path));
    }
    first_seconds_ = next_.seconds();
    show_next();  // the first frame, until render() says otherwise
    scale_shown();
  }

  // Shows the frame for `relative` seconds after the input's first frame: the last one whose
  // time since the video's first frame is <= relative modulo the video's duration.
  void seek(double relative) {
    if (relative < 0 || !std::isfinite(relative)) relative = 0;
    // Times are sums and differences of doubles: a microsecond of slack keeps a frame due at
    // exactly `relative` from being missed by rounding.
    relative += 1e-6;
    if (duration_ > 0) relative = std::fmod(relative, duration_);
    bool changed = false;
    if (relative < shown_time_) {  // looped round (or the input went back): from the start
      restart();
    }
    for (;;) {
      if (!have_next_) {
        if (!ended_ && read_next()) continue;
        ended_ = true;
        if (duration_ <= 0) duration_ = shown_time_ + last_frame_duration();
        if (relative < duration_) break;  // still within the last frame
        relative = std::fmod(relative, duration_);
        if (frames_read_ == 1) break;  // a single frame: nothing to loop
        restart();
        continue;
      }
      const double time = next_.seconds() - first_seconds_;
      if (time > relative && shown_index_ >= 0) break;
      show_next();
      changed = true;
    }
    if (changed || scaled_index_ != shown_index_) scale_shown();
  }

  const AVFrame& frame() const { return *out_; }

 private:
  void open() {
    reader_.emplace(path_, VideoReader::Options{.threads = decoder_threads_});
    have_next_ = false;
    ended_ = false;
    frames_read_ = 0;
  }

  void restart() {
    open();
    shown_index_ = -1;
    shown_time_ = -1;
  }

  bool read_next() {
    have_next_ = reader_->read(next_);
    if (have_next_) {
      const double time = next_.seconds() - first_seconds_;
      if (frames_read_ > 0) last_interval_ = time - previous_time_;
      previous_time_ = time;
      ++frames_read_;
    }
    return have_next_;
  }

  double last_frame_duration() const {
    const Rational rate = reader_->info().frame_rate;
    if (rate.known() && rate.value() > 0) return 1.0 / rate.value();
    if (last_interval_ > 0) return last_interval_;
    return 1.0 / 25;
  }

  // Takes the looked-ahead frame as the one shown: copied (the reader overwrites it on the next
  // read), scaled only once the target time is settled.
  void show_next() {
    if (!held_ || held_->width != next_.width || held_->height != next_.height) {
      held_ = make_rgb_frame(next_.width, next_.height);
    }
    for (int y = 0; y < next_.height; ++y) {
      std::memcpy(held_->data[0] + ptrdiff_t(held_->linesize[0]) * y, next_.data + next_.stride * y,
                  size_t(next_.width) * 3);
    }
    shown_time_ = next_.seconds() - first_seconds_;
    shown_index_ = next_.index;
    have_next_ = false;
  }

  void scale_shown() {
    if (!out_) out_ = make_rgb_frame(width_, height_);
    if (!scaler_ || !scaler_->fits(held_->width, held_->height)) {
      scaler_.emplace(path_, held_->width, held_->height, width_, height_);
    }
    scaler_->scale(held_->data[0], held_->linesize[0], *out_);
    scaled_index_ = shown_index_;
  }

  std::string path_;
  int width_, height_, decoder_threads_;
  std::optional<VideoReader> reader_;
  VideoFrame next_;            // looked ahead, in the reader's buffer
  bool have_next_ = false;
  bool ended_ = false;
  int64_t frames_read_ = 0;    // since the last open
  double first_seconds_ = 0;   // the video's first timestamp
  double previous_time_ = 0, last_interval_ = 0;
  double duration_ = 0;        // of one loop, known once the end was reached
  AvFramePtr held_;            // the shown frame at the video's size
  double shown_time_ = -1;
  int64_t shown_index_ = -1, scaled_index_ = -2;
  std::optional<CoverScaler> scaler_;
  AvFramePtr out_;
};

// ---------------------------------------------------------------------------------------------
// The halo-free blur
//
// bg = blur(source * w) / blur(w) with w = 1 - alpha, so the person's colour never enters the
// average. Computed on a grid `factor` times coarser: area averages of source*w, w and source
// per cell (eight channels: sw.rgb, w, s.rgb, unused), a Gaussian-like blur of the grid, the ratio
// (blended into the plain blur of the source where the blurred weight falls to ~0, i.e. the
// person covers the whole neighbourhood), then a bilinear upsampling to full resolution.

// Adds one pixel row to the column sums, with w = 1 - alpha: source * w (r, g, b), w, and the
// source (r, g, b), one plane each. (Separate __restrict parameters: pointers derived from one
// buffer inside the function would not let the compiler vectorise.)
INLINE void accumulate_columns(const uint8_t* __restrict s, const float* __restrict a, int width,
                               float* __restrict weighted_r, float* __restrict weighted_g,
                               float* __restrict weighted_b, float* __restrict weights,
                               float* __restrict plain_r, float* __restrict plain_g,
                               float* __restrict plain_b) {
  for (int x = 0; x < width; ++x) {
    const float w = 1.0f - clamp01(a[x]);
    const float r = float(s[3 * x]), g = float(s[3 * x + 1]), b = float(s[3 * x + 2]);
    weighted_r[x] += r * w;
    weighted_g[x] += g * w;
    weighted_b[x] += b * w;
    weights[x] += w;
    plain_r[x] += r;
    plain_g[x] += g;
    plain_b[x] += b;
  }
}

class HaloFreeBlur {
 public:
  HaloFreeBlur(float strength, int width, int height) : width_(width), height_(height) {
    const double sigma = double(strength) * height / 720.0;  // full-resolution pixels
    factor_ = std::max(1, int(sigma / 2.0));
    grid_width_ = (width + factor_ - 1) / factor_;
    grid_height_ = (height + factor_ - 1) / factor_;
    // The area average (a box of `factor`) and the bilinear upsampling (a tent) blur too:
    // together about factor^2 / 4 of variance, taken off the grid's share.
    const double f = factor_;
    const double variance = std::max(sigma * sigma - f * f / 4.0, f * f / 16.0);
    grid_sigma_ = float(std::sqrt(variance) / f);
    if (factor_ == 1) grid_sigma_ = float(sigma);
    grid_.resize(size_t(grid_width_) * grid_height_ * 8);
    colour_.resize(size_t(grid_width_) * grid_height_ * 3);
    upsampled_rows_.resize(size_t(grid_height_) * width * 3);
    // Cell sizes (the last row and column may be partial) and bilinear taps.
    no_alpha_.assign(width, 0.0f);
    inverse_cell_width_.resize(grid_width_);
    for (int gx = 0; gx < grid_width_; ++gx) {
      inverse_cell_width_[gx] = 1.0f / float(std::min(width, (gx + 1) * factor_) - gx * factor_);
    }
    column_left_.resize(width);
    column_weight_.resize(width);
    for (int x = 0; x < width; ++x) {
      const auto [left, weight] = tap(x, grid_width_);
      column_left_[x] = left;
      column_weight_[x] = weight;
    }
  }

  void render(const RgbImage& source, const float* alpha, AVFrame& out, int threads) {
    if (source.width != width_ || source.height != height_ || !source.data) {
      throw Error(fmt::format("blurred background: the frame is {}x{}, the background {}x{}",
                              source.width, source.height, width_, height_));
    }
    downsample(source, alpha, threads);
    blur_.apply(grid_.data(), grid_width_, grid_height_, 8, grid_sigma_, threads);
    combine(threads);
    upsample(out, threads);
  }

 private:
  // Grid position of full-resolution pixel i: the left (or upper) cell and the right's weight.
  std::pair<int, float> tap(int i, int cells) const {
    const float position =
        std::clamp((float(i) + 0.5f) / float(factor_) - 0.5f, 0.0f, float(cells - 1));
    const int left = std::min(int(position), std::max(cells - 2, 0));
    return {left, cells > 1 ? position - float(left) : 0.0f};
  }

  void downsample(const RgbImage& source, const float* alpha, int threads) {
    // Chunks of grid rows, one scratch set each, so the threads never share one.
    const int team = threads > 0 ? threads : omp_get_max_threads();
    const int chunks = std::clamp(team, 1, grid_height_);
    const size_t row_values = size_t(width_) * 7;  // sw.rgb, w, s.rgb column sums
    if (column_sums_.size() < row_values * chunks) column_sums_.resize(row_values * chunks);
    for_row_bands_simd(chunks, threads, row_values * size_t(height_) / chunks,
                       [&](int chunk_begin, int chunk_end) MATTECAST_COMPOSE_INLINE {
      for (int chunk = chunk_begin; chunk < chunk_end; ++chunk) {
        const int gy_begin = int(int64_t(grid_height_) * chunk / chunks);
        const int gy_end = int(int64_t(grid_height_) * (chunk + 1) / chunks);
        float* sums = column_sums_.data() + row_values * chunk;
        for (int gy = gy_begin; gy < gy_end; ++gy) downsample_row(source, alpha, gy, sums);
      }
    });
  }

  // Column sums of the grid row's pixel rows (accumulate_columns), then the cell averages.
  INLINE void downsample_row(const RgbImage& source, const float* alpha, int gy, float* sums) {
    const int width = width_;
    std::fill(sums, sums + size_t(width) * 7, 0.0f);
    const int y_begin = gy * factor_, y_end = std::min(height_, y_begin + factor_);
    for (int y = y_begin; y < y_end; ++y) {
      accumulate_columns(source.data + source.stride * y,
                         alpha ? alpha + size_t(y) * width : no_alpha_.data(), width, sums,
                         sums + width, sums + 2 * width, sums + 3 * width, sums + 4 * width,
                         sums + 5 * width, sums + 6 * width);
    }
    const float inverse_rows = 1.0f / float(y_end - y_begin);
    float* cells = grid_.data() + size_t(gy) * grid_width_ * 8;
    // Whole cells with the factor as a constant (so the sums vectorise), then a partial last one.
    const int whole = width / factor_;
    switch (factor_) {
      case 1: reduce_cells<1>(sums, width, whole, inverse_rows, cells); break;
      case 2: reduce_cells<2>(sums, width, whole, inverse_rows, cells); break;
      case 3: reduce_cells<3>(sums, width, whole, inverse_rows, cells); break;
      case 4: reduce_cells<4>(sums, width, whole, inverse_rows, cells); break;
      case 5: reduce_cells<5>(sums, width, whole, inverse_rows, cells); break;
      case 6: reduce_cells<6>(sums, width, whole, inverse_rows, cells); break;
      case 7: reduce_cells<7>(sums, width, whole, inverse_rows, cells); break;
      case 8: reduce_cells<8>(sums, width, whole, inverse_rows, cells); break;
      default: reduce_cells_any(sums, width, 0, whole, inverse_rows, cells); break;
    }
    reduce_cells_any(sums, width, whole, grid_width_, inverse_rows, cells);
  }

  template <int F>
  INLINE static void reduce_cells(const float* __restrict sums, int width, int cells_end,
                                  float inverse_rows, float* __restrict cells) {
    const float scale = inverse_rows * (1.0f / F);
    for (int gx = 0; gx < cells_end; ++gx) {
      float cell[8];
      for (int p = 0; p < 7; ++p) {
        const float* __restrict plane = sums + size_t(p) * width;
        float sum = 0;
        for (int k = 0; k < F; ++k) sum += plane[gx * F + k];
        cell[p] = sum;
      }
      cell[7] = 0;
      for (int c = 0; c < 8; ++c) cells[8 * gx + c] = cell[c] * scale;
    }
  }

  INLINE void reduce_cells_any(const float* __restrict sums, int width, int cells_begin,
                               int cells_end, float inverse_rows, float* __restrict cells) const {
    for (int gx = cells_begin; gx < cells_end; ++gx) {
      const int x_begin = gx * factor_, x_end = std::min(width, x_begin + factor_);
      const float scale = inverse_rows * inverse_cell_width_[gx];
      for (int p = 0; p < 7; ++p) {
        const float* plane = sums + size_t(p) * width;
        float sum = 0;
        for (int x = x_begin; x < x_end; ++x) sum += plane[x];
        cells[8 * gx + p] = sum * scale;
      }
      cells[8 * gx + 7] = 0;
    }
  }

  // The weighted average where the neighbourhood has background (blurred weight >= kFull), the
  // plain blur where it has none, a smooth blend in between.
  void combine(int threads) {
    constexpr float kFull = 0.05f;
    for_row_bands_simd(grid_height_, threads, size_t(grid_width_) * 8, [&](int begin, int end)
                                                                           MATTECAST_COMPOSE_INLINE {
      const float* __restrict g = grid_.data();
      float* __restrict colour = colour_.data();
      const size_t cells_end = size_t(end) * grid_width_;
      for (size_t i = size_t(begin) * grid_width_; i < cells_end; ++i) {
        const float w = g[8 * i + 3];
        const float t = std::min(1.0f, std::max(0.0f, w * (1.0f / kFull)));
        const float blend = t * t * (3.0f - 2.0f * t);
        const float inverse_w = 1.0f / std::max(w, 1e-6f);
        for (int c = 0; c < 3; ++c) {
          const float plain = g[8 * i + 4 + c];
          colour[3 * i + c] = plain + blend * (g[8 * i + c] * inverse_w - plain);
        }
      }
    });
  }

  void upsample(AVFrame& out, int threads) {
    const int width = width_;
    // Along the rows, on the grid's rows...
    for_row_bands_simd(grid_height_, threads, size_t(width) * 3, [&](int begin, int end)
                                                                     MATTECAST_COMPOSE_INLINE {
      for (int gy = begin; gy < end; ++gy) {
        const float* __restrict cells = colour_.data() + size_t(gy) * grid_width_ * 3;
        float* __restrict row = upsampled_rows_.data() + size_t(gy) * width * 3;
        const int* __restrict left = column_left_.data();
        const float* __restrict weight = column_weight_.data();
        const int right_step = grid_width_ > 1 ? 3 : 0;
        for (int x = 0; x < width; ++x) {
          const float* l = cells + 3 * left[x];
          const float wr = weight[x], wl = 1.0f - wr;
          for (int c = 0; c < 3; ++c) row[3 * x + c] = l[c] * wl + l[right_step + c] * wr;
        }
      }
    });
    // ...then down the columns at full resolution.
    for_row_bands_simd(height_, threads, size_t(width) * 3, [&](int begin, int end)
                                                                MATTECAST_COMPOSE_INLINE {
      for (int y = begin; y < end; ++y) {
        const auto [upper, lower_weight] = tap(y, grid_height_);
        const float upper_weight = 1.0f - lower_weight;
        const int lower = grid_height_ > 1 ? upper + 1 : upper;
        const float* __restrict a = upsampled_rows_.data() + size_t(upper) * width * 3;
        const float* __restrict b = upsampled_rows_.data() + size_t(lower) * width * 3;
        uint8_t* __restrict o = out.data[0] + ptrdiff_t(out.linesize[0]) * y;
        const int n = 3 * width;
        for (int i = 0; i < n; ++i) o[i] = to_u8(a[i] * upper_weight + b[i] * lower_weight);
      }
    });
  }

  int width_, height_;
  int factor_ = 1, grid_width_ = 0, grid_height_ = 0;
  float grid_sigma_ = 0;
  std::vector<float> grid_;            // grid_height x grid_width x 8
  std::vector<float> colour_;          // grid_height x grid_width x 3
  std::vector<float> upsampled_rows_;  // grid_height x width x 3
  std::vector<float> column_sums_;     // per chunk: width x 7
  std::vector<float> inverse_cell_width_;
  std::vector<float> no_alpha_;  // a row of alpha 0 (weight 1), for render() without alpha
  std::vector<int> column_left_;
  std::vector<float> column_weight_;
  GaussianBlur blur_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

BackgroundSpec parse_background(std::string_view text_view) {
  const std::string text(text_view);
  const std::string lower = lowercase(text);
  BackgroundSpec spec;
  if (lower.empty()) {
    throw Error("background '': empty; give a colour, 'blur[:STRENGTH]', 'transparent', or an "
                "image or video file");
  }
  for (const NamedColour& named : kColours) {
    if (lower == named.name) {
      spec.kind = BackgroundSpec::Kind::colour;
      spec.colour = named.colour;
      return spec;
    }
  }
  if (lower[0] == '#') {
    const std::optional<Rgb8> colour = parse_hex(std::string_view(lower).substr(1));
    if (!colour) {
      throw Error(fmt::format("background '{}': not a colour (use #RGB or #RRGGBB in hex digits)",
                              text));
    }
    spec.kind = BackgroundSpec::Kind::colour;
    spec.colour = *colour;
    return spec;
  }
  if (lower == "transparent" || lower == "none") {
    spec.kind = BackgroundSpec::Kind::transparent;
    return spec;
  }
  if (lower == "blur") {
    spec.kind = BackgroundSpec::Kind::blur;
    spec.blur_strength = kDefaultBlurStrength;
    return spec;
  }
  if (lower.starts_with("blur:")) {
    const std::string_view number = std::string_view(lower).substr(5);
    float strength = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), strength);
    if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(strength) ||
        strength <= 0 || strength > kMaxBlurStrength) {
      throw Error(fmt::format("background '{}': the blur strength must be a number above 0 and "
                              "at most {} (pixels at 720 lines; default {})",
                              text, kMaxBlurStrength, kDefaultBlurStrength));
    }
    spec.kind = BackgroundSpec::Kind::blur;
    spec.blur_strength = strength;
    return spec;
  }
  return probe_file(text);
}

struct Background::Impl {
  BackgroundSpec spec;
  int width = 0, height = 0, threads = 1;
  AvFramePtr still;  // colour and image
  std::optional<VideoLoop> video;
  std::optional<HaloFreeBlur> blur;
  AvFramePtr blurred;
  bool started = false;
  double first_input_seconds = 0;
};

Background::Background(const BackgroundSpec& spec, int width, int height, int threads)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (width <= 0 || height <= 0) {
    throw Error(fmt::format("background: bad frame size {}x{}", width, height));
  }
  s.spec = spec;
  s.width = width;
  s.height = height;
  s.threads = threads;
  switch (spec.kind) {
    case BackgroundSpec::Kind::colour:
      s.still = make_rgb_frame(width, height);
      fill(*s.still, spec.colour);
      break;
    case BackgroundSpec::Kind::image: {
      const RgbFrame picture = read_image(spec.path);
      // RgbFrame is tightly packed; give swscale a padded copy to read from.
      const AvFramePtr padded = make_rgb_frame(picture.width, picture.height);
      for (int y = 0; y < picture.height; ++y) {
        std::memcpy(padded->data[0] + ptrdiff_t(padded->linesize[0]) * y,
                    picture.pixels.data() + size_t(picture.width) * 3 * y,
                    size_t(picture.width) * 3);
      }
      s.still = make_rgb_frame(width, height);
      CoverScaler(spec.path, picture.width, picture.height, width, height)
          .scale(padded->data[0], padded->linesize[0], *s.still);
      break;
    }
    case BackgroundSpec::Kind::video:
      s.video.emplace(spec.path, width, height, threads);
      break;
    case BackgroundSpec::Kind::blur:
      if (!(spec.blur_strength > 0) || !std::isfinite(spec.blur_strength)) {
        throw Error(fmt::format("background: bad blur strength {}", spec.blur_strength));
      }
      s.blur.emplace(std::min(spec.blur_strength, kMaxBlurStrength), width, height);
      s.blurred = make_rgb_frame(width, height);
      break;
    case BackgroundSpec::Kind::transparent:
      break;
  }
}

Background::~Background() = default;
Background::Background(Background&&) noexcept = default;
Background& Background::operator=(Background&&) noexcept = default;

const BackgroundSpec& Background::spec() const { return impl_->spec; }
bool Background::transparent() const {
  return impl_->spec.kind == BackgroundSpec::Kind::transparent;
}
bool Background::dynamic() const {
  return impl_->spec.kind == BackgroundSpec::Kind::video ||
         impl_->spec.kind == BackgroundSpec::Kind::blur;
}

RgbImage Background::render(double seconds, const RgbImage& source, const float* alpha) {
  Impl& s = *impl_;
  switch (s.spec.kind) {
    case BackgroundSpec::Kind::colour:
    case BackgroundSpec::Kind::image:
      return view_of(*s.still);
    case BackgroundSpec::Kind::video: {
      if (!s.started) {
        s.started = true;
        s.first_input_seconds = seconds;
      }
      s.video->seek(seconds - s.first_input_seconds);
      return view_of(s.video->frame());
    }
    case BackgroundSpec::Kind::blur:
      s.blur->render(source, alpha, *s.blurred, s.threads);
      return view_of(*s.blurred);
    case BackgroundSpec::Kind::transparent:
      break;
  }
  throw Error("background: a transparent background has no pixels to render");
}

}  // namespace mattecast
