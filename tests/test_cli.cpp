// The mattecast command line, run as a user would: outputs, messages and exit codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "io/alpha_image.h"
#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace {

namespace fs = std::filesystem;
const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";

using Result = mattecast::testing::CliResult;

Result run(const std::string& arguments, const std::string& environment = "") {
  return mattecast::testing::run_cli(arguments, environment);
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(MATTECAST_TEST_TMP) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Cli, InfoDescribesTheModel) {
  const Result r = run("info " + kModel);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("pth"), std::string::npos);
  EXPECT_NE(r.output.find("3772832"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fast_guided_filter"), std::string::npos);
  const Result tfjs =
      run(fmt::format("info {}/models/rvm_mobilenetv3_tfjs_int8/model.json", kShared));
  EXPECT_EQ(tfjs.status, 0) << tfjs.output;
  EXPECT_NE(tfjs.output.find("tfjs"), std::string::npos);
}

TEST(Cli, InferWritesRawOutputsThatMatchTheReference) {
  const fs::path out = fresh_dir("infer");
  const std::string frames = kShared + "/golden/rvm_mobilenetv3/640x360_ds0.5";
  const Result r = run(fmt::format("infer --model {} --frames {} --out {} --ratio 0.5 --threads 2",
                                   kModel, frames, out.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(fs::exists(out / fmt::format("pha_{:03d}.npy", i)));
    ASSERT_TRUE(fs::exists(out / fmt::format("fgr_{:03d}.npy", i)));
  }
  const auto ours = mattecast::read_npy((out / "pha_007.npy").string());
  const auto reference = mattecast::read_npy(frames + "/pha_007.npy");
  ASSERT_EQ(ours.shape, (std::vector<int64_t>{360, 640}));
  double max_error = 0;
  for (size_t i = 0; i < ours.values.size(); ++i)
    max_error = std::max(max_error, double(std::abs(ours.values[i] - reference.values[i])));
  EXPECT_LE(max_error, 2e-3);
  EXPECT_EQ(mattecast::read_npy((out / "fgr_000.npy").string()).shape,
            (std::vector<int64_t>{360, 640, 3}));

  // Existing outputs are kept unless --force.
  const Result again = run(fmt::format("infer --model {} --frames {} --out {} --ratio 0.5", kModel,
                                       frames, out.string()));
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
}

TEST(Cli, BenchPrintsJson) {
  const Result r =
      run(fmt::format("bench --model {} --size 320x180 --frames 2 --warmup 1 --json "
                      "--threads 1",
                      kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json["results"].size(), 1u);
  const auto& result = json["results"][0];
  for (const char* key :
       {"size", "ratio", "precision", "threads", "median_ms", "min_ms", "fps", "peak_rss_mb"})
    EXPECT_TRUE(result.contains(key)) << key;
  EXPECT_EQ(result["size"], "320x180");
  EXPECT_EQ(result["threads"], 1);
  EXPECT_GT(result["median_ms"].get<double>(), 0.0);
  EXPECT_EQ(result["isa"], mattecast::to_string(mattecast::cpu_tier()));
}

// calibrate writes a calibration that --precision int8 then runs with; an existing output is kept
// without --force, and a calibration for other weights is refused naming the file.
TEST(Cli, CalibrateWritesWhatInt8Reads) {
  const fs::path dir = fresh_dir("calibrate");
  const std::string clip = kShared + "/media/video/liveportrait_d0.mp4";
  const std::string calibration = (dir / "calibration.json").string();
  Result r = run(fmt::format("calibrate {} --frames 2 --ratio 0.25 --model {} -o {}", clip, kModel,
                             calibration));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto json = nlohmann::json::parse(std::ifstream(calibration));
  EXPECT_EQ(json["format"], "mattecast-int8-calibration");
  EXPECT_EQ(json["frames"], 2);
  // The decoder's 13 dense convolutions and 15 of the encoder's 1x1 (see RvmNetwork::int8_layers).
  EXPECT_EQ(json["ranges"].size(), 28u);

  r = run(fmt::format("calibrate {} --frames 1 --model {} -o {}", clip, kModel, calibration));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;

  r =
      run(fmt::format("bench --model {} --size 320x180 --frames 1 --warmup 0 --json "
                      "--precision int8 --int8-calibration {}",
                      kModel, calibration));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["results"][0]["precision"], "int8");

  std::string text;
  {
    std::ifstream in(calibration);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string weights = json["weights"].get<std::string>();
  text.replace(text.find(weights), weights.size(), "0123456789abcdef");
  std::ofstream(calibration) << text;
  r =
      run(fmt::format("bench --model {} --size 320x180 --frames 1 --precision int8 "
                      "--int8-calibration {}",
                      kModel, calibration));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(calibration + ": int8 calibration made for other weights"),
            std::string::npos)
      << r.output;
}

TEST(Cli, VersionNamesOneDnnAndTheTier) {
  const Result r = run("--version");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("mattecast 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("oneDNN 2."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(fmt::format("CPU tier {}", mattecast::to_string(mattecast::cpu_tier()))),
            std::string::npos)
      << r.output;
}

TEST(Cli, InfoCpuNamesTheTierAndFollowsTheCap) {
  const Result r = run("info --cpu");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(
      r.output.find(fmt::format("tier:        {}", mattecast::to_string(mattecast::cpu_tier()))),
      std::string::npos)
      << r.output;
  const Result capped = run("info --cpu", "MATTECAST_ISA=baseline");
  EXPECT_EQ(capped.status, 0) << capped.output;
  EXPECT_NE(capped.output.find("tier:        baseline"), std::string::npos) << capped.output;
  EXPECT_NE(capped.output.find("running sse41"), std::string::npos) << capped.output;
  EXPECT_NE(capped.output.find("precisions:  fp32 int8\n"), std::string::npos) << capped.output;
}

TEST(Cli, TierCapsAndPrecisionsTheCpuLacksExitWithStatus2) {
  const Result unknown = run("info --cpu", "MATTECAST_ISA=sse9");
  EXPECT_EQ(unknown.status, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("MATTECAST_ISA=sse9 is not a tier"), std::string::npos);
  const Result bf16 =
      run(fmt::format("bench --model {} --size 64x64 --frames 1 --precision bf16", kModel),
          "MATTECAST_ISA=avx2");
  EXPECT_EQ(bf16.status, 2) << bf16.output;
  EXPECT_NE(bf16.output.find("this CPU (avx2) has no bf16 support; use --precision fp32 or auto"),
            std::string::npos)
      << bf16.output;
  if (mattecast::detected_cpu_tier() < mattecast::CpuTier::amx) {
    const Result above = run("info --cpu", "MATTECAST_ISA=amx");
    EXPECT_EQ(above.status, 2) << above.output;
    EXPECT_NE(above.output.find(fmt::format("above this CPU's tier ({})",
                                            mattecast::to_string(mattecast::detected_cpu_tier()))),
              std::string::npos)
        << above.output;
  }
}

// Weights in the user's data folder are found from any working directory, before the checkout's.
TEST(Cli, ModelsAreFoundInTheUsersDataFolder) {
  const fs::path data = fresh_dir("xdg-data");
  fs::create_directories(data / "mattecast" / "models");
  fs::create_symlink(kModel, data / "mattecast" / "models" / "rvm_mobilenetv3.pth");
  const Result r = run("bench --size 64x64 --frames 1 --warmup 0 --json",
                       fmt::format("cd / && XDG_DATA_HOME={} HOME=/nonexistent", data.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["results"][0]["model"],
            (data / "mattecast" / "models" / "rvm_mobilenetv3.pth").string());
}

TEST(ModelSearchPath, UserThenSystemThenCheckout) {
  const char* saved = std::getenv("XDG_DATA_HOME");
  const std::string saved_value = saved ? saved : "";
  setenv("XDG_DATA_HOME", "/data-home", 1);
  const std::vector<std::string> places = mattecast::model_search_path();
  saved ? setenv("XDG_DATA_HOME", saved_value.c_str(), 1) : unsetenv("XDG_DATA_HOME");
  const auto at = [&](const std::string& place) {
    return std::find(places.begin(), places.end(), place) - places.begin();
  };
  ASSERT_LT(at("/data-home/mattecast/models"), std::ssize(places));
  ASSERT_LT(at("/usr/local/share/mattecast/models"), std::ssize(places));
  ASSERT_LT(at("../shared/models"), std::ssize(places));
  EXPECT_LT(at("/data-home/mattecast/models"), at("/usr/local/share/mattecast/models"));
  EXPECT_LT(at("/usr/local/share/mattecast/models"), at("../shared/models"));
}

TEST(Cli, ImagesWritesRgbaCutouts) {
  const fs::path out = fresh_dir("images");
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  const Result r = run(fmt::format("images --model {} -o {} {}", kModel, out.string(), still));
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path png = out / "rembg_girl-1.png";
  ASSERT_TRUE(fs::exists(png));
  const auto decoded = mattecast::read_image(png.string());  // RGB view of the cut-out
  EXPECT_EQ(decoded.width, 600);
  EXPECT_EQ(decoded.height, 399);
}

std::string read_bytes(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An RGBA cut-out of `original`: the same size, and an alpha that separates something.
void expect_cutout(const fs::path& png, const fs::path& original) {
  SCOPED_TRACE(png.string());
  ASSERT_TRUE(fs::exists(png));
  const auto picture = mattecast::read_image(png.string());
  const auto source = mattecast::read_image(original.string());
  EXPECT_EQ(picture.width, source.width);
  EXPECT_EQ(picture.height, source.height);
  const auto alpha = mattecast::read_alpha_image(png.string());  // throws without alpha
  const auto [low, high] = std::minmax_element(alpha.values.begin(), alpha.values.end());
  EXPECT_LT(*low, 0.1f);
  EXPECT_GT(*high, 0.9f);
}

TEST(CliImages, CutsOutEveryStillOfAFolder) {
  const fs::path out = fresh_dir("images_stills");
  const fs::path stills = kShared + "/media/stills";
  const Result r = run(
      fmt::format("images --model {} --threads 2 -o {} {}", kModel, out.string(), stills.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  int count = 0;
  for (const auto& entry : fs::directory_iterator(stills)) {
    expect_cutout(out / "stills" / (entry.path().stem().string() + ".png"), entry.path());
    ++count;
  }
  EXPECT_GE(count, 5);
  EXPECT_TRUE(contains(r.output, fmt::format("{} written, 0 skipped, 0 failed", count)))
      << r.output;
}

TEST(CliImages, FolderWithOtherFilesBrokenImagesAndSubfolders) {
  const fs::path in = fresh_dir("images_mixed_in") / "mixed";
  fs::create_directories(in / "sub" / "deeper");
  const std::string stills = kShared + "/media/stills/";
  fs::copy_file(stills + "skimage_camera.png", in / "a.png");
  fs::copy_file(stills + "rembg_girl-1.jpg", in / "sub" / "b.jpg");
  fs::copy_file(stills + "skimage_astronaut.png", in / "sub" / "deeper" / "c.png");
  std::ofstream(in / "notes.txt") << "not a picture\n";
  // A JPEG cut short: decoding it fails.
  std::ofstream(in / "broken.jpg", std::ios::binary)
      << read_bytes(stills + "rembg_girl-2.jpg").substr(0, 3000);

  // Without --recursive: the subfolder, the text file and the broken image are reported, the
  // good image is written, and the exit status says something failed.
  const fs::path flat = fresh_dir("images_mixed_flat");
  const Result r = run(
      fmt::format("images --model {} --threads 2 -o {} {}", kModel, flat.string(), in.string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "warning: skipping '" + (in / "notes.txt").string() + "'"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "warning: skipping folder '" + (in / "sub").string() + "'"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "error: cannot read image '" + (in / "broken.jpg").string()))
      << r.output;
  EXPECT_TRUE(contains(r.output, "1 written, 2 skipped, 1 failed")) << r.output;
  expect_cutout(flat / "mixed" / "a.png", in / "a.png");
  EXPECT_FALSE(fs::exists(flat / "mixed" / "sub"));
  EXPECT_FALSE(fs::exists(flat / "mixed" / "broken.png"));

  // With --recursive: the folder structure is mirrored.
  const fs::path deep = fresh_dir("images_mixed_recursive");
  const Result rr = run(fmt::format("images --model {} --threads 2 --recursive -o {} {}", kModel,
                                    deep.string(), in.string()));
  EXPECT_EQ(rr.status, 1) << rr.output;
  EXPECT_TRUE(contains(rr.output, "broken.jpg")) << rr.output;
  EXPECT_TRUE(contains(rr.output, "3 written, 1 skipped, 1 failed")) << rr.output;
  expect_cutout(deep / "mixed" / "a.png", in / "a.png");
  expect_cutout(deep / "mixed" / "sub" / "b.png", in / "sub" / "b.jpg");
  expect_cutout(deep / "mixed" / "sub" / "deeper" / "c.png", in / "sub" / "deeper" / "c.png");
  EXPECT_FALSE(fs::exists(deep / "mixed" / "notes.png"));
}

TEST(CliImages, ExistingOutputsAreKeptWithoutForce) {
  const fs::path out = fresh_dir("images_existing");
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  const fs::path png = out / "rembg_girl-1.png";
  std::ofstream(png, std::ios::binary) << "precious";
  const Result refused =
      run(fmt::format("images --model {} -o {} {}", kModel, out.string(), still));
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output, "already exists")) << refused.output;
  EXPECT_TRUE(contains(refused.output, png.string())) << refused.output;
  EXPECT_EQ(read_bytes(png), "precious");

  const Result forced = run(
      fmt::format("images --model {} --threads 2 --force -o {} {}", kModel, out.string(), still));
  EXPECT_EQ(forced.status, 0) << forced.output;
  expect_cutout(png, still);
  for (const auto& entry : fs::directory_iterator(out))  // no temporaries left behind
    EXPECT_EQ(entry.path().filename(), "rembg_girl-1.png");
}

TEST(CliImages, ColourBackgroundGivesAnOpaqueComposite) {
  const fs::path out = fresh_dir("images_blue");
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  const Result r = run(fmt::format("images --model {} --threads 2 --background '#0000ff' -o {} {}",
                                   kModel, out.string(), still));
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path png = out / "rembg_girl-1.png";
  EXPECT_THROW(mattecast::read_alpha_image(png.string()), mattecast::Error);  // plain RGB
  const auto picture = mattecast::read_image(png.string());
  ASSERT_EQ(picture.width, 600);
  ASSERT_EQ(picture.height, 399);
  size_t blue = 0;
  const size_t pixels = size_t(picture.width) * picture.height;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = picture.pixels.data() + 3 * i;
    blue += p[0] <= 5 && p[1] <= 5 && p[2] >= 250;
  }
  EXPECT_GT(blue, pixels / 4);       // the background replaced...
  EXPECT_LT(blue, pixels * 9 / 10);  // ...the person kept
}

TEST(CliImages, RefusesVideoBackgroundsAndBadSpecs) {
  const fs::path out = fresh_dir("images_refused");
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  const std::string video = kShared + "/media/video/liveportrait_d0.mp4";
  const Result r = run(fmt::format("images --model {} --background {} -o {} {}", kModel, video,
                                   out.string(), still));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.output, "is a video")) << r.output;
  const Result blur = run(
      fmt::format("images --model {} --background blur:-1 -o {} {}", kModel, out.string(), still));
  EXPECT_NE(blur.status, 0);
  EXPECT_TRUE(contains(blur.output, "blur strength")) << blur.output;
  const Result missing = run(
      fmt::format("images --model {} -o {} {}", kModel, out.string(), (out / "nope.jpg").string()));
  EXPECT_EQ(missing.status, 1);
  EXPECT_TRUE(contains(missing.output, "nope.jpg")) << missing.output;
  EXPECT_TRUE(fs::is_empty(out));
}

// --preview: per still a row input | alpha | plain | your settings | one filter per column.
TEST(CliImages, PreviewSheetShowsEveryFilterOnEveryStill) {
  const fs::path out = fresh_dir("images_preview");
  const std::string stills = fmt::format("{0}/media/stills/rembg_girl-1.jpg "
                                         "{0}/media/stills/skimage_astronaut.png",
                                         kShared);
  const std::string truck = kShared + "/media/backgrounds/sam2_truck.jpg";
  const fs::path sheet = out / "sheet.png";
  const std::string command =
      fmt::format("images --model {} --threads 2 --background {} --harmonize 0.3 --preview {} "
                  "--preview-only {}",
                  kModel, truck, sheet.string(), stills);
  const Result r = run(command);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "input | alpha | plain | your settings | feather 4 px outward | "
                                 "harmonize 0.5 | light wrap 8 px | poisson | disc blur"))
      << r.output;
  const auto picture = mattecast::read_image(sheet.string());
  const int columns = 9, cell = 240;
  ASSERT_EQ(picture.width, columns * cell);
  ASSERT_EQ(picture.height, cell * 399 / 600 + cell);  // a 600x399 and a 512x512 still
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);

  // Every filter changes the plain composite, in both rows.
  auto cell_difference = [&](int column, int row_y, int row_h) {
    double sum = 0;
    for (int y = row_y; y < row_y + row_h; ++y)
      for (int x = 0; x < cell * 3; ++x) {
        const uint8_t* line = picture.pixels.data() + size_t(y) * picture.width * 3;
        sum += std::abs(int(line[column * cell * 3 + x]) - int(line[2 * cell * 3 + x]));
      }
    return sum / (double(row_h) * cell * 3);
  };
  const int first_h = cell * 399 / 600;
  for (const auto& [row_y, row_h] : {std::pair{0, first_h}, std::pair{first_h, cell}}) {
    for (int column = 3; column < columns; ++column)
      EXPECT_GT(cell_difference(column, row_y, row_h), 0.05) << "column " << column << " row "
                                                               << row_y;
  }

  const Result again = run(command);
  EXPECT_NE(again.status, 0);
  EXPECT_TRUE(contains(again.output, "already exists")) << again.output;
  const Result transparent = run(fmt::format(
      "images --model {} --preview {} --preview-only {}", kModel, (out / "t.png").string(), stills));
  EXPECT_EQ(transparent.status, 1);
  EXPECT_TRUE(contains(transparent.output, "--preview shows composites")) << transparent.output;
  const Result no_out = run(fmt::format("images --model {} {}", kModel, stills));
  EXPECT_EQ(no_out.status, 2);
  EXPECT_TRUE(contains(no_out.output, "--out is required")) << no_out.output;
}

TEST(Cli, ErrorsNameTheFileAndExitNonZero) {
  const fs::path dir = fresh_dir("errors");
  const Result missing = run("info " + (dir / "nope.pth").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("nope.pth"), std::string::npos) << missing.output;

  const fs::path garbage = dir / "garbage.pth";
  std::ofstream(garbage) << "this is not a model";
  const Result bad = run("info " + garbage.string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("garbage.pth"), std::string::npos) << bad.output;

  const Result no_frames = run(fmt::format("infer --model {} --frames {} --out {}", kModel,
                                           (dir / "empty").string(), (dir / "out").string()));
  EXPECT_NE(no_frames.status, 0);
  EXPECT_NE(no_frames.output.find("empty"), std::string::npos) << no_frames.output;

  EXPECT_NE(run("bench --size 12by7").status, 0);
  EXPECT_NE(run("no-such-command").status, 0);
}

}  // namespace

// The compositing options (--feather-mode, --shrink, --grow, --harmonize, ...) are the same in
// `video`, `images` and `webcam`: a bad value stops before any work with a message naming the
// option and exit status 2.
TEST(CliBlend, BadBlendValuesExitWithStatus2NamingTheOption) {
  const fs::path out = fresh_dir("blend_bad");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--harmonize 1.5", "--harmonize"},
      {"--harmonize=-0.1", "--harmonize"},
      {"--feather=-1", "--feather"},
      {"--shrink=-2", "--shrink"},
      {"--grow 60", "--grow"},
      {"--feather 3 --feather-mode sideways", "--feather-mode"},
      {"--edge-low 0.8 --edge-high 0.2", "--edge-low"},
      {"--light-wrap=-1", "--light-wrap"},
      {"--light-wrap 51", "--light-wrap"},
      {"--blend gradient", "--blend"}};
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  for (const std::string command :
       {fmt::format("video {} -o {}/out.mp4", still, out.string()),
        fmt::format("images {} -o {}", still, out.string()), std::string("webcam --output null")}) {
    for (const auto& [option, name] : bad) {
      const Result r = run(fmt::format("{} --model {} {}", command, kModel, option));
      EXPECT_EQ(r.status, 2) << command << " " << option << ": " << r.output;
      EXPECT_TRUE(contains(r.output, "error: " + name)) << command << " " << option << r.output;
    }
  }
  EXPECT_TRUE(fs::is_empty(out));
}

// Mean of blue minus red over a composite PNG.
double blue_minus_red(const fs::path& png) {
  const auto picture = mattecast::read_image(png.string());
  double sum = 0;
  for (int y = 0; y < picture.height; ++y) {
    const uint8_t* row = picture.view().data + picture.view().stride * y;
    for (int x = 0; x < picture.width; ++x) sum += double(row[3 * x + 2]) - row[3 * x];
  }
  return sum / (double(picture.width) * picture.height);
}

TEST(CliBlend, ImagesHarmonizeAndShapeTheComposite) {
  const std::string still = kShared + "/media/stills/rembg_girl-1.jpg";
  const auto composite = [&](const std::string& name, const std::string& options) {
    const fs::path out = fresh_dir("blend_" + name);
    const Result r = run(fmt::format("images --model {} --threads 2 --background blue -o {} {} {}",
                                     kModel, out.string(), still, options));
    EXPECT_EQ(r.status, 0) << options << ": " << r.output;
    return out / "rembg_girl-1.png";
  };
  const fs::path plain = composite("plain", "");
  const fs::path off = composite("off", "--harmonize 0 --feather-mode outward");
  const fs::path blended =
      composite("blended", "--harmonize 0.5 --feather 4 --feather-mode outward --grow 1");
  const fs::path wrapped = composite("wrapped", "--light-wrap 8");
  const fs::path cloned = composite("cloned", "--blend poisson");
  EXPECT_EQ(read_bytes(off), read_bytes(plain));  // strength 0 and no feather: bit-identical
  EXPECT_NE(read_bytes(blended), read_bytes(plain));
  // Over blue, the harmonised person turns bluer; the light-wrapped one a little bluer too.
  EXPECT_GT(blue_minus_red(blended), blue_minus_red(plain) + 5);
  EXPECT_GT(blue_minus_red(wrapped), blue_minus_red(plain) + 0.5);
  EXPECT_GT(blue_minus_red(cloned), blue_minus_red(plain) + 0.5);
}
