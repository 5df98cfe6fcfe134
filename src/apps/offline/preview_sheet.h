// `--preview`: a contact sheet of a few evenly spaced frames, each as a row
// input | alpha | composite, so a user can judge the settings before a long job.
#pragma once

#include <memory>
#include <string>

#include "mattecast/mattecast.h"
#include "offline/video_job.h"

namespace mattecast {

struct PreviewSheetOptions {
  int samples = 4;        // rows
  int cell_width = 320;   // pixels per picture in the sheet
  int warmup_frames = 8;  // frames run before each sample so the recurrent state has settled
};

// Mattes the sampled frames with the job's settings and writes the sheet as an RGB PNG
// (atomically; an existing file is refused unless options.overwrite).
void write_preview_sheet(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                         const std::string& png_path, const PreviewSheetOptions& sheet = {});

}  // namespace mattecast
