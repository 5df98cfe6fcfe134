// `mattecast webcam` end to end without a camera or a kernel module: a short clip played as a
// live input, with recordings, raw stdout, the browser preview (driven by a real HTTP client),
// Ctrl-C, the errors a user meets first; the --target-fps controller on a simulated clock; and
// the job's handling of a camera that disappears (a fake source, in process).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "live/latest_frame.h"
#include "live/live_source.h"
#include "io/jpeg.h"
#include "media_helpers.h"
#include "live/live_job.h"

namespace mattecast {
namespace {

using namespace mattecast::testing;
using json = nlohmann::json;
using SteadyTime = std::chrono::steady_clock;

const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";
const std::string kPortrait = kShared + "/media/video/liveportrait_s18.mp4";  // 1280x720, 30 fps
constexpr int kWidth = 320, kHeight = 180;
constexpr size_t kFrameBytes = size_t(kWidth) * kHeight * 3;
constexpr int kClipFrames = 45;  // 1.5 s at 30 fps

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Running the command

struct Result {
  int status = -1;
  std::string err;  // stderr
};

// `mattecast webcam` with the test model on one thread (the network's OpenMP team is not what
// is tested here, and a one-thread session keeps the suite steady on a loaded machine). stdout
// goes to `out_path`.
Result webcam(const std::string& arguments, const std::string& out_path = "/dev/null") {
  static int counter = 0;
  const std::string err_path =
      fmt::format("{}/webcam_stderr_{}_{}.txt", MATTECAST_TEST_TMP, getpid(), counter++);
  fs::create_directories(MATTECAST_TEST_TMP);
  const std::string command = fmt::format("'{}' webcam --model '{}' --threads 1 {} > '{}' 2> '{}'",
                                          MATTECAST_CLI, kModel, arguments, out_path, err_path);
  const int status = std::system(command.c_str());
  Result r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = file_text(err_path);
  fs::remove(err_path);
  return r;
}

// A webcam command running in the background; stderr goes to a file read as it grows.
class Running {
 public:
  Running(const std::vector<std::string>& arguments, const std::string& err_path,
          const std::string& out_path = "/dev/null")
      : err_path_(err_path) {
    fs::remove(err_path);  // what a previous run left there must not be mistaken for this one's
    std::vector<std::string> args = {MATTECAST_CLI, "webcam", "--model", kModel, "--threads", "1"};
    args.insert(args.end(), arguments.begin(), arguments.end());
    pid_ = fork();
    if (pid_ == 0) {
      const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(MATTECAST_CLI, argv.data());
      _exit(127);
    }
  }
  ~Running() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string err() const { return file_text(err_path_); }
  // Waits until stderr matches `pattern` (the first group is returned) or the process ends.
  std::optional<std::string> wait_for(const std::regex& pattern, double seconds = 60) {
    const auto deadline = SteadyTime::now() + std::chrono::duration<double>(seconds);
    while (SteadyTime::now() < deadline) {
      const std::string text = err();
      std::smatch m;
      if (std::regex_search(text, m, pattern)) return m.size() > 1 ? m[1].str() : m[0].str();
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  // Sends `signal` and waits (up to `seconds`) for the exit: the exit code, or -1.
  int stop(int signal, double seconds) {
    if (exited_) return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    kill(pid_, signal);
    const auto sent = SteadyTime::now();
    while (waitpid(pid_, &status_, WNOHANG) == 0) {
      if (SteadyTime::now() - sent > std::chrono::duration<double>(seconds)) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
        exited_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    exited_ = true;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  pid_t pid() const { return pid_; }

 private:
  std::string err_path_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

// ---------------------------------------------------------------------------------------------
// Pictures

struct Mean {
  double r = 0, g = 0, b = 0;
};

// Mean colour of the top-left and top-right w x h corners of packed RGB frames (where this clip
// has no person).
Mean corner_mean(const uint8_t* rgb, int width, int height, int w = 40, int h = 30) {
  Mean m;
  int n = 0;
  for (int y = 0; y < std::min(h, height); ++y)
    for (int x : {0, width - w})
      for (int dx = 0; dx < w; ++dx, ++n) {
        const uint8_t* p = rgb + (size_t(y) * width + x + dx) * 3;
        m.r += p[0];
        m.g += p[1];
        m.b += p[2];
      }
  m.r /= n;
  m.g /= n;
  m.b /= n;
  return m;
}

Mean average(const std::vector<Mean>& means) {
  Mean m;
  for (const Mean& x : means) {
    m.r += x.r / double(means.size());
    m.g += x.g / double(means.size());
    m.b += x.b / double(means.size());
  }
  return m;
}

std::vector<Mean> raw_corner_means(const std::string& raw) {
  std::vector<Mean> means;
  for (size_t at = 0; at + kFrameBytes <= raw.size(); at += kFrameBytes)
    means.push_back(
        corner_mean(reinterpret_cast<const uint8_t*>(raw.data()) + at, kWidth, kHeight));
  return means;
}

bool is_red(const Mean& m) { return m.r > 200 && m.g < 50 && m.b < 50; }
bool is_blue(const Mean& m) { return m.b > 200 && m.r < 50 && m.g < 50; }

// ---------------------------------------------------------------------------------------------
// A small HTTP client (the preview server closes every response's connection).

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(size_t(n));
  }
}

bool read_some(int fd, std::string& buffer, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer.append(chunk, size_t(n));
  return true;
}

struct Response {
  int status = 0;
  std::string head, body;
};

Response http(int port, const std::string& request) {
  Response r;
  const int fd = connect_to(port);
  if (fd < 0) return r;
  send_all(fd, request);
  std::string data;
  const auto deadline = SteadyTime::now() + std::chrono::seconds(5);
  while (SteadyTime::now() < deadline && read_some(fd, data, 1000)) {
  }
  ::close(fd);
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos || data.compare(0, 9, "HTTP/1.1 ") != 0) return r;
  r.status = std::atoi(data.c_str() + 9);
  r.head = data.substr(0, end);
  r.body = data.substr(end + 4);
  return r;
}

std::string get(int port, const std::string& path) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", path, port);
}

std::string post(int port, const std::string& path, const std::string& body,
                 const std::string& type = "application/json") {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
      path, port, type, body.size(), body);
}

// Reads the JPEG parts of /stream.mjpg.
class MjpegReader {
 public:
  explicit MjpegReader(int port) : fd_(connect_to(port)) {
    if (fd_ >= 0) send_all(fd_, get(port, "/stream.mjpg"));
  }
  ~MjpegReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string content_type;

  // The next part's bytes, or nullopt (timeout, closed, malformed).
  std::optional<std::string> next(int timeout_ms = 10000) {
    const auto deadline = SteadyTime::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (boundary_.empty()) {
        const size_t end = buffer_.find("\r\n\r\n");
        if (end != std::string::npos) {
          const std::string head = buffer_.substr(0, end);
          if (head.compare(0, 12, "HTTP/1.1 200") != 0) return std::nullopt;
          const size_t type = head.find("Content-Type: ");
          content_type = head.substr(type + 14, head.find("\r\n", type) - type - 14);
          const size_t at = content_type.find("boundary=");
          if (at == std::string::npos) return std::nullopt;
          boundary_ = "--" + content_type.substr(at + 9);
          buffer_.erase(0, end + 4);
        }
      } else {
        const size_t start = buffer_.find(boundary_);
        const size_t head_end =
            start == std::string::npos ? start : buffer_.find("\r\n\r\n", start);
        if (head_end != std::string::npos) {
          const std::string head = buffer_.substr(start, head_end - start);
          const size_t cl = head.find("Content-Length: ");
          if (cl == std::string::npos) return std::nullopt;
          const size_t length = std::stoul(head.substr(cl + 16));
          if (buffer_.size() >= head_end + 4 + length) {
            std::string part = buffer_.substr(head_end + 4, length);
            buffer_.erase(0, head_end + 4 + length);
            return part;
          }
        }
      }
      if (SteadyTime::now() >= deadline) return std::nullopt;
      read_some(fd_, buffer_, 50);
    }
  }

 private:
  int fd_;
  std::string buffer_;
  std::string boundary_;
};

Mean jpeg_corner_mean(const std::string& jpeg, int& width, int& height) {
  JpegDecoder decoder;
  std::vector<uint8_t> rgb;
  decoder.decode(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), rgb, width, height);
  return corner_mean(rgb.data(), width, height);
}

// ---------------------------------------------------------------------------------------------
// The command, on a short clip

class WebcamCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = process_inputs_dir("webcam_inputs");
    ASSERT_TRUE(run_ffmpeg(fmt::format(
        "-i {} -t 1.5 -vf scale={}:{} -c:v libx264 -preset ultrafast -g 15 -an {}/clip.mp4",
        kPortrait, kWidth, kHeight, dir_)));
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string clip() { return dir_ + "/clip.mp4"; }
  static inline std::string dir_;
};

TEST_F(WebcamCommand, FileInputIsPacedAsLiveIntoARecordingAndStdout) {
  const std::string out = scratch_dir("webcam");
  const Decoded source = decode_all(clip());
  ASSERT_EQ(source.pts.size(), size_t(kClipFrames));

  const Result r = webcam(fmt::format("--input {0} --output {1}/rec.mp4 --output - "
                                      "--stats-json {1}/stats.json --warmup-frames 5",
                                      clip(), out),
                          out + "/raw.rgb");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(
      r.err, "ffplay -f rawvideo -pixel_format rgb24 -video_size 320x180 -framerate 30 -i -"))
      << r.err;

  const json stats = json::parse(file_text(out + "/stats.json"));
  const json& totals = stats["totals"];
  const int64_t output_frames = totals["output_frames"];
  EXPECT_EQ(stats["stop_reason"], "end of input");
  // Every frame of the clip is either output or counted as dropped. How many are dropped depends
  // on the machine's speed (a sanitizer build drops most); the first and the last always go out.
  EXPECT_EQ(totals["source_frames"].get<int64_t>(), kClipFrames);
  EXPECT_EQ(output_frames + totals["dropped"].get<int64_t>(), kClipFrames);
  EXPECT_GE(output_frames, 2);

  // stdout: whole frames, as many as were output.
  const auto raw_size = fs::file_size(out + "/raw.rgb");
  EXPECT_EQ(raw_size, size_t(output_frames) * kFrameBytes);

  // The recording: the same frames, with the real capture times: increasing, one frame period
  // apart on average, spanning the clip's duration (the first and the last frames are always
  // processed: the first is awaited, the last is never replaced).
  const Decoded recorded = decode_all(out + "/rec.mp4");
  ASSERT_EQ(int64_t(recorded.pts.size()), output_frames);
  EXPECT_EQ(recorded.info.width, kWidth);
  EXPECT_EQ(recorded.info.height, kHeight);
  for (size_t i = 1; i < recorded.pts.size(); ++i) ASSERT_GT(recorded.pts[i], recorded.pts[i - 1]);
  const double tb = recorded.info.time_base.value();
  const double span = double(recorded.pts.back() - recorded.pts.front()) * tb;
  EXPECT_NEAR(span, (kClipFrames - 1) / 30.0, 0.2);
  // Paced, not as fast as possible: frames are whole frame periods apart (one, or more where
  // frames were dropped), never bunched up.
  std::vector<double> off_period;
  for (size_t i = 1; i < recorded.pts.size(); ++i) {
    const double periods = double(recorded.pts[i] - recorded.pts[i - 1]) * tb * 30;
    EXPECT_GT(periods, 0.5) << "frame " << i;
    off_period.push_back(std::abs(periods - std::round(periods)));
  }
  std::nth_element(off_period.begin(), off_period.begin() + off_period.size() / 2,
                   off_period.end());
  EXPECT_LT(off_period[off_period.size() / 2], 0.15);
  EXPECT_GE(totals["seconds"].get<double>(), 1.3);

  // The summary names what was written; nothing else is left in the folder.
  EXPECT_TRUE(contains(r.err, "wrote " + out + "/rec.mp4")) << r.err;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(out)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"raw.rgb", "rec.mp4", "stats.json"}));
}

TEST_F(WebcamCommand, CompositesFollowTheBackgroundSetting) {
  const std::string out = scratch_dir("webcam");
  std::vector<Mean> source_corners;
  {
    const Decoded source = decode_all(clip(), /*keep_pixels=*/true);
    for (const auto& pixels : source.pixels)
      source_corners.push_back(corner_mean(pixels.data(), kWidth, kHeight));
  }
  const Mean source = average(source_corners);

  auto run = [&](const std::string& background, const std::string& name) {
    const Result r =
        webcam(fmt::format("--input {} --output - --background '{}' --quiet", clip(), background),
               out + "/" + name);
    EXPECT_EQ(r.status, 0) << r.err;
    return raw_corner_means(file_text(out + "/" + name));
  };
  const std::vector<Mean> red = run("#ff0000", "red.rgb");
  const std::vector<Mean> blue = run("#0000ff", "blue.rgb");
  const std::vector<Mean> blur = run("blur:20", "blur.rgb");
  ASSERT_GE(red.size(), 2u);  // how many frames are dropped depends on the machine's speed
  ASSERT_GE(blue.size(), 2u);
  ASSERT_GE(blur.size(), 2u);
  // Where there is no person the background shows: pure red, pure blue, or the blurred scene.
  for (const Mean& m : red) EXPECT_TRUE(is_red(m)) << m.r << " " << m.g << " " << m.b;
  for (const Mean& m : blue) EXPECT_TRUE(is_blue(m)) << m.r << " " << m.g << " " << m.b;
  const Mean blurred = average(blur);
  EXPECT_NEAR(blurred.r, source.r, 25);
  EXPECT_NEAR(blurred.g, source.g, 25);
  EXPECT_NEAR(blurred.b, source.b, 25);
  EXPECT_FALSE(is_red(blurred) || is_blue(blurred));
}

TEST_F(WebcamCommand, StatsJsonAndDuration) {
  const std::string out = scratch_dir("webcam");
  const Result r =
      webcam(fmt::format("--input {} --loop --duration 2.5 --output null --stats-json "
                         "{}/stats.json --warmup-frames 10 --quiet",
                         clip(), out));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(contains(r.err, " fps | out ")) << r.err;  // --quiet: no stats lines

  const json j = json::parse(file_text(out + "/stats.json"));
  for (const char* key : {"input_fps", "output_fps", "dropped", "latency_ms_p50", "latency_ms_p95",
                          "latency_ms_max", "rss_mb_start", "rss_mb_end", "cpu_percent", "frames",
                          "warmup_frames", "stages", "totals", "downsample_ratio"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["stop_reason"], "duration");
  // What holds at any machine speed (speed itself is measured by bench/webcam.sh): the run lasts
  // its duration, the source is never faster than the clip's 30 fps, nothing goes out that did
  // not come in, and the latency figures are ordered.
  EXPECT_GE(j["totals"]["seconds"].get<double>(), 2.5);
  EXPECT_EQ(j["warmup_frames"], 10);
  EXPECT_TRUE(j["warm"].get<bool>());
  EXPECT_GT(j["input_fps"].get<double>(), 0);
  EXPECT_LE(j["input_fps"].get<double>(), 30 * 1.1);
  EXPECT_GT(j["output_fps"].get<double>(), 0);
  EXPECT_LE(j["output_fps"].get<double>(), j["input_fps"].get<double>() + 1);
  EXPECT_GT(j["frames"].get<int64_t>(), 10);
  const double p50 = j["latency_ms_p50"], p95 = j["latency_ms_p95"], max = j["latency_ms_max"];
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p95);
  EXPECT_LE(p95, max);
  EXPECT_GT(j["rss_mb_start"].get<double>(), 10);
  EXPECT_GT(j["rss_mb_end"].get<double>(), 10);
  for (const char* stage : {"capture", "convert", "matting", "compose", "output"}) {
    ASSERT_TRUE(j["stages"].contains(stage)) << stage;
    EXPECT_GE(j["stages"][stage]["ms"].get<double>(), 0) << stage;
  }
  EXPECT_GT(j["stages"]["matting"]["ms"].get<double>(), 0.5);
  // The preview's and the console's figures come from the same statistics.
  EXPECT_NEAR(j["downsample_ratio"].get<double>(), 1.0, 1e-6);  // 320x180: the automatic ratio
}

TEST_F(WebcamCommand, InterruptFinishesTheRecording) {
  const std::string out = scratch_dir("webcam");
  Running run({"--input", clip(), "--loop", "--output", out + "/rec.mp4", "--stats-json",
               out + "/stats.json"},
              out + "/../interrupt_stderr.txt");
  // Running once the first stats line is out (a second of frames).
  ASSERT_TRUE(run.wait_for(std::regex(R"(\| out [0-9.]+ fps)"))) << run.err();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(run.stop(SIGINT, 30), 130) << run.err();  // 30 s: a hang guard, not a timing
  EXPECT_TRUE(contains(run.err(), "interrupted")) << run.err();
  // A recorder stopped by Ctrl-C leaves a finished, playable file (and no temporaries).
  const Decoded recorded = decode_all(out + "/rec.mp4");
  EXPECT_FALSE(recorded.pts.empty());  // how many depends on the machine's speed
  for (size_t i = 1; i < recorded.pts.size(); ++i) ASSERT_GT(recorded.pts[i], recorded.pts[i - 1]);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(out)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"rec.mp4", "stats.json"}));
  EXPECT_EQ(json::parse(file_text(out + "/stats.json"))["stop_reason"], "interrupted");
}

TEST_F(WebcamCommand, StdoutReaderGoingAwayEndsTheRunCleanly) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string err_path = scratch_dir("webcam") + "/stderr.txt";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    dup2(fds[1], 1);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, 2);
    execl(MATTECAST_CLI, MATTECAST_CLI, "webcam", "--model", kModel.c_str(), "--threads", "1",
          "--input", clip().c_str(), "--loop", "--output", "-", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[1]);
  // Read five frames, then go away like a player that was closed.
  std::vector<char> buffer(kFrameBytes * 5);
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fds[0], buffer.data() + got, buffer.size() - got);
    if (n <= 0) break;
    got += size_t(n);
  }
  EXPECT_EQ(got, buffer.size());
  ::close(fds[0]);
  int status = 0;
  const auto deadline = SteadyTime::now() + std::chrono::seconds(5);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (SteadyTime::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "still running after its reader went away";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << file_text(err_path);
  EXPECT_TRUE(contains(file_text(err_path), "stdout closed")) << file_text(err_path);
}

TEST_F(WebcamCommand, PreviewServerStreamsAndTakesSettings) {
  const std::string out = scratch_dir("webcam");
  Running run({"--input", clip(), "--loop", "--preview-port", "0", "--background", "#ff0000"},
              out + "/stderr.txt");
  const auto port_text = run.wait_for(std::regex(R"(preview: http://127\.0\.0\.1:([0-9]+)/)"));
  ASSERT_TRUE(port_text) << run.err();
  const int port = std::stoi(*port_text);

  // The page.
  const Response page = http(port, get(port, "/"));
  ASSERT_EQ(page.status, 200) << run.err();
  EXPECT_TRUE(contains(page.body, "/stream.mjpg"));
  EXPECT_TRUE(contains(page.body, "/control"));

  // The stream: JPEG frames of the composite, red behind the person.
  MjpegReader stream(port);
  auto part = stream.next();
  ASSERT_TRUE(part) << run.err();
  EXPECT_EQ(stream.content_type.rfind("multipart/x-mixed-replace", 0), 0u) << stream.content_type;
  int w = 0, h = 0;
  Mean m = jpeg_corner_mean(*part, w, h);
  EXPECT_EQ(w, kWidth);
  EXPECT_EQ(h, kHeight);
  EXPECT_TRUE(is_red(m)) << m.r << " " << m.g << " " << m.b;

  // A change of setting is applied live: /settings says so, and the stream turns blue.
  const Response changed =
      http(port, post(port, "/control", R"({"background": "#0000ff", "mirror": true})"));
  ASSERT_EQ(changed.status, 200) << changed.body;
  const json settings = json::parse(http(port, get(port, "/settings")).body);
  EXPECT_EQ(settings["background"], "#0000ff");
  EXPECT_EQ(settings["mirror"], true);
  bool blue_seen = false;
  for (int i = 0; i < 60 && !blue_seen; ++i) {
    part = stream.next();
    ASSERT_TRUE(part) << run.err();
    m = jpeg_corner_mean(*part, w, h);
    blue_seen = is_blue(m);
  }
  EXPECT_TRUE(blue_seen) << m.r << " " << m.g << " " << m.b;

  // Malformed or invalid requests are refused and change nothing.
  EXPECT_EQ(http(port, post(port, "/control", R"({"background": )")).status, 400);
  EXPECT_EQ(http(port, post(port, "/control", R"({"blur_strength": "strong"})")).status, 400);
  EXPECT_EQ(http(port, post(port, "/control", R"({"background": "/no/such/picture.png"})")).status,
            400);
  EXPECT_EQ(http(port, post(port, "/control", R"({"mirror": false})", "text/plain")).status, 415);
  EXPECT_EQ(json::parse(http(port, get(port, "/settings")).body), settings);

  // Stats, as the page reads them.
  const Response stats = http(port, get(port, "/stats"));
  ASSERT_EQ(stats.status, 200);
  const json figures = json::parse(stats.body);
  EXPECT_TRUE(figures.contains("output_fps"));
  EXPECT_TRUE(figures.contains("last_second"));

  // SIGTERM stops it like Ctrl-C.
  EXPECT_EQ(run.stop(SIGTERM, 30), 130) << run.err();
  EXPECT_EQ(connect_to(port), -1);  // the port is released
}

TEST_F(WebcamCommand, ErrorsSayWhatIsWrongAndWhatToDo) {
  const std::string out = scratch_dir("webcam");
  Result r = webcam("--input /dev/video9 --output null");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "/dev/video9")) << r.err;
  EXPECT_TRUE(contains(r.err, "--list-devices")) << r.err;

  r = webcam(fmt::format("--input {} --output /dev/null", clip()));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "/dev/null")) << r.err;
  EXPECT_TRUE(contains(r.err, "modprobe v4l2loopback")) << r.err;

  r = webcam(fmt::format("--input {}", clip()));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "nothing to output")) << r.err;
  EXPECT_TRUE(contains(r.err, "--preview-port")) << r.err;

  r = webcam(fmt::format("--input {} --output /dev/video4 --output-format rgb24", clip()));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "rgb24")) << r.err;

  r = webcam(fmt::format("--input {} --output null --background {}/missing.png", clip(), out));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "missing.png")) << r.err;

  std::ofstream(out + "/taken.mp4") << "x";
  r = webcam(fmt::format("--input {} --output {}/taken.mp4", clip(), out));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--force")) << r.err;
  EXPECT_EQ(file_text(out + "/taken.mp4"), "x");

  r = webcam(fmt::format("--input {}/missing.mp4 --output null", out));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "missing.mp4")) << r.err;

  // Listing needs no model and no device; this host may have none.
  r = webcam("--list-devices", out + "/list.txt");
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string listing = file_text(out + "/list.txt");
  bool any_video_node = false;
  for (const auto& entry : fs::directory_iterator("/dev"))
    any_video_node = any_video_node || entry.path().filename().string().rfind("video", 0) == 0;
  if (!any_video_node) {
    EXPECT_TRUE(contains(listing, "No video devices")) << listing;
    EXPECT_TRUE(contains(listing, "modprobe v4l2loopback")) << listing;
  } else {
    EXPECT_FALSE(listing.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// The job in process: a camera that disappears mid-run

class VanishingCamera final : public LiveSource {
 public:
  VanishingCamera(LatestFrame& latest, int frames) : latest_(latest) {
    info_.camera = true;
    info_.width = 64;
    info_.height = 48;
    info_.fps = 30;
    info_.description = "/dev/video7 fake 64x48 30 fps";
    thread_ = std::jthread([this, frames](std::stop_token stop) {
      SteadyClock clock;
      for (int i = 0; i < frames && !stop.stop_requested(); ++i) {
        LiveFrame& f = latest_.producer_frame();
        f.resize(64, 48);
        for (size_t p = 0; p < f.rgb.size(); ++p) f.rgb[p] = uint8_t((p * 7 + size_t(i) * 3) % 251);
        f.capture_ns = clock.now_ns();
        f.source_seconds = i / 30.0;
        latest_.publish();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      latest_.close("camera /dev/video7 disappeared (unplugged?)");
      finished_ = true;
    });
  }
  ~VanishingCamera() override { stop(); }
  const LiveSourceInfo& info() const override { return info_; }
  void stop() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    latest_.close();
    stopped_ = true;
  }
  bool finished() const override { return finished_; }
  int64_t corrupt_frames() const override { return 0; }
  static inline std::atomic<bool> stopped_{false};

 private:
  LatestFrame& latest_;
  LiveSourceInfo info_;
  std::atomic<bool> finished_{false};
  std::jthread thread_;
};

TEST(LiveJob, CameraDisappearingIsAClearErrorAndTheRecordingIsKept) {
  const std::string out = scratch_dir("webcam");
  const auto model = Model::load(kModel);
  LiveJobOptions options;
  options.input = "/dev/video7";
  options.outputs = {out + "/rec.mp4"};
  options.session.threads = 1;
  options.settings.background = "#00ff00";
  options.stats_json_path = out + "/stats.json";
  options.warmup_frames = 0;
  VanishingCamera::stopped_ = false;
  options.open_source = [](const LiveSourceOptions&, LatestFrame& latest, Clock&) {
    return std::make_unique<VanishingCamera>(latest, 12);
  };
  std::vector<std::string> warnings;
  LiveJobCallbacks callbacks;
  callbacks.warn = [&](const std::string& w) { warnings.push_back(w); };
  try {
    run_live_job(model, options, callbacks);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "/dev/video7 disappeared")) << e.what();
  }
  EXPECT_TRUE(VanishingCamera::stopped_.load());  // released
  const Decoded recorded = decode_all(out + "/rec.mp4");
  EXPECT_GE(recorded.pts.size(), 3u);
  EXPECT_EQ(recorded.info.width, 64);
  const json j = json::parse(file_text(out + "/stats.json"));
  EXPECT_EQ(j["stop_reason"], "input error");
  EXPECT_EQ(j["totals"]["source_frames"], 12);
}

TEST(LiveJob, OptionsAreCheckedBeforeAnythingStarts) {
  LiveJobOptions options;
  options.input = "clip.mp4";
  EXPECT_THROW(check_live_job_options(options), Error);  // no output
  options.outputs = {"-", "-"};
  EXPECT_THROW(check_live_job_options(options), Error);
  options.outputs = {"null"};
  EXPECT_NO_THROW(check_live_job_options(options));
  options.output_format = "bgr";
  EXPECT_THROW(check_live_job_options(options), Error);
  options.output_format = "auto";
  options.settings.edge_low = 0.9f;
  options.settings.edge_high = 0.2f;
  EXPECT_THROW(check_live_job_options(options), Error);
  options.settings = {};
  options.settings.background = "transparent";  // a webcam has no alpha
  EXPECT_THROW(check_live_job_options(options), Error);
}

// ---------------------------------------------------------------------------------------------
// --target-fps: the controller on a simulated processing loop

// Input frames arrive every 1/input_fps s; the loop takes the newest one whenever it is free
// (older ones are dropped) and spends cost(level, t) ms on it, plus a re-planning hiccup on the
// first frame after a change of ratio.
struct LoopSim {
  RatioController& controller;
  double input_fps = 30;
  std::function<double(int level, double t)> cost;
  double t = 0;  // seconds
  int64_t last_taken = -1;
  bool replan = false;
  std::vector<double> output_times;
  struct Change {
    double t;
    int level;
  };
  std::vector<Change> changes;

  void run_until(double end) {
    while (t < end) {
      int64_t newest = int64_t(std::floor(t * input_fps + 1e-9));
      if (newest <= last_taken) {
        newest = last_taken + 1;
        t = double(newest) / input_fps;
      }
      const int arrived = int(newest - last_taken);
      last_taken = newest;
      const double ms = cost(controller.level(), t) + (replan ? 150.0 : 0.0);
      replan = false;
      t += ms / 1000;
      output_times.push_back(t);
      if (controller.frame(int64_t(std::llround(t * 1e9)), ms, arrived)) {
        replan = true;
        changes.push_back({t, controller.level()});
      }
    }
  }
  double output_fps(double from, double to) const {
    return double(std::count_if(output_times.begin(), output_times.end(),
                                [&](double x) { return x > from && x <= to; })) /
           (to - from);
  }
};

RatioControllerOptions controller_options() {
  RatioControllerOptions o;
  o.target_fps = 30;
  o.max_ratio = 0.4f;
  o.min_ratio = 0.15f;
  return o;
}

TEST(RatioController, LevelsGoDownInStepsToTheFloor) {
  RatioController c(controller_options());
  EXPECT_FLOAT_EQ(c.ratio(), 0.4f);
  EXPECT_EQ(c.lowest_level(), 11);  // 0.4 x 0.92^11 = 0.160
  EXPECT_GE(c.ratio_for(c.lowest_level()), 0.15f);
  EXPECT_LT(c.ratio_for(c.lowest_level() + 1), 0.15f);
  EXPECT_NEAR(c.ratio_for(1), 0.368f, 1e-6);
  // Hopelessly slow (10 fps for 30): the first window asks for a ratio sqrt(3) times lower,
  // 7 steps (0.4 x 0.92^7 = 0.223); still 10 fps there, the floor, and no further.
  LoopSim sim{c, 30, [](int, double) { return 100.0; }};
  sim.run_until(60);
  EXPECT_EQ(c.level(), c.lowest_level());
  ASSERT_EQ(sim.changes.size(), 2u);
  EXPECT_EQ(sim.changes[0].level, 7);
  EXPECT_GE(sim.changes[1].t - sim.changes[0].t, 2.0);  // a whole window at each level
  EXPECT_TRUE(contains(c.last_reason(), "< target 30 fps")) << c.last_reason();
}

// The quality ladder of an fp32 session: int8 at the full ratio first, then lower ratios in int8;
// back up the same way.
TEST(RatioController, LowersThePrecisionBeforeTheRatio) {
  RatioControllerOptions o = controller_options();
  o.int8_first = true;
  RatioController c(o);
  EXPECT_FALSE(c.int8());
  EXPECT_EQ(c.lowest_level(), 12);  // the int8 rung, then the 11 ratio steps
  EXPECT_FLOAT_EQ(c.ratio_for(1), 0.4f);
  EXPECT_TRUE(c.int8_at(1));
  EXPECT_NEAR(c.ratio_for(2), 0.368f, 1e-6);
  // fp32 at 0.4 takes 40 ms (25 fps), int8 at 0.4 28 ms (36 fps): int8 holds the rate at full
  // detail, so the ratio never drops (the shortfall alone would have asked for 2 ratio steps).
  LoopSim sim{c, 30, [&c](int level, double) { return c.int8_at(level) ? 28.0 : 40.0; }};
  sim.run_until(60);
  EXPECT_EQ(c.level(), 1);
  EXPECT_TRUE(c.int8());
  EXPECT_FLOAT_EQ(c.ratio(), 0.4f);
  EXPECT_GE(sim.output_fps(50, 60), 29.0);

  // A floor above the start still has the int8 rung.
  o.max_ratio = 0.1f;
  RatioController single(o);
  EXPECT_EQ(single.lowest_level(), 1);
  EXPECT_FLOAT_EQ(single.ratio_for(1), 0.1f);
}

TEST(RatioController, FindsTheLevelThatHoldsTheRateAndStaysThere) {
  RatioController c(controller_options());
  // The network's cost grows with the square of the ratio: 0.4 -> 48 ms (21 fps); the shortfall
  // asks for 3 steps, 0.311 -> 32 ms (31 fps: enough, but without 30% headroom), found at once.
  auto cost = [&c](int level, double) {
    const double r = c.ratio_for(level);
    return 8 + 250 * r * r;
  };
  LoopSim sim{c, 30, cost};
  sim.run_until(30);
  EXPECT_EQ(c.level(), 3);
  const size_t settled = sim.changes.size();
  EXPECT_EQ(settled, 1u);
  sim.run_until(150);
  EXPECT_EQ(sim.changes.size(), settled);  // no oscillation
  EXPECT_GE(sim.output_fps(140, 150), 29.0);
  EXPECT_NEAR(c.output_fps(), 30, 1);

  // The load goes away: the ratio comes back up, one step at a time, to where it started.
  sim.cost = [&c](int level, double) {
    const double r = c.ratio_for(level);
    return 4 + 100 * r * r;  // 0.4 -> 20 ms
  };
  sim.run_until(200);
  EXPECT_EQ(c.level(), 0);
  EXPECT_EQ(sim.changes.size(), settled + 3);
  EXPECT_TRUE(contains(c.last_reason(), "headroom")) << c.last_reason();
  sim.run_until(260);
  EXPECT_EQ(sim.changes.size(), settled + 3);  // and never above its starting ratio
}

TEST(RatioController, ASlowInputIsNoReasonToLoseDetail) {
  RatioController c(controller_options());
  // A 15 fps camera and 40 ms per frame: the output keeps up with the input.
  LoopSim sim{c, 15, [](int, double) { return 40.0; }};
  sim.run_until(60);
  EXPECT_EQ(c.level(), 0);
  EXPECT_TRUE(sim.changes.empty());
  EXPECT_NEAR(c.input_fps(), 15, 1);
  // 80 ms per frame cannot keep up with 15 fps: lower (one step: the shortfall is small).
  sim.cost = [](int level, double) { return level == 0 ? 80.0 : 50.0; };
  sim.run_until(70);
  EXPECT_EQ(c.level(), 1);
  EXPECT_TRUE(contains(c.last_reason(), "< input 1")) << c.last_reason();
}

TEST(RatioController, BacksOffFromALevelThatKeepsFailing) {
  RatioController c(controller_options());
  // Level 0 is just too slow (36 ms: 28 fps); level 1 is fast enough to look like headroom
  // (22 ms < 70% of 33 ms). Without hysteresis this would flip every few seconds.
  LoopSim sim{c, 30, [](int level, double) { return level == 0 ? 36.0 : 22.0; }};
  sim.run_until(300);
  ASSERT_GE(sim.changes.size(), 3u);
  EXPECT_LE(sim.changes.size(), 10u);
  // The tries at level 0 come further and further apart.
  std::vector<double> raises;
  for (const auto& change : sim.changes)
    if (change.level == 0) raises.push_back(change.t);
  ASSERT_GE(raises.size(), 2u);
  for (size_t i = 2; i < raises.size(); ++i)
    EXPECT_GT(raises[i] - raises[i - 1], raises[i - 1] - raises[i - 2]);
  // Most of the time is spent at the level that holds the rate.
  EXPECT_GE(sim.output_fps(0, 300), 29.0);
}

TEST(RatioController, RejectsNonsense) {
  RatioControllerOptions o = controller_options();
  o.target_fps = 0;
  EXPECT_THROW(RatioController{o}, Error);
  o = controller_options();
  o.step = 1;
  EXPECT_THROW(RatioController{o}, Error);
  o = controller_options();
  o.max_ratio = 0.1f;  // below the floor: a single level
  o.min_ratio = 0.15f;
  RatioController c(o);
  EXPECT_EQ(c.lowest_level(), 0);
  LoopSim sim{c, 30, [](int, double) { return 100.0; }};
  sim.run_until(20);
  EXPECT_TRUE(sim.changes.empty());
}

}  // namespace
}  // namespace mattecast
