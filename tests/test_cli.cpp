// The mattecast command line, run as a user would: outputs, messages and exit codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/image.h"
#include "io/npy.h"

namespace {

namespace fs = std::filesystem;
const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";

struct Result {
  int status;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& arguments) {
  const std::string command = fmt::format("'{}' {} 2>&1", MATTECAST_CLI, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
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
  const Result tfjs = run(fmt::format("info {}/models/rvm_mobilenetv3_tfjs_int8/model.json", kShared));
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
  const Result again = run(fmt::format("infer --model {} --frames {} --out {} --ratio 0.5",
                                       kModel, frames, out.string()));
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
}

TEST(Cli, BenchPrintsJson) {
  const Result r = run(fmt::format("bench --model {} --size 320x180 --frames 2 --warmup 1 --json "
                                   "--threads 1", kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json["results"].size(), 1u);
  const auto& result = json["results"][0];
  for (const char* key : {"size", "ratio", "precision", "threads", "median_ms", "min_ms", "fps",
                          "peak_rss_mb"})
    EXPECT_TRUE(result.contains(key)) << key;
  EXPECT_EQ(result["size"], "320x180");
  EXPECT_EQ(result["threads"], 1);
  EXPECT_GT(result["median_ms"].get<double>(), 0.0);
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
