// `mattecast video` end to end, run as a user would: timing, audio, alpha, backgrounds, and what
// happens with bad input and Ctrl-C. Inputs are small clips cut from ../shared/media with ffmpeg.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "compose/background.h"
#include "io/alpha_image.h"
#include "io/image.h"
#include "cli_runner.h"
#include "media_helpers.h"
#include "offline/progress.h"
#include "offline/scene_cut.h"

namespace mattecast {
namespace {

using namespace mattecast::testing;
namespace fs = std::filesystem;

const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";
const std::string kCupsClip = kShared + "/media/video/sam2_02_cups.mp4";         // with AAC audio
const std::string kPortraitClip = kShared + "/media/video/liveportrait_d0.mp4";  // no audio

// `mattecast video` with the test model and a quiet, deterministic setup.
CliResult video(const std::string& arguments) {
  return run_cli(
      fmt::format("video --model {} --threads 2 --progress plain {}", kModel, arguments));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Small inputs made once for the whole suite.
class VideoCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = process_inputs_dir("pipeline_inputs");
    // 1 s of 320x180 with the clip's AAC audio copied.
    ASSERT_TRUE(run_ffmpeg(fmt::format(
        "-i {} -t 1 -vf scale=320:180 -c:v libx264 -preset ultrafast -c:a copy {}/audio.mp4",
        kCupsClip, dir_)));
    // Variable frame rate: 3 of every 5 frames kept, with their original timestamps.
    ASSERT_TRUE(run_ffmpeg(
        fmt::format("-i {} -t 1.6 -vf \"select='lt(mod(n\\,5)\\,3)',scale=160:160\" -fps_mode vfr "
                    "-c:v libx264 -preset ultrafast {}/vfr.mp4",
                    kPortraitClip, dir_)));
    // Odd size, rotated by the container.
    ASSERT_TRUE(run_ffmpeg(fmt::format(
        "-i {} -frames:v 6 -vf scale=161:91 -c:v libx264 -pix_fmt yuv444p -preset ultrafast "
        "{}/odd_plain.mp4",
        kPortraitClip, dir_)));
    ASSERT_TRUE(run_ffmpeg(fmt::format(
        "-i {0}/odd_plain.mp4 -c copy -metadata:s:v:0 rotate=90 {0}/odd_rotated.mp4", dir_)));
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string input(const std::string& name) { return dir_ + "/" + name; }
  static inline std::string dir_;
};

void expect_same_timing(const std::string& input, const std::string& output) {
  const Decoded in = decode_all(input), out = decode_all(output);
  ASSERT_EQ(out.pts.size(), in.pts.size()) << output;
  EXPECT_EQ(rescale(out.pts, out.info.time_base, in.info.time_base), in.pts) << output;
}

TEST_F(VideoCommand, EveryVideoKindKeepsFrameCountAndTimestamps) {
  const std::string out = scratch_dir("pipeline");
  for (const std::string name : {"c.mp4", "c.mkv", "c.mov", "c.webm"}) {
    const CliResult r =
        video(fmt::format("{} -o {}/{} --alpha {}/a_{}", input("vfr.mp4"), out, name, out, name));
    ASSERT_EQ(r.status, 0) << r.output;
    expect_same_timing(input("vfr.mp4"), out + "/" + name);
    expect_same_timing(input("vfr.mp4"), out + "/a_" + name);
  }
  // The clip really is irregular: the check above would be weak on a constant rate.
  const Decoded in = decode_all(input("vfr.mp4"));
  std::set<int64_t> steps;
  for (size_t i = 1; i < in.pts.size(); ++i) steps.insert(in.pts[i] - in.pts[i - 1]);
  EXPECT_GE(steps.size(), 2u);
}

TEST_F(VideoCommand, PngSequencesHaveOneFilePerFrame) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r = video(fmt::format("{} -o {}/comp/ --alpha {}/alpha_%04d.png --alpha-depth 16",
                                        input("vfr.mp4"), out, out));
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t frames = decode_all(input("vfr.mp4")).pts.size();
  EXPECT_EQ(folder_entries(out + "/comp").size(), frames);
  size_t alpha_files = 0;
  for (const auto& name : folder_entries(out)) alpha_files += name.starts_with("alpha_");
  EXPECT_EQ(alpha_files, frames);
}

TEST_F(VideoCommand, AudioPacketsAreCopiedUnchanged) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r =
      video(fmt::format("{} -o {}/c.mp4 --alpha {}/a.mov", input("audio.mp4"), out, out));
  ASSERT_EQ(r.status, 0) << r.output;
  const AudioPackets source = audio_packets(input("audio.mp4"));
  ASSERT_FALSE(source.data.empty());
  for (const std::string name : {"c.mp4", "a.mov"}) {
    const AudioPackets copied = audio_packets(out + "/" + name);
    EXPECT_EQ(copied.codec, source.codec) << name;
    // Cut at the end of the last video frame: all but the tail.
    ASSERT_GE(copied.data.size() + 5, source.data.size()) << name;
    for (size_t i = 0; i < copied.data.size(); ++i) ASSERT_EQ(copied.data[i], source.data[i]) << i;
  }
  // WebM cannot hold AAC: re-encoded to Opus, and said so.
  const CliResult webm = video(fmt::format("{} -o {}/c.webm", input("audio.mp4"), out));
  ASSERT_EQ(webm.status, 0) << webm.output;
  EXPECT_EQ(audio_packets(out + "/c.webm").codec, "opus");
  EXPECT_TRUE(contains(webm.output, "opus")) << webm.output;
  // --no-audio leaves it out.
  ASSERT_EQ(video(fmt::format("{} -o {}/silent.mp4 --no-audio", input("audio.mp4"), out)).status,
            0);
  EXPECT_TRUE(audio_packets(out + "/silent.mp4").data.empty());
}

// The alpha of a transparent output, decoded back, equals the --alpha output.
TEST_F(VideoCommand, TransparentOutputsCarryTheAlpha) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r = video(fmt::format(
      "{0} --background transparent -o {1}/t.mov --foreground {1}/f.webm --alpha {1}/alpha/ "
      "--precision fp32",
      input("odd_plain.mp4"), out));
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::string> alpha_files;
  for (const auto& name : folder_entries(out + "/alpha"))
    alpha_files.push_back(out + "/alpha/" + name);
  for (const auto& [name, tolerance] : {std::pair{"t.mov", 1.0}, std::pair{"f.webm", 12.0}}) {
    const Decoded decoded = decode_all(out + "/" + name, true, true);
    ASSERT_EQ(decoded.channels, 4) << name;
    ASSERT_EQ(decoded.pixels.size(), alpha_files.size());
    double total = 0;
    size_t count = 0;
    for (size_t f = 0; f < alpha_files.size(); ++f) {
      const AlphaImage alpha = read_alpha_image(alpha_files[f]);
      for (size_t i = 0; i < alpha.values.size(); ++i) {
        total += std::abs(decoded.pixels[f][i * 4 + 3] - alpha.values[i] * 255.0);
        ++count;
      }
    }
    EXPECT_LE(total / double(count), tolerance) << name;
  }
}

// composite = fgr * alpha + bg * (1 - alpha), checked on lossless PNG outputs.
TEST_F(VideoCommand, CompositeIsForegroundOverBackground) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r = video(
      fmt::format("{0} --background '#204060' -o {1}/comp/ --alpha {1}/alpha/ --precision fp32",
                  input("odd_plain.mp4"), out));
  ASSERT_EQ(r.status, 0) << r.output;
  const CliResult fg =
      video(fmt::format("{0} --foreground {1}/fg/ --precision fp32", input("odd_plain.mp4"), out));
  ASSERT_EQ(fg.status, 0) << fg.output;
  const auto names = folder_entries(out + "/comp");
  ASSERT_EQ(names.size(), 6u);
  const uint8_t bg[3] = {0x20, 0x40, 0x60};
  double worst = 0;
  for (const auto& name : names) {
    const RgbFrame comp = read_image(out + "/comp/" + name);
    const AlphaImage alpha = read_alpha_image(out + "/alpha/" + name);
    const RgbFrame foreground = read_image(out + "/fg/" + name);  // RGB of the RGBA cut-out
    ASSERT_EQ(comp.width, 161);
    ASSERT_EQ(comp.height, 91);
    for (size_t i = 0; i < alpha.values.size(); ++i)
      for (int c = 0; c < 3; ++c) {
        const double a = alpha.values[i];
        const double expected = foreground.pixels[i * 3 + c] * a + bg[c] * (1 - a);
        worst = std::max(worst, std::abs(comp.pixels[i * 3 + c] - expected));
      }
  }
  EXPECT_LE(worst, 1.6);  // three 8-bit roundings
}

TEST_F(VideoCommand, ImageAndVideoBackgrounds) {
  const std::string out = scratch_dir("pipeline");
  const std::string picture = kShared + "/media/backgrounds/sam2_truck.jpg";
  for (const std::string& spec : {picture, input("vfr.mp4")}) {
    fs::remove_all(out + "/comp");
    fs::remove_all(out + "/alpha");
    const CliResult r = video(fmt::format("{0} --background {2} -o {1}/comp/ --alpha {1}/alpha/",
                                          input("odd_plain.mp4"), out, spec));
    ASSERT_EQ(r.status, 0) << r.output;
    // Where the alpha is 0 the composite shows the background exactly as Background renders it.
    Background background(parse_background(spec), 161, 91);
    const Decoded in = decode_all(input("odd_plain.mp4"));
    const auto names = folder_entries(out + "/comp");
    ASSERT_EQ(names.size(), in.pts.size());
    size_t checked = 0;
    for (size_t f = 0; f < names.size(); ++f) {
      const RgbFrame comp = read_image(out + "/comp/" + names[f]);
      const AlphaImage alpha = read_alpha_image(out + "/alpha/" + names[f]);
      const double seconds = double(in.pts[f]) * in.info.time_base.num / in.info.time_base.den;
      const RgbImage behind = background.render(seconds, comp.view(), alpha.values.data());
      for (int y = 0; y < 91; ++y)
        for (int x = 0; x < 161; ++x) {
          if (alpha.values[size_t(y) * 161 + x] != 0) continue;
          for (int c = 0; c < 3; ++c)
            ASSERT_EQ(comp.pixels[(size_t(y) * 161 + x) * 3 + c],
                      behind.data[y * behind.stride + x * 3 + c]);
          ++checked;
        }
    }
    EXPECT_GT(checked, 1000u) << spec;
  }
}

TEST_F(VideoCommand, RotationAndOddSizesAreKept) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r =
      video(fmt::format("{} -o {}/c.mp4 --alpha {}/a.mov", input("odd_rotated.mp4"), out, out));
  ASSERT_EQ(r.status, 0) << r.output;
  const Decoded in = decode_all(input("odd_rotated.mp4"));
  for (const std::string name : {"c.mp4", "a.mov"}) {
    const Decoded decoded = decode_all(out + "/" + name);
    EXPECT_EQ(decoded.info.rotation, in.info.rotation) << name;
    EXPECT_EQ(decoded.pts.size(), in.pts.size());
  }
  EXPECT_NE(in.info.rotation, 0);
}

TEST_F(VideoCommand, ImageFolderInput) {
  const std::string out = scratch_dir("pipeline");
  // frame2 must come before frame10: natural order.
  fs::create_directories(out + "/frames");
  const Decoded in = decode_all(input("odd_plain.mp4"), true);
  for (size_t i = 0; i < in.pixels.size(); ++i)
    write_png_rgb(fmt::format("{}/frames/frame{}.png", out, i * 4), in.pixels[i].data(), 161, 91,
                  161 * 3);
  const CliResult r = video(fmt::format("{0}/frames -o {0}/c.mp4 --fps 10", out));
  ASSERT_EQ(r.status, 0) << r.output;
  const Decoded decoded = decode_all(out + "/c.mp4");
  ASSERT_EQ(decoded.pts.size(), in.pixels.size());
  EXPECT_NEAR(decoded.info.frame_rate.value(), 10.0, 0.01);
}

TEST_F(VideoCommand, SceneCutsAreFoundAndReported) {
  const std::string out = scratch_dir("pipeline");
  ASSERT_TRUE(run_ffmpeg(fmt::format(
      "-i {0} -i {1} -filter_complex \"[0:v]fps=25,trim=end_frame=12,setpts=PTS-STARTPTS,"
      "scale=160:120,setsar=1[a];[1:v]fps=25,trim=end_frame=12,setpts=PTS-STARTPTS,"
      "scale=160:120,setsar=1[b];[a][b]concat=n=2:v=1[v]\" -map [v] "
      "-c:v libx264 -preset ultrafast {2}/cut.mp4",
      kPortraitClip, kCupsClip, out)));
  const CliResult r = video(fmt::format("{0}/cut.mp4 --alpha {0}/a.mp4 --scene-reset", out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "scene cuts (1): frame 12")) << r.output;
}

TEST_F(VideoCommand, PreviewSheet) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r = video(fmt::format(
      "{0} --preview {1}/sheet.png --preview-only -o {1}/never.mp4", input("audio.mp4"), out));
  ASSERT_EQ(r.status, 0) << r.output;
  const RgbFrame sheet = read_image(out + "/sheet.png");
  EXPECT_EQ(sheet.width, 3 * 320);
  EXPECT_EQ(sheet.height, 4 * 180);
  EXPECT_FALSE(fs::exists(out + "/never.mp4"));
}

TEST_F(VideoCommand, SummaryNamesStagesMemoryNetworkAndThreadBudget) {
  const std::string out = scratch_dir("pipeline");
  const CliResult r =  // video() asks for 2 threads
      video(
          fmt::format("{0} -o {1}/c.mp4 --alpha {1}/a.mp4 --precision fp32 --downsample-ratio 0.5",
                      input("audio.mp4"), out));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string network =
      "network: fp32 at ratio 0.5, tier " + std::string(to_string(cpu_tier()));
  for (const char* part :
       {"frames in", "fps", "peak memory", "matting", "encode alpha", "wrote ", network.c_str(),
        "threads: network 2 (OpenMP team); at idle priority: decode 1, output 1 (compose and 2 "
        "single-threaded encoders)"})
    EXPECT_TRUE(contains(r.output, part)) << part << "\n" << r.output;
  const CliResult quiet = video(fmt::format("{0} -o {1}/q.mp4 --quiet", input("audio.mp4"), out));
  ASSERT_EQ(quiet.status, 0) << quiet.output;
  EXPECT_EQ(quiet.output, "");
}

// ---- bad input: a clear message naming the file, non-zero status, nothing left behind ----

struct BadCase {
  std::string input;
  std::string expected;  // part of the message
};

void expect_clean_failure(const std::string& arguments, const std::string& out_dir,
                          const std::string& expected) {
  const auto before = folder_entries(out_dir);
  const CliResult r = video(arguments);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.status, -1) << "crashed: " << r.output;
  EXPECT_TRUE(contains(r.output, expected)) << "expected '" << expected << "' in:\n" << r.output;
  EXPECT_FALSE(contains(r.output, "internal error")) << r.output;
  EXPECT_EQ(folder_entries(out_dir), before) << "files left behind";
}

TEST_F(VideoCommand, BadInputsFailCleanly) {
  const std::string out = scratch_dir("pipeline");
  const std::string in = out + "/in";
  fs::create_directories(in);
  std::ofstream(in + "/notes.mp4") << "this is not a video\n";
  ASSERT_TRUE(run_ffmpeg(fmt::format("-i {} -vn -c:a copy {}/sound.m4a", input("audio.mp4"), in)));
  const std::string whole = file_bytes(input("audio.mp4"));
  std::ofstream(in + "/cut.mp4", std::ios::binary) << whole.substr(0, whole.size() / 2);
  const auto inputs_before = folder_entries(in);
  const std::string cut_before = file_bytes(in + "/cut.mp4");

  const std::string target = out + "/out";
  fs::create_directories(target);
  auto args = [&](const std::string& input_path) {
    return fmt::format("{} -o {}/c.mp4 --alpha {}/a.mov", input_path, target, target);
  };
  expect_clean_failure(args(in + "/missing.mp4"), target, "missing.mp4");
  expect_clean_failure(args(in + "/notes.mp4"), target, "notes.mp4");
  expect_clean_failure(args(in + "/sound.m4a"), target, "no video stream");
  EXPECT_EQ(folder_entries(in), inputs_before);
  EXPECT_EQ(file_bytes(in + "/cut.mp4"), cut_before);

  // The same job with the half file: moov atom at the end is gone, so it cannot be read.
  const CliResult cut = video(args(in + "/cut.mp4"));
  if (cut.status != 0) {
    EXPECT_TRUE(contains(cut.output, "cut.mp4")) << cut.output;
    EXPECT_TRUE(folder_entries(target).empty());
  }
  EXPECT_FALSE(contains(cut.output, "internal error")) << cut.output;
  EXPECT_EQ(file_bytes(in + "/cut.mp4"), cut_before);

  // Unwritable output folder (a regular file stands in its way), and no output at all.
  std::ofstream(out + "/blocker") << "x";
  expect_clean_failure(fmt::format("{} -o {}/blocker/c.mp4", input("audio.mp4"), out), target,
                       "blocker");
  expect_clean_failure(input("audio.mp4"), target, "no output");
}

TEST_F(VideoCommand, ExistingOutputNeedsForce) {
  const std::string out = scratch_dir("pipeline");
  std::ofstream(out + "/c.mp4") << "precious";
  const CliResult r = video(fmt::format("{} -o {}/c.mp4", input("odd_plain.mp4"), out));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
  EXPECT_EQ(file_bytes(out + "/c.mp4"), "precious");
  EXPECT_EQ(folder_entries(out), std::vector<std::string>{"c.mp4"});
  const CliResult forced =
      video(fmt::format("{} -o {}/c.mp4 --force", input("odd_plain.mp4"), out));
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(decode_all(out + "/c.mp4").pts.size(), 6u);
}

// Overwritten bytes in the middle: FFmpeg skips what it cannot decode; the job finishes and
// says where.
TEST_F(VideoCommand, DamagedPacketsAreReportedAndSkipped) {
  const std::string out = scratch_dir("pipeline");
  ASSERT_TRUE(run_ffmpeg(fmt::format(
      "-i {} -t 2 -vf scale=320:180 -c:v libx264 -preset ultrafast -g 10 -an {}/clean.mp4",
      kCupsClip, out)));
  std::string bytes = file_bytes(out + "/clean.mp4");
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 3000; ++i) bytes[i] = char(i * 7);
  std::ofstream(out + "/damaged.mp4", std::ios::binary) << bytes;
  const CliResult r = video(fmt::format("{0}/damaged.mp4 --alpha {0}/a.mp4", out));
  EXPECT_NE(r.status, -1) << r.output;
  EXPECT_FALSE(contains(r.output, "internal error")) << r.output;
  if (r.status == 0) {
    EXPECT_TRUE(contains(r.output, "damaged")) << r.output;
    EXPECT_GT(decode_all(out + "/a.mp4").pts.size(), 20u);
  } else {
    EXPECT_TRUE(contains(r.output, "damaged.mp4")) << r.output;
    EXPECT_FALSE(fs::exists(out + "/a.mp4"));
  }
}

// A file cut in half, its index at the front so it still opens: the job writes what decodes,
// exits 0, and says that the input, and so the outputs, end early. The whole file says nothing.
TEST_F(VideoCommand, TruncatedInputIsReportedAsShort) {
  const std::string out = scratch_dir("pipeline");
  ASSERT_TRUE(run_ffmpeg(fmt::format(
      "-i {} -t 3 -vf scale=160:90 -c:v libx264 -preset ultrafast -c:a copy -movflags +faststart "
      "{}/whole.mp4",
      kCupsClip, out)));
  fs::copy_file(out + "/whole.mp4", out + "/cut.mp4");
  fs::resize_file(out + "/cut.mp4", fs::file_size(out + "/whole.mp4") / 2);

  const CliResult whole = video(fmt::format("{0}/whole.mp4 -o {0}/whole_out.mp4", out));
  ASSERT_EQ(whole.status, 0) << whole.output;
  EXPECT_FALSE(contains(whole.output, "ends early")) << whole.output;
  EXPECT_FALSE(contains(whole.output, "short")) << whole.output;

  const CliResult cut = video(fmt::format("{0}/cut.mp4 -o {0}/cut_out.mp4", out));
  ASSERT_EQ(cut.status, 0) << cut.output;
  const Decoded whole_input = decode_all(out + "/whole.mp4");
  const Decoded cut_input = decode_all(out + "/cut.mp4");
  const size_t written = decode_all(out + "/cut_out.mp4").pts.size();
  ASSERT_EQ(written, cut_input.pts.size());
  ASSERT_GT(written, 0u);
  EXPECT_LT(written, whole_input.pts.size());
  const double last_good =
      double(cut_input.pts.back()) * cut_input.info.time_base.num / cut_input.info.time_base.den;
  const std::string warning = fmt::format(
      "warning: {}/cut.mp4: the video ends early: the last good frame is at {:.2f} s, but the "
      "file says it lasts 3.00 s",
      out, last_good);
  EXPECT_TRUE(contains(cut.output, warning)) << cut.output;
  EXPECT_TRUE(contains(cut.output, fmt::format("the outputs are short: {} of {} frames", written,
                                               whole_input.pts.size())))
      << cut.output;
}

// Matroska gives no frame count, and its file duration can be the audio's: the video stream's own
// duration tag decides, so a cut file with audio is reported too, and a whole one is not.
TEST_F(VideoCommand, TruncatedMatroskaWithAudioIsReportedAsShort) {
  const std::string out = scratch_dir("pipeline");
  ASSERT_TRUE(run_ffmpeg(
      fmt::format("-f lavfi -i testsrc=size=160x90:rate=25:duration=3 -f lavfi -i sine=duration=3 "
                  "-c:v libx264 -preset ultrafast -c:a aac {}/whole.mkv",
                  out)));
  fs::copy_file(out + "/whole.mkv", out + "/cut.mkv");
  fs::resize_file(out + "/cut.mkv", fs::file_size(out + "/whole.mkv") / 2);
  const CliResult whole = video(fmt::format("{0}/whole.mkv -o {0}/whole_out.mp4", out));
  ASSERT_EQ(whole.status, 0) << whole.output;
  EXPECT_FALSE(contains(whole.output, "ends early")) << whole.output;
  const CliResult cut = video(fmt::format("{0}/cut.mkv -o {0}/cut_out.mp4", out));
  ASSERT_EQ(cut.status, 0) << cut.output;
  EXPECT_TRUE(contains(cut.output, fmt::format("warning: {}/cut.mkv: the video ends early", out)))
      << cut.output;
  EXPECT_TRUE(contains(cut.output, "the outputs are short")) << cut.output;
}

TEST_F(VideoCommand, InterruptStopsAndLeavesNothing) {
  const std::string out = scratch_dir("pipeline");
  // A long input: the clip looped, so the job is still running when the signal comes.
  ASSERT_TRUE(run_ffmpeg(fmt::format(
      "-stream_loop 20 -i {} -vf scale=320:180 -c:v libx264 -preset ultrafast {}/long.mp4",
      input("audio.mp4"), out)));
  const std::string output = out + "/c.mp4";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(MATTECAST_CLI, MATTECAST_CLI, "video", "--model", kModel.c_str(), "--threads", "2",
          (out + "/long.mp4").c_str(), "-o", output.c_str(), "--alpha", (out + "/a.mov").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the job has started writing (its temporary file exists), then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (folder_entries(out).size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  const auto sent = std::chrono::steady_clock::now();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - sent > std::chrono::seconds(30)) {  // a hang guard
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "did not stop within 30 s of SIGINT";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(folder_entries(out), std::vector<std::string>{"long.mp4"});
}

// ---- units of the pipeline ----

TEST(SceneCutDetector, FindsCutsButNotMotion) {
  const int w = 128, h = 72;
  std::vector<uint8_t> a(w * h * 3), b(w * h * 3);
  SceneCutDetector detector;
  auto frame = [&](std::vector<uint8_t>& pixels, int shift, int palette) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c)
          pixels[(y * w + x) * 3 + c] = uint8_t(palette == 0 ? ((x + shift) * 2 + c * 40) % 256
                                                             : 255 - (y * 3 + c * 70) % 256);
    return RgbImage{pixels.data(), w, h, w * 3};
  };
  EXPECT_FALSE(detector.update(frame(a, 0, 0)));  // the first frame is never a cut
  for (int shift = 1; shift < 10; ++shift) EXPECT_FALSE(detector.update(frame(a, shift, 0)));
  EXPECT_TRUE(detector.update(frame(b, 0, 1)));
  EXPECT_FALSE(detector.update(frame(b, 0, 1)));
}

TEST(ProgressDisplay, FormatsBarFpsAndEta) {
  EXPECT_EQ(ProgressDisplay::format_line(50, 100, 5.0, 10),
            "[#####-----] 50/100 frames  10.0 fps  ETA 0:05");
  EXPECT_EQ(ProgressDisplay::format_line(7, -1, 1.0, 10), "7 frames  7.0 fps  0:01");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

}  // namespace
}  // namespace mattecast
