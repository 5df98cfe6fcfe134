// Segment-parallel jobs: `plan`, `video --job --part`, `join` and `farm --engine local`, run as a
// user runs them. The seams of a farmed matte are invisible with the warm-up (per-frame MAD to a
// single pass at most 1/255) and visible without it; timestamps, frame counts and audio survive
// the join; a killed farm resumes with only the unfinished parts; bad inputs fail by name.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "media_helpers.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using namespace mattecast::testing;

const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = "--model " + kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";
// A talking head whose matte takes seconds to settle from an empty state: seams show.
const std::string kPortrait = kShared + "/media/video/liveportrait_d13.mp4";
// 90 frames with AAC audio; the video starts 33 ms after the audio.
const std::string kAudioClip = kShared + "/media/video/openmpf_video_01.mp4";
const std::string kSynthetic = kShared + "/media/synthetic/girl1_over_cars";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Per-frame MAD (0..1) of `pred` against `gt`, and the whole eval report.
nlohmann::json eval(const std::string& pred, const std::string& gt) {
  const CliResult r = run_cli(fmt::format("eval --pred {} --gt {} --json --per-frame", pred, gt));
  EXPECT_EQ(r.status, 0) << r.output;
  return nlohmann::json::parse(r.output);
}

std::vector<double> per_frame_mad(const nlohmann::json& report) {
  std::vector<double> mad;
  for (const auto& frame : report.at("per_frame"))
    mad.push_back(frame.at("mad").get<double>() / 1e3);
  return mad;
}

size_t folder_size(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

// Runs a shell script; its stdout.
std::string shell(const std::string& script) {
  FILE* pipe = popen(script.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  pclose(pipe);
  return output;
}

// The timestamps of every part of a job, in order.
std::vector<int64_t> joined_pts(const std::string& job_path) {
  const auto job = read_json(job_path);
  const fs::path parts =
      fs::path(job_path).parent_path() / (fs::path(job_path).stem().string() + ".parts");
  std::vector<int64_t> pts;
  for (size_t k = 0; k < job.at("parts").size(); ++k) {
    const auto done = read_json(fmt::format("{}/part_{:04d}/done.json", parts.string(), k));
    for (int64_t t : done.at("pts")) pts.push_back(t);
  }
  return pts;
}

class Farm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = process_inputs_dir("farm_inputs");
    // 6 s of the portrait clip, a keyframe every 40 frames.
    ASSERT_TRUE(run_ffmpeg(
        fmt::format("-i {} -frames:v 180 -c:v libx264 -preset ultrafast -g 40 -an {}/portrait.mp4",
                    kPortrait, dir_)));
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string portrait() { return dir_ + "/portrait.mp4"; }
  static inline std::string dir_;
};

TEST_F(Farm, WarmupHidesTheSeamsAndWithoutItTheyShow) {
  const std::string out = scratch_dir("farm");
  CliResult r = run_cli(fmt::format("video {} --alpha {}/single/ {} -q", portrait(), out, kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<double> worst;
  for (const char* warmup : {"4", "0"}) {
    r =
        run_cli(fmt::format("farm {} --parts 4 --warmup {} --workers 2 --alpha {}/farm{}/ "
                            "--job-dir {}/jobs{} {}",
                            portrait(), warmup, out, warmup, out, warmup, kModel));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "done")) << r.output;
    const auto mad = per_frame_mad(eval(fmt::format("{}/farm{}", out, warmup), out + "/single"));
    ASSERT_EQ(mad.size(), 180u);
    worst.push_back(*std::max_element(mad.begin(), mad.end()));
    const Decoded input = decode_all(portrait());
    EXPECT_EQ(joined_pts(fmt::format("{}/jobs{}/portrait.json", out, warmup)), input.pts);
  }
  fmt::print("worst per-frame MAD to a single pass: {:.5f} with 4 s warm-up, {:.5f} without\n",
             worst[0], worst[1]);
  EXPECT_LE(worst[0], 1.0 / 255);
  EXPECT_GT(worst[1], 3 * worst[0]) << "without warm-up the seams should show";
}

TEST_F(Farm, DtssdToGroundTruthNotAboveSinglePass) {
  const std::string out = scratch_dir("farm");
  const std::string input = kSynthetic + "/composite.mp4";
  CliResult r = run_cli(fmt::format("video {} --alpha {}/single/ {} -q", input, out, kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli(fmt::format("farm {} --parts 4 --warmup 1 --workers 2 --alpha {}/farm/ -q {}", input,
                          out, kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const double single = eval(out + "/single", kSynthetic + "/alpha.mkv").at("dtssd");
  const double farm = eval(out + "/farm", kSynthetic + "/alpha.mkv").at("dtssd");
  fmt::print("dtSSD to ground truth: single pass {:.4f}, farm of 4 parts {:.4f}\n", single, farm);
  EXPECT_LE(farm, single * 1.01 + 1e-9);
}

// Timestamps within a millisecond (Matroska stores milliseconds) of `expected`'s.
void expect_close_times(const std::vector<int64_t>& pts, Rational base,
                        const std::vector<int64_t>& expected, Rational expected_base,
                        const std::string& what) {
  ASSERT_EQ(pts.size(), expected.size()) << what;
  for (size_t i = 0; i < pts.size(); ++i)
    ASSERT_NEAR(double(pts[i]) * base.value(), double(expected[i]) * expected_base.value(), 1e-3)
        << what << " frame " << i;
}

TEST_F(Farm, JoinedH264CompositeKeepsTimestampsAndAudio) {
  const std::string out = scratch_dir("farm");
  const std::string outputs = fmt::format("-o {0}/{{}}comp.mp4 --alpha {0}/{{}}alpha.mkv", out);
  CliResult r =
      run_cli(fmt::format("video {} {} {} -q", kAudioClip,
                          fmt::format(fmt::runtime(outputs), "single_", "single_"), kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli(fmt::format("farm {} --parts 3 --warmup 1 --workers 2 {} {}", kAudioClip,
                          fmt::format(fmt::runtime(outputs), "farm_", "farm_"), kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const Decoded input = decode_all(kAudioClip);
  const AudioPackets in_audio = audio_packets(kAudioClip);
  ASSERT_FALSE(in_audio.data.empty());
  for (const char* name : {"comp.mp4", "alpha.mkv"}) {
    const Decoded farm = decode_all(fmt::format("{}/farm_{}", out, name));
    const Decoded single = decode_all(fmt::format("{}/single_{}", out, name));
    EXPECT_EQ(farm.pts, single.pts) << name << ": the same timestamps as a single pass";
    EXPECT_EQ(farm.info.time_base, single.info.time_base) << name;
    expect_close_times(farm.pts, farm.info.time_base, input.pts, input.info.time_base, name);
    const AudioPackets audio = audio_packets(fmt::format("{}/farm_{}", out, name));
    EXPECT_EQ(audio.data, in_audio.data) << name << ": audio copied packet for packet";
    EXPECT_EQ(audio.pts, audio_packets(fmt::format("{}/single_{}", out, name)).pts) << name;
    expect_close_times(audio.pts, audio.time_base, in_audio.pts, in_audio.time_base, name);
  }
}

TEST_F(Farm, PlanCutsOnKeyframesNearEqualDurationsWithPreroll) {
  const std::string out = scratch_dir("farm");
  const CliResult r =
      run_cli(fmt::format("plan {} --parts 4 --warmup 2 --snap 0.5 -o {}/job.json --alpha {}/a/ {}",
                          portrait(), out, out, kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto job = read_json(out + "/job.json");
  EXPECT_TRUE(fs::path(job.at("executable").get<std::string>()).is_absolute());
  EXPECT_TRUE(fs::exists(job.at("model").get<std::string>()));
  EXPECT_TRUE(fs::path(job.at("video").at("alpha").get<std::string>()).is_absolute());
  EXPECT_EQ(job.at("video").at("model"), job.at("model"));
  const std::vector<int64_t> starts = {0, 40, 80, 120};  // keyframes near 45, 90 and 135
  int64_t frames = 0;
  for (size_t k = 0; k < 4; ++k) {
    const auto& part = job.at("parts").at(k);
    EXPECT_EQ(part.at("first_frame").get<int64_t>(), starts[k]) << k;
    EXPECT_EQ(part.at("cut"), k == 0 ? "start" : "keyframe");
    EXPECT_EQ(part.at("preroll_frames").get<int64_t>(), std::min<int64_t>(starts[k], 60)) << k;
    EXPECT_LE(part.at("seek_pts").get<int64_t>(), part.at("preroll_pts").get<int64_t>());
    frames += part.at("frames").get<int64_t>();
  }
  EXPECT_EQ(frames, 180);
}

TEST_F(Farm, PlanCutsAtAHardSceneCutNearby) {
  const std::string out = scratch_dir("farm");
  // 50 frames of one clip, then 40 of another: a hard cut at frame 50, the middle at 45.
  ASSERT_TRUE(run_ffmpeg(fmt::format(
      "-i {0}/media/video/liveportrait_s32.mp4 -i {0}/media/video/liveportrait_s18.mp4 "
      "-filter_complex \"[0:v]trim=end_frame=50,scale=320:180,setpts=PTS-STARTPTS[a];"
      "[1:v]trim=end_frame=40,scale=320:180,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]\" "
      "-map [v] -c:v libx264 -preset ultrafast -g 300 {1}/cut.mp4",
      kShared, out)));
  const CliResult r = run_cli(
      fmt::format("plan {}/cut.mp4 --parts 2 --snap 0.5 --warmup 1 -o {}/job.json --alpha {}/a/ {}",
                  out, out, out, kModel));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto part = read_json(out + "/job.json").at("parts").at(1);
  EXPECT_EQ(part.at("first_frame").get<int64_t>(), 50) << r.output;
  EXPECT_EQ(part.at("cut"), "scene cut");
}

TEST_F(Farm, PartIndexComesFromSlurmOrKubernetes) {
  const std::string out = scratch_dir("farm");
  const std::string job = out + "/job.json";
  ASSERT_EQ(run_cli(fmt::format("plan {} --parts 3 --warmup 0.5 -o {} --alpha {}/a/ -q {}",
                                kAudioClip, job, out, kModel))
                .status,
            0);
  CliResult r = run_cli(fmt::format("video --job {}", job), "SLURM_ARRAY_TASK_ID=2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "part 2:")) << r.output;
  r = run_cli(fmt::format("video --job {}", job), "JOB_COMPLETION_INDEX=0");
  EXPECT_TRUE(contains(r.output, "part 0:")) << r.output;
  EXPECT_TRUE(fs::exists(out + "/job.parts/part_0002/done.json"));
  EXPECT_TRUE(fs::exists(out + "/job.parts/part_0000/done.json"));
  // Part 1 is missing: join refuses, naming it.
  r = run_cli("join " + job);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.output, "part 1 is not done")) << r.output;
  r = run_cli(fmt::format("video --job {} --part 1 -q", job));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli(fmt::format("video --job {} --part 1", job));
  EXPECT_TRUE(contains(r.output, "already done")) << r.output;
  r = run_cli("join " + job);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(folder_size(out + "/a"), 90u);
}

TEST_F(Farm, KilledFarmResumesWithOnlyTheUnfinishedParts) {
  const std::string out = scratch_dir("farm");
  const std::string args = fmt::format(
      "farm {} --parts 4 --warmup 0.5 --workers 1 --alpha {}/a/ "
      "--job-dir {}/jobs {}",
      kAudioClip, out, out, kModel);
  const std::string first_done = out + "/jobs/openmpf_video_01.parts/part_0000/done.json";
  // Interrupted (SIGINT) as soon as the first part is done.
  const std::string killed =
      shell(fmt::format("'{}' {} > {}/killed.log 2>&1 & pid=$!; "
                        "while [ ! -e {} ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; "
                        "kill -INT $pid; wait $pid; echo exit=$?",
                        MATTECAST_CLI, args, out, first_done));
  EXPECT_TRUE(contains(killed, "exit=130")) << killed;
  EXPECT_FALSE(fs::exists(out + "/a")) << "an interrupted farm writes no output";
  const CliResult resumed = run_cli(args);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resuming")) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "parts done: 0")) << resumed.output;
  EXPECT_FALSE(contains(resumed.output, "part 0 of")) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "part 3 of")) << resumed.output;
  EXPECT_EQ(folder_size(out + "/a"), 90u);
  // Everything done: a rerun would overwrite the output, which needs --force.
  const CliResult again = run_cli(args);
  EXPECT_NE(again.status, 0);
  EXPECT_TRUE(contains(again.output, "--force")) << again.output;
  // Other settings: a new plan, never parts made with the old ones.
  const CliResult changed = run_cli(args + " --feather 2 --force");
  ASSERT_EQ(changed.status, 0) << changed.output;
  EXPECT_TRUE(contains(changed.output, "planned 4 parts")) << changed.output;
  EXPECT_TRUE(contains(changed.output, "to run: 0,1,2,3")) << changed.output;
}

TEST_F(Farm, VideoResumableCheckpointsParts) {
  const std::string out = scratch_dir("farm");
  const std::string args = fmt::format("video {} --alpha {}/a/ --resumable --part-seconds 1 {}",
                                       kAudioClip, out, kModel);
  CliResult r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(folder_size(out + "/a"), 90u);
  const std::string parts = out + "/mattecast-jobs/openmpf_video_01.parts";
  EXPECT_TRUE(fs::exists(parts + "/part_0003/done.json")) << r.output;  // 3.03 s: 4 parts
  fs::rename(out + "/a", out + "/first");
  fs::remove_all(parts + "/part_0001");  // as if interrupted during part 1
  r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "parts done: 0,2,3; to run: 1")) << r.output;
  const auto mad = per_frame_mad(eval(out + "/a", out + "/first"));
  ASSERT_EQ(mad.size(), 90u);
  EXPECT_EQ(*std::max_element(mad.begin(), mad.end()), 0.0);
}

// A single-node Slurm cluster on localhost (tests/slurm_cluster.sh), stopped when the test ends.
class SlurmCluster {
 public:
  SlurmCluster() : dir_(fmt::format("/tmp/mattecast-slurm-{}", getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    output_ = shell(fmt::format("'{}' start {} 2>&1; echo rc=$?", MATTECAST_SLURM_CLUSTER, dir_));
    up_ = contains(output_, "SLURM_CONF=") && contains(output_, "rc=0");
  }
  ~SlurmCluster() {
    shell(fmt::format("'{}' stop {} 2>&1", MATTECAST_SLURM_CLUSTER, dir_));
    fs::remove_all(dir_);
  }
  bool up() const { return up_; }
  const std::string& output() const { return output_; }
  std::string environment() const { return fmt::format("SLURM_CONF={}/slurm.conf", dir_); }

 private:
  std::string dir_, output_;
  bool up_ = false;
};

TEST_F(Farm, SlurmClusterRunsAFarm) {
  const SlurmCluster cluster;
  if (!cluster.up()) GTEST_SKIP() << "Slurm cannot start here: " << cluster.output();
  const std::string out = scratch_dir("farm");
  const CliResult r =
      run_cli(fmt::format("farm {} --parts 3 --warmup 1 --engine slurm --wait --threads 1 "
                          "-o {}/comp.mp4 --alpha {}/a/ {}",
                          kAudioClip, out, out, kModel),
              cluster.environment());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "submitted: parts ")) << r.output;
  EXPECT_TRUE(contains(r.output, "done")) << r.output;
  EXPECT_EQ(folder_size(out + "/a"), 90u);
  const Decoded input = decode_all(kAudioClip), comp = decode_all(out + "/comp.mp4");
  expect_close_times(comp.pts, comp.info.time_base, input.pts, input.info.time_base, "comp.mp4");
  const std::string jobs = out + "/mattecast-jobs";
  for (const char* name :
       {"slurm-part.sh", "slurm-tasks.txt", "slurm-ids.txt", "openmpf_video_01.json.joined"})
    EXPECT_TRUE(fs::exists(jobs + "/" + name)) << name;
  for (int k = 0; k < 3; ++k)
    EXPECT_TRUE(
        fs::exists(fmt::format("{}/openmpf_video_01.parts/part_{:04d}/done.json", jobs, k)));
}

TEST_F(Farm, BadInputsFailCleanly) {
  const std::string out = scratch_dir("farm");
  std::ofstream(out + "/notes.mp4") << "this is not a video\n";
  const auto expect_failure = [](const std::string& args, const std::string& named) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_GT(r.status, 0) << args << ": no crash";
    EXPECT_TRUE(contains(r.output, named)) << args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "internal error")) << r.output;
  };
  expect_failure(fmt::format("farm {}/missing.mp4 --parts 2 --alpha {}/a/", out, out),
                 "missing.mp4");
  expect_failure(
      fmt::format("plan {}/notes.mp4 --parts 2 -o {}/j.json --alpha {}/a/", out, out, out),
      "notes.mp4");
  expect_failure(fmt::format("join {}/nothing.json", out), "nothing.json");
  expect_failure(fmt::format("video --job {}/notes.mp4 --part 0", out), "notes.mp4");
  expect_failure(
      fmt::format("plan {} --parts 500 -o {}/j.json --alpha {}/a/", kAudioClip, out, out),
      "90 frames cannot make 500 parts");
  ASSERT_EQ(
      run_cli(fmt::format("plan {} --parts 2 -o {}/j.json --alpha {}/a/ -q", kAudioClip, out, out))
          .status,
      0);
  expect_failure(fmt::format("video --job {}/j.json --part 7", out), "no part 7");
  expect_failure(fmt::format("video --job {}/j.json", out), "--part");
  std::ofstream(out + "/taken.mp4") << "x";
  expect_failure(fmt::format("farm {} --parts 2 -o {}/taken.mp4", kAudioClip, out), "--force");
  EXPECT_EQ(fs::file_size(out + "/taken.mp4"), 1u);
  EXPECT_FALSE(fs::exists(out + "/a"));
}

}  // namespace
}  // namespace mattecast
