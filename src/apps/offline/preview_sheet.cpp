#include "offline/preview_sheet.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/harmonize.h"
#include "compose/light_wrap.h"
#include "compose/poisson_blend.h"
#include "compose/matte_filter.h"
#include "io/image.h"
#include "video/video_reader.h"

namespace mattecast {

namespace {

// Bilinear resampling of an RGB (3 channels) or gray (1 channel) picture into a sheet cell.
void draw_cell(const uint8_t* src, int src_w, int src_h, ptrdiff_t src_stride, int channels,
               uint8_t* sheet, ptrdiff_t sheet_stride, int x0, int y0, int cell_w, int cell_h) {
  for (int y = 0; y < cell_h; ++y) {
    const float fy = std::clamp((y + 0.5f) * src_h / cell_h - 0.5f, 0.0f, float(src_h - 1));
    const int y1 = int(fy), y2 = std::min(y1 + 1, src_h - 1);
    const float wy = fy - float(y1);
    uint8_t* out = sheet + ptrdiff_t(y0 + y) * sheet_stride + ptrdiff_t(x0) * 3;
    for (int x = 0; x < cell_w; ++x) {
      const float fx = std::clamp((x + 0.5f) * src_w / cell_w - 0.5f, 0.0f, float(src_w - 1));
      const int x1 = int(fx), x2 = std::min(x1 + 1, src_w - 1);
      const float wx = fx - float(x1);
      for (int c = 0; c < 3; ++c) {
        const int ch = channels == 1 ? 0 : c;
        auto at = [&](int yy, int xx) {
          return float(src[ptrdiff_t(yy) * src_stride + ptrdiff_t(xx) * channels + ch]);
        };
        const float v = (at(y1, x1) * (1 - wx) + at(y1, x2) * wx) * (1 - wy) +
                        (at(y2, x1) * (1 - wx) + at(y2, x2) * wx) * wy;
        out[x * 3 + c] = uint8_t(v + 0.5f);
      }
    }
  }
}

// A grey checkerboard behind transparent composites, as image editors show transparency.
void checkerboard(std::vector<uint8_t>& rgb, int width, int height) {
  rgb.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const uint8_t v = ((x / 16 + y / 16) % 2) ? 200 : 150;
      std::fill_n(&rgb[(size_t(y) * width + x) * 3], 3, v);
    }
}

}  // namespace

void write_preview_sheet(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                         const std::string& png_path, const PreviewSheetOptions& sheet) {
  if (!options.overwrite && std::filesystem::exists(png_path))
    throw Error(fmt::format("{}: already exists (use --force to overwrite)", png_path));
  VideoReader::Options reader_options;
  reader_options.image_rate = options.image_rate;
  VideoReader reader(options.input, reader_options);
  const VideoInfo info = reader.info();
  int64_t total = info.frame_count;
  if (total <= 0 && info.duration_seconds > 0 && info.frame_rate.known())
    total = int64_t(info.duration_seconds * info.frame_rate.value());
  total = std::max<int64_t>(total, 1);

  const int samples = int(std::min<int64_t>(sheet.samples, total));
  std::vector<int64_t> picks;
  for (int k = 0; k < samples; ++k) picks.push_back(int64_t((k + 0.5) * double(total) / samples));

  const int w = info.width, h = info.height;
  const int cell_w = sheet.cell_width, cell_h = std::max(1, int(int64_t(cell_w) * h / w));
  const int sheet_w = cell_w * 3, sheet_h = cell_h * samples;
  std::vector<uint8_t> pixels(size_t(sheet_w) * sheet_h * 3, 0);

  SessionParams params = options.session;
  Session session(std::move(model), params);
  const std::string spec = options.background.empty() ? "green" : options.background;
  Background background(parse_background(spec), w, h, 1);
  std::vector<uint8_t> behind_checker, composite(size_t(w) * h * 3), alpha(size_t(w) * h);
  if (background.transparent()) checkerboard(behind_checker, w, h);

  Matte matte;
  MatteFilter filter;
  ColourHarmonizer harmonizer;
  LightWrap light_wrap;
  PoissonBlend poisson;
  VideoFrame frame;
  size_t row = 0;
  int64_t last_processed = -2;
  while (row < picks.size() && reader.read(frame)) {
    const int64_t i = frame.index;
    if (i < picks[row] - sheet.warmup_frames) continue;
    if (i != last_processed + 1) {  // a new window: start from a fresh state
      session.reset();
      filter.reset();
      harmonizer.reset();
      poisson.reset();
    }
    session.process(frame.rgb(), matte);
    if (options.matte_filter.active()) filter.apply(options.matte_filter, matte, frame.rgb(), 0);
    last_processed = i;
    if (i < picks[row]) continue;
    alpha_gray8(matte, {alpha.data(), w, h, 1, w}, 0);
    const RgbImage behind =
        background.transparent()
            ? RgbImage{behind_checker.data(), w, h, ptrdiff_t(w) * 3}
            : background.render(frame.seconds(), frame.rgb(), matte.alpha.data());
    if (!background.transparent())
      harmonizer.apply(options.harmonize, matte, frame.rgb(), behind, 0);
    const PixelBuffer composited{composite.data(), w, h, 3, ptrdiff_t(w) * 3};
    composite_over(matte, frame.rgb(), behind, composited, 0);
    if (options.poisson) poisson.apply(matte, frame.rgb(), behind, composited, 16, 0);
    light_wrap.apply(options.light_wrap_px, matte, behind, composited, 0);
    const int y0 = int(row) * cell_h;
    const ptrdiff_t stride = ptrdiff_t(sheet_w) * 3;
    draw_cell(frame.data, w, h, frame.stride, 3, pixels.data(), stride, 0, y0, cell_w, cell_h);
    draw_cell(alpha.data(), w, h, w, 1, pixels.data(), stride, cell_w, y0, cell_w, cell_h);
    draw_cell(composite.data(), w, h, ptrdiff_t(w) * 3, 3, pixels.data(), stride, 2 * cell_w, y0,
              cell_w, cell_h);
    ++row;
  }
  if (row == 0) throw Error(fmt::format("{}: no video frame could be decoded", options.input));
  write_png_rgb(png_path, pixels.data(), sheet_w, int(row) * cell_h, ptrdiff_t(sheet_w) * 3);
}

}  // namespace mattecast
