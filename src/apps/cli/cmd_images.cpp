// `mattecast images`: still images, and folders of them, to RGBA PNG cut-outs (RGB = the network's
// foreground, A = alpha) or to composites over a background. Each image is matted on its own:
// fresh recurrent state, the automatic network scale for its size (unless --ratio).
//
// A folder's images go to OUTDIR/<folder name>/<path inside the folder>/<stem>.png (subfolders
// with --recursive); other files are skipped with a warning. A failing image is reported and the
// rest go on; the exit status is 1 if any failed. Existing outputs are kept unless --force.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "compose/background.h"
#include "compose/composite.h"
#include "compose/compositor.h"
#include "io/frame_list.h"
#include "io/image.h"
#include "offline/preview_sheet.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace fs = std::filesystem;

namespace {

struct ImagesOptions {
  EngineOptions engine;
  std::vector<std::string> inputs;
  std::string out;
  std::string background = "transparent";
  std::string preview;  // a contact sheet of the blending filters
  bool preview_only = false;
  bool recursive = false;
  bool force = false;
  bool quiet = false;
  BlendOptions blend;
};

void warn(const std::string& message) { fmt::print(stderr, "mattecast: warning: {}\n", message); }
void report(const std::string& message) { fmt::print(stderr, "mattecast: error: {}\n", message); }

// What to do: the images found, with their output paths, and what was left out on the way.
class Plan {
 public:
  explicit Plan(const ImagesOptions& options) : options_(options) {
    std::error_code ec;
    out_folder_ = fs::weakly_canonical(options.out, ec);
    for (const std::string& input : options.inputs) add_input(input);
  }

  struct Job {
    std::string input;
    std::string output;
  };
  const std::vector<Job>& jobs() const { return jobs_; }
  int skipped() const { return skipped_; }
  int failed() const { return failed_; }

 private:
  void add_input(const std::string& input) {
    std::error_code ec;
    const fs::file_status status = fs::status(input, ec);
    if (!fs::exists(status)) {
      fail(fmt::format("'{}': no such file or folder", input));
      return;
    }
    if (fs::is_directory(status)) {
      add_folder(input, fs::path(options_.out) / folder_name(input));
    } else {
      // Named on the command line: tried whatever its extension.
      add_job(input, fs::path(options_.out) / output_name(input));
    }
  }

  // "photos/" and "photos" both give "photos"; "." gives the current folder's own name.
  static fs::path folder_name(const std::string& folder) {
    fs::path path = fs::path(folder).lexically_normal();
    if (!path.has_filename()) path = path.parent_path();
    if (path.filename().empty() || path.filename() == "." || path.filename() == "..") {
      std::error_code ec;
      const fs::path absolute = fs::weakly_canonical(path, ec);
      if (!ec && !absolute.filename().empty()) return absolute.filename();
      return "images";
    }
    return path.filename();
  }

  static fs::path output_name(const fs::path& image) { return image.stem().string() + ".png"; }

  void add_folder(const fs::path& folder, const fs::path& output_folder) {
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (const auto& entry : fs::directory_iterator(folder, ec)) entries.push_back(entry);
    if (ec) {
      fail(fmt::format("'{}': cannot list the folder: {}", folder.string(), ec.message()));
      return;
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return natural_less(a.path().filename().string(), b.path().filename().string());
    });
    for (const auto& entry : entries) {
      const fs::path& path = entry.path();
      // Hidden entries (".DS_Store", editors' and our own temporaries) are not the user's images.
      if (path.filename().string().starts_with('.')) continue;
      std::error_code unreadable;
      if (entry.is_directory(unreadable)) {
        // The output folder may be inside an input folder: its cut-outs are not inputs.
        if (!out_folder_.empty() && fs::weakly_canonical(path, unreadable) == out_folder_) continue;
        if (options_.recursive) {
          add_folder(path, output_folder / path.filename());
        } else {
          warn(
              fmt::format("skipping folder '{}' (--recursive includes subfolders)", path.string()));
          ++skipped_;
        }
      } else if (!entry.is_regular_file(unreadable) || !is_image_path(path.string())) {
        warn(fmt::format("skipping '{}': not an image file", path.string()));
        ++skipped_;
      } else {
        add_job(path.string(), output_folder / output_name(path));
      }
    }
  }

  void add_job(const std::string& input, const fs::path& output) {
    const std::string key = output.lexically_normal().string();
    if (const auto [it, added] = planned_.emplace(key, input); !added) {
      fail(fmt::format("'{}': its output '{}' is already the output of '{}'", input, key,
                       it->second));
      return;
    }
    jobs_.push_back({input, output.string()});
  }

  void fail(const std::string& message) {
    report(message);
    ++failed_;
  }

  const ImagesOptions& options_;
  fs::path out_folder_;
  std::vector<Job> jobs_;
  std::map<std::string, std::string> planned_;  // output -> input
  int skipped_ = 0;
  int failed_ = 0;
};

// Mattes one image after another and writes the cut-outs or composites.
class ImageMatter {
 public:
  ImageMatter(const ImagesOptions& options, const BackgroundSpec& background)
      : options_(options),
        spec_(background),
        blend_(blend_settings(options.blend)),
        model_(load_model(options.engine)),
        session_(model_, session_params(options.engine, *model_)) {}

  // Throws Error naming the file.
  void process(const Plan::Job& job) {
    if (!options_.force && fs::exists(job.output)) {
      throw Error(fmt::format("'{}': already exists (use --force to overwrite)", job.output));
    }
    const RgbFrame frame = read_image(job.input);
    session_.reset();  // unrelated stills: no state carried between them
    session_.process(frame.view(), matte_);
    const int width = matte_.width, height = matte_.height, threads = options_.engine.threads;
    std::error_code ec;
    const fs::path folder = fs::path(job.output).parent_path();
    if (!folder.empty()) fs::create_directories(folder, ec);
    if (ec) {
      throw Error(fmt::format("'{}': cannot create the folder: {}", folder.string(), ec.message()));
    }
    compositor_.reset();
    const bool transparent = spec_.kind == BackgroundSpec::Kind::transparent;
    compositor_.prepare(blend_, matte_, frame.view(), transparent ? nullptr : &background(width, height),
                        0, threads);
    if (transparent) {
      pixels_.resize(size_t(width) * height * 4);
      foreground_rgba(matte_, compositor_.person(),
                      {pixels_.data(), width, height, 4, ptrdiff_t(width) * 4}, threads);
      write_png_rgba(job.output, pixels_.data(), width, height, ptrdiff_t(width) * 4);
      return;
    }
    pixels_.resize(size_t(width) * height * 3);
    compositor_.composite(blend_, matte_, {pixels_.data(), width, height, 3, ptrdiff_t(width) * 3},
                          threads);
    write_png_rgb(job.output, pixels_.data(), width, height, ptrdiff_t(width) * 3);
  }

  const Matte& matte() const { return matte_; }
  Session& session() { return session_; }

 private:
  // The background for this image size (the last one kept: folders of one camera's photos).
  Background& background(int width, int height) {
    if (!background_ || background_width_ != width || background_height_ != height) {
      background_.reset();
      background_.emplace(spec_, width, height, options_.engine.threads);
      background_width_ = width;
      background_height_ = height;
    }
    return *background_;
  }

  const ImagesOptions& options_;
  BackgroundSpec spec_;
  BlendSettings blend_;
  Compositor compositor_;
  std::shared_ptr<const Model> model_;
  Session session_;
  Matte matte_;
  std::vector<uint8_t> pixels_;
  std::optional<Background> background_;  // for the last image size
  int background_width_ = 0, background_height_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The stills named or found in the inputs (as the job would take them), one row each.
void write_preview(const ImagesOptions& o, const BackgroundSpec& background) {
  ImagesOptions listing = o;
  if (listing.out.empty()) listing.out = fs::temp_directory_path().string();  // names only
  const Plan plan(listing);
  std::vector<std::string> stills;
  for (const Plan::Job& job : plan.jobs()) stills.push_back(job.input);
  if (stills.empty()) throw Error("--preview: no images found in the inputs");
  const BlendSheetOptions sheet{.background = background,
                                .yours = blend_settings(o.blend),
                                .threads = o.engine.threads,
                                .overwrite = o.force};
  if (stills.size() > size_t(sheet.max_rows))
    warn(fmt::format("--preview shows the first {} of {} images", sheet.max_rows, stills.size()));
  ImageMatter matter(o, background);
  const std::vector<std::string> titles = write_blend_sheet(matter.session(), stills, o.preview, sheet);
  fmt::print("wrote preview {} (columns: {})\n", o.preview, fmt::join(titles, " | "));
}

void run_images(const ImagesOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  // Wrong settings fail before the model loads.
  blend_settings(o.blend);
  const BackgroundSpec background = parse_background(o.background);
  if (background.kind == BackgroundSpec::Kind::video) {
    throw Error(
        fmt::format("--background '{}' is a video: still images take a colour, a "
                    "picture, 'blur' or 'transparent'",
                    o.background));
  }
  if (o.preview_only && o.preview.empty()) throw UsageError("--preview-only needs --preview PATH.png");
  if (o.out.empty() && !o.preview_only) throw UsageError("--out is required (or --preview-only)");
  if (!o.preview.empty()) {
    write_preview(o, background);
    if (o.preview_only) return;
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) {
    throw Error(fmt::format("'{}': cannot create the output folder: {}", o.out, ec.message()));
  }

  const Plan plan(o);
  int written = 0, failed = plan.failed();
  if (!plan.jobs().empty()) {
    ImageMatter matter(o, background);
    for (const Plan::Job& job : plan.jobs()) {
      const auto image_start = std::chrono::steady_clock::now();
      try {
        matter.process(job);
        ++written;
        if (!o.quiet) {
          fmt::print("{} -> {} ({}x{}, {:.0f} ms)\n", job.input, job.output, matter.matte().width,
                     matter.matte().height, 1000 * seconds_since(image_start));
        }
      } catch (const Error& e) {
        report(e.what());
        ++failed;
      }
    }
  }
  fmt::print("{} written, {} skipped, {} failed in {:.1f} s\n", written, plan.skipped(), failed,
             seconds_since(start));
  if (failed > 0) {
    throw Error(fmt::format("{} of {} images failed", failed, written + failed));
  }
  if (written == 0) throw Error("no images found in the inputs");
}

}  // namespace

void add_images_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "images",
      "Cut people out of still images (files or folders) into RGBA PNGs, or composite "
      "them over a background");
  auto options = std::make_shared<ImagesOptions>();
  add_engine_options(*command, options->engine);
  command->add_option("INPUT", options->inputs, "Image files and folders of images")->required();
  command->add_option("-o,--out", options->out, "Output folder (required unless --preview-only)");
  command->add_option("--background", options->background,
                      "transparent (default: RGBA cut-outs), a colour (green, white, #RRGGBB, "
                      "...), blur[:STRENGTH] or a picture file: RGB composites");
  add_blend_options(*command, options->blend, /*with_temporal=*/false);
  command->add_option("--preview", options->preview,
                      "Also write a contact sheet PNG: per image (the first 12) input | alpha | "
                      "plain composite | your settings | feather outward | harmonize | light wrap | "
                      "poisson | disc blur, over --background");
  command->add_flag("--preview-only", options->preview_only, "Only write the --preview sheet");
  command->add_flag("--recursive", options->recursive, "Include the subfolders of input folders");
  command->add_flag("--force", options->force, "Overwrite existing outputs");
  command->add_flag("-q,--quiet", options->quiet, "No line per image (the summary stays)");
  command->callback([options] { run_images(*options); });
}

}  // namespace mattecast::cli
