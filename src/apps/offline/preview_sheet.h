// Contact sheets for judging settings before a long job (`--preview`):
//   video:  a few evenly spaced frames, each a row  input | alpha | composite
//   images: each still a row  input | alpha | plain | [your settings] | one blending filter per
//           column | the room behind a lens (disc) blur
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compose/background.h"
#include "compose/compositor.h"
#include "mattecast/mattecast.h"
#include "offline/video_job.h"

namespace mattecast {

// Rows of equally wide cells, each picture resampled to the cell keeping its aspect ratio.
class ContactSheet {
 public:
  ContactSheet(int columns, int cell_width);
  // A new row for pictures of width x height.
  void add_row(int width, int height);
  // Draws an RGB (channels 3) or grey (channels 1) picture of the current row's size into a cell.
  void draw(int column, const uint8_t* pixels, ptrdiff_t stride, int channels);
  int rows() const { return rows_; }
  // An RGB PNG, written atomically.
  void write_png(const std::string& path) const;

 private:
  int columns_, cell_width_;
  int rows_ = 0, row_y_ = 0, row_height_ = 0, source_width_ = 0, source_height_ = 0;
  std::vector<uint8_t> pixels_;  // RGB, columns_ * cell_width_ wide
};

struct PreviewSheetOptions {
  int samples = 4;        // rows
  int cell_width = 320;   // pixels per picture in the sheet
  int warmup_frames = 8;  // frames run before each sample so the recurrent state has settled
};

// Mattes the sampled frames with the job's settings and writes the sheet as an RGB PNG
// (atomically; an existing file is refused unless options.overwrite).
void write_preview_sheet(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                         const std::string& png_path, const PreviewSheetOptions& sheet = {});

struct BlendSheetOptions {
  BackgroundSpec background;  // a colour, picture or blur: the composites' background
  BlendSettings yours;        // a column of its own when it does anything
  int max_rows = 12;
  int cell_width = 240;
  int threads = 0;  // as in composite.h
  bool overwrite = false;
};

// One row per still (the first max_rows), each matted with a fresh state; the filters' strengths
// are given at 720 lines and scaled with each still's height. Returns the column titles, left to
// right. Throws Error naming the file that fails.
std::vector<std::string> write_blend_sheet(Session& session, const std::vector<std::string>& stills,
                                           const std::string& png_path,
                                           const BlendSheetOptions& options);

}  // namespace mattecast
