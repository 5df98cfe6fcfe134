// Contact sheets (see preview_sheet.h).
#include "offline/preview_sheet.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "io/image.h"
#include "video/video_reader.h"

namespace mattecast {

namespace {

// Bilinear resampling of an RGB (3 channels) or grey (1 channel) picture into a sheet cell.
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

void refuse_existing(const std::string& path, bool overwrite) {
  if (!overwrite && std::filesystem::exists(path))
    throw Error(fmt::format("{}: already exists (use --force to overwrite)", path));
}

}  // namespace

ContactSheet::ContactSheet(int columns, int cell_width)
    : columns_(columns), cell_width_(cell_width) {}

void ContactSheet::add_row(int width, int height) {
  row_y_ += row_height_;
  row_height_ = std::max(1, int(int64_t(cell_width_) * height / width));
  source_width_ = width;
  source_height_ = height;
  pixels_.resize(size_t(row_y_ + row_height_) * columns_ * cell_width_ * 3, 0);
  ++rows_;
}

void ContactSheet::draw(int column, const uint8_t* pixels, ptrdiff_t stride, int channels) {
  const ptrdiff_t sheet_stride = ptrdiff_t(columns_) * cell_width_ * 3;
  draw_cell(pixels, source_width_, source_height_, stride, channels, pixels_.data(), sheet_stride,
            column * cell_width_, row_y_, cell_width_, row_height_);
}

void ContactSheet::write_png(const std::string& path) const {
  const int width = columns_ * cell_width_;
  write_png_rgb(path, pixels_.data(), width, row_y_ + row_height_, ptrdiff_t(width) * 3);
}

void write_preview_sheet(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                         const std::string& png_path, const PreviewSheetOptions& sheet) {
  refuse_existing(png_path, options.overwrite);
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
  Session session(std::move(model), options.session);
  Background background(parse_background(options.background.empty() ? "green" : options.background),
                        w, h, 1);
  std::vector<uint8_t> checker, composite(size_t(w) * h * 3), alpha(size_t(w) * h);
  if (background.transparent()) checkerboard(checker, w, h);
  const PixelBuffer composited{composite.data(), w, h, 3, ptrdiff_t(w) * 3};

  ContactSheet contact(3, sheet.cell_width);
  Compositor compositor;
  Matte matte;
  VideoFrame frame;
  int64_t last_processed = -2;
  while (size_t(contact.rows()) < picks.size() && reader.read(frame)) {
    const int64_t pick = picks[size_t(contact.rows())];
    if (frame.index < pick - sheet.warmup_frames) continue;
    if (frame.index != last_processed + 1) {  // a new window: start from a fresh state
      session.reset();
      compositor.reset();
    }
    session.process(frame.rgb(), matte);
    last_processed = frame.index;
    compositor.prepare(options.blend, matte, frame.rgb(),
                       background.transparent() ? nullptr : &background, frame.seconds(), 0);
    if (frame.index < pick) continue;
    if (background.transparent())
      composite_over(matte, compositor.person(), {checker.data(), w, h, ptrdiff_t(w) * 3},
                     composited, 0);
    else
      compositor.composite(options.blend, matte, composited, 0);
    alpha_gray8(matte, {alpha.data(), w, h, 1, w}, 0);
    contact.add_row(w, h);
    contact.draw(0, frame.data, frame.stride, 3);
    contact.draw(1, alpha.data(), w, 1);
    contact.draw(2, composite.data(), ptrdiff_t(w) * 3, 3);
  }
  if (contact.rows() == 0)
    throw Error(fmt::format("{}: no video frame could be decoded", options.input));
  contact.write_png(png_path);
}

namespace {

// One column of the blending sheet: its title, settings and background.
struct BlendColumn {
  std::string title;
  BlendSettings blend;
  bool disc_blur = false;  // the still's own room behind a lens blur instead of the background
  bool at_720_lines = true;  // pixel sizes scaled with the still's height (not the user's own)
};

BlendColumn titled(std::string title) {
  BlendColumn column;
  column.title = std::move(title);
  return column;
}

bool does_something(const BlendSettings& blend) {
  return blend.matte_filter.active() || blend.harmonize > 0 || blend.light_wrap_px > 0 ||
         blend.poisson;
}

// The filters one at a time, at strengths that show them without hiding the others; pixel sizes
// are at 720 lines.
std::vector<BlendColumn> blend_columns(const BlendSettings& yours) {
  std::vector<BlendColumn> columns{titled("plain")};
  if (does_something(yours)) columns.push_back({"your settings", yours, false, false});
  BlendColumn feather = titled("feather 4 px outward"), harmonize = titled("harmonize 0.5"),
              light_wrap = titled("light wrap 8 px"), poisson = titled("poisson"),
              disc_blur = titled("disc blur");
  feather.blend.matte_filter.feather_px = 4;
  feather.blend.matte_filter.feather_mode = FeatherMode::outward;
  harmonize.blend.harmonize = 0.5f;
  light_wrap.blend.light_wrap_px = 8;
  poisson.blend.poisson = true;
  disc_blur.disc_blur = true;
  for (BlendColumn* column : {&feather, &harmonize, &light_wrap, &poisson, &disc_blur})
    columns.push_back(*column);
  return columns;
}

BlendSettings scaled_to(const BlendSettings& blend, int height) {
  const float scale = float(height) / 720.0f;
  BlendSettings scaled = blend;
  scaled.matte_filter.feather_px = std::min(50.0f, blend.matte_filter.feather_px * scale);
  scaled.light_wrap_px = std::min(50.0f, blend.light_wrap_px * scale);
  return scaled;
}

}  // namespace

std::vector<std::string> write_blend_sheet(Session& session, const std::vector<std::string>& stills,
                                           const std::string& png_path,
                                           const BlendSheetOptions& options) {
  refuse_existing(png_path, options.overwrite);
  if (options.background.kind == BackgroundSpec::Kind::transparent ||
      options.background.kind == BackgroundSpec::Kind::video)
    throw Error("--preview shows composites: give --background a colour, a picture or blur");
  std::vector<BlendColumn> columns = blend_columns(options.yours);
  BackgroundSpec disc;
  disc.kind = BackgroundSpec::Kind::blur;
  disc.blur_strength = kDefaultBlurStrength;
  disc.blur_shape = BlurShape::disc;

  ContactSheet contact(int(columns.size()) + 2, options.cell_width);
  Compositor compositor;
  Matte matte, shaped;
  std::vector<uint8_t> alpha, composite;
  const size_t rows = std::min(stills.size(), size_t(std::max(0, options.max_rows)));
  for (size_t row = 0; row < rows; ++row) {
    const RgbFrame still = read_image(stills[row]);
    const int w = still.width, h = still.height, threads = options.threads;
    session.reset();
    session.process(still.view(), matte);
    Background background(options.background, w, h, threads);
    Background disc_blur(disc, w, h, threads);
    alpha.resize(size_t(w) * h);
    composite.resize(size_t(w) * h * 3);
    alpha_gray8(matte, {alpha.data(), w, h, 1, w}, threads);
    contact.add_row(w, h);
    contact.draw(0, still.pixels.data(), ptrdiff_t(w) * 3, 3);
    contact.draw(1, alpha.data(), w, 1);
    for (size_t c = 0; c < columns.size(); ++c) {
      const BlendSettings blend =
          columns[c].at_720_lines ? scaled_to(columns[c].blend, h) : columns[c].blend;
      shaped = matte;
      compositor.reset();
      compositor.prepare(blend, shaped, still.view(), columns[c].disc_blur ? &disc_blur : &background,
                         0, threads);
      compositor.composite(blend, shaped, {composite.data(), w, h, 3, ptrdiff_t(w) * 3}, threads);
      contact.draw(int(c) + 2, composite.data(), ptrdiff_t(w) * 3, 3);
    }
  }
  if (contact.rows() == 0) throw Error("--preview: no still to show");
  contact.write_png(png_path);
  std::vector<std::string> titles{"input", "alpha"};
  for (const BlendColumn& column : columns) titles.push_back(column.title);
  return titles;
}

}  // namespace mattecast
