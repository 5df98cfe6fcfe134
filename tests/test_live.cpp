// The webcam mode's live pieces: settings store, statistics, and the preview HTTP server (driven
// by a real HTTP client over sockets).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/jpeg.h"
#include "live/live_settings.h"
#include "live/live_stats.h"
#include "live/preview_server.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// A small HTTP client.

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Appends what arrives within timeout_ms; false at EOF, on an error or at the timeout.
bool read_some(int fd, std::string& buffer, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<size_t>(n));
  return true;
}

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  bool eof = false;  // the server closed the connection

  std::string header(const std::string& name) const {
    std::string lower_head = head;
    for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string lower_name = name;
    for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower_head.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return "";
    const size_t start = at + 2 + name.size() + 1;
    const size_t end = head.find("\r\n", start);
    std::string value = head.substr(start, end - start);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    return value;
  }
  json body_json() const { return json::parse(body, nullptr, false); }
};

Response parse_response(const std::string& raw, bool eof) {
  Response r;
  r.eof = eof;
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return r;
  r.status = std::atoi(raw.c_str() + 9);
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

// Sends `raw`, reads until the server closes (or timeout_ms passes) and parses the response.
Response http(int port, std::string_view raw, int timeout_ms = 5000) {
  const int fd = connect_to(port);
  if (fd < 0) return {};
  send_all(fd, raw);
  std::string data;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool eof = false;
  while (Clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 1))) <= 0) break;
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof = true;
      break;
    }
    data.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return parse_response(data, eof);
}

std::string get(int port, const std::string& path, const std::string& method = "GET") {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
}

std::string post(int port, const std::string& path, const std::string& body,
                 const std::string& content_type = "application/json",
                 const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// A /stream.mjpg reader. next_part() calls `between` (to publish frames) while it waits.
class StreamClient {
 public:
  explicit StreamClient(int port) : fd_(connect_to(port)) {
    if (fd_ >= 0) send_all(fd_, get(port, "/stream.mjpg"));
  }
  ~StreamClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

  // The response head; sets the boundary.
  std::optional<Response> head(int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (Clock::now() >= deadline || !read_some(fd_, buffer_, 100)) {
        if (Clock::now() >= deadline) return std::nullopt;
      }
    }
    Response r = parse_response(buffer_.substr(0, end + 4), false);
    buffer_.erase(0, end + 4);
    const std::string type = r.header("Content-Type");
    const size_t at = type.find("boundary=");
    if (at != std::string::npos) boundary_ = "--" + type.substr(at + 9);
    return r;
  }

  // The next JPEG part's bytes.
  std::optional<std::string> next_part(const std::function<void()>& between,
                                       int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      // A part: [boundary CRLF] headers CRLF CRLF body (CRLF boundary CRLF follows).
      size_t pos = 0;
      if (buffer_.compare(0, boundary_.size() + 2, boundary_ + "\r\n") == 0)
        pos = boundary_.size() + 2;
      const size_t end = buffer_.find("\r\n\r\n", pos);
      if (end != std::string::npos && pos > 0) {
        const std::string headers = buffer_.substr(pos, end - pos);
        const size_t cl = headers.find("Content-Length: ");
        if (cl == std::string::npos) return std::nullopt;
        const size_t length = std::stoul(headers.substr(cl + 16));
        const size_t need = end + 4 + length + 2 + boundary_.size() + 2;
        if (buffer_.size() >= need) {
          std::string part = buffer_.substr(end + 4, length);
          if (buffer_.compare(end + 4 + length, 2 + boundary_.size(), "\r\n" + boundary_) != 0)
            return std::nullopt;
          buffer_.erase(0, end + 4 + length + 2);  // keep "boundary CRLF" for the next part
          return part;
        }
      }
      if (Clock::now() >= deadline) return std::nullopt;
      if (between) between();
      if (!read_some(fd_, buffer_, 10)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) {  // readable yet read_some failed: EOF
          char c;
          if (::recv(fd_, &c, 1, MSG_PEEK) <= 0) return std::nullopt;
        }
      }
    }
  }

 private:
  int fd_ = -1;
  std::string buffer_;
  std::string boundary_ = "--";
};

template <class Pred>
bool wait_until(Pred pred, int timeout_ms = 3000) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

struct Colour {
  uint8_t r, g, b;
};

std::vector<uint8_t> solid(int w, int h, Colour c, ptrdiff_t stride) {
  std::vector<uint8_t> rgb(static_cast<size_t>(stride) * static_cast<size_t>(h), 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb.data() + y * stride + x * 3;
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
  return rgb;
}

// Mean colour of a JPEG, and its size.
struct Decoded {
  int width = 0, height = 0;
  double r = 0, g = 0, b = 0;
};
Decoded decode(const std::string& jpeg) {
  JpegDecoder decoder;
  std::vector<uint8_t> rgb;
  Decoded d;
  decoder.decode(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), rgb, d.width, d.height,
                 "stream part");
  const double n = static_cast<double>(d.width) * d.height;
  for (size_t i = 0; i < rgb.size(); i += 3) {
    d.r += rgb[i];
    d.g += rgb[i + 1];
    d.b += rgb[i + 2];
  }
  d.r /= n;
  d.g /= n;
  d.b /= n;
  return d;
}

bool near(const Decoded& d, Colour c, double tolerance = 10) {
  return std::abs(d.r - c.r) <= tolerance && std::abs(d.g - c.g) <= tolerance &&
         std::abs(d.b - c.b) <= tolerance;
}

// A validator standing in for parse_background(): colours, "blur", and paths under /media/.
void fake_validator(const std::string& text) {
  if (text == "blur" || text == "green" || text == "white" || text == "black" || text == "blue")
    return;
  if (text.size() == 7 && text[0] == '#') return;
  if (text.rfind("/media/", 0) == 0) return;
  throw Error("'" + text + "' is neither a colour nor a readable picture or video");
}

class PreviewTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(PreviewServerOptions options) {
    server.reset();
    options.max_fps = 1000;  // no throttle in the tests
    server = std::make_unique<PreviewServer>(
        store, [this] { return stats_text; }, options);
    port = server->port();
  }

  SettingsStore store{LiveSettings{}, fake_validator};
  std::string stats_text = R"({"input_fps":30})";
  std::unique_ptr<PreviewServer> server;
  int port = 0;
};

// ---------------------------------------------------------------------------------------------
// LiveSettings / SettingsStore

TEST(LiveSettings, DefaultsAreValidAndSerialise) {
  LiveSettings s;
  EXPECT_NO_THROW(validate_live_settings(s, fake_validator));
  const json j = json::parse(s.to_json());
  for (const char* key :
       {"background", "blur_strength", "mirror", "feather_px", "edge_low", "edge_high", "temporal"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(s.background_spec(), "blur:12");
  s.background = "#00ff00";
  EXPECT_EQ(s.background_spec(), "#00ff00");
  s.feather_px = 3;
  s.edge_low = 0.2f;
  EXPECT_EQ(s.matte_filter().feather_px, 3);
  EXPECT_FLOAT_EQ(s.matte_filter().edge_low, 0.2f);
  // Floats print as written.
  EXPECT_NE(s.to_json().find("\"edge_low\":0.2,"), std::string::npos) << s.to_json();
}

TEST(LiveSettings, StoreAppliesPartialUpdatesAndBumpsTheVersion) {
  SettingsStore store({}, fake_validator);
  EXPECT_EQ(store.version(), 1u);
  uint64_t seen = 0;
  LiveSettings current;
  EXPECT_TRUE(store.get_if_changed(seen, current));
  EXPECT_EQ(seen, 1u);
  EXPECT_FALSE(store.get_if_changed(seen, current));

  SettingsUpdate u =
      store.apply_json(R"({"mirror": true, "feather_px": 4.5, "edge_low": 0.1, "edge_high": 0.9})");
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_TRUE(u.changed);
  EXPECT_EQ(u.version, 2u);
  EXPECT_TRUE(store.get_if_changed(seen, current));
  EXPECT_EQ(seen, 2u);
  EXPECT_TRUE(current.mirror);
  EXPECT_FLOAT_EQ(current.feather_px, 4.5f);
  EXPECT_FLOAT_EQ(current.edge_low, 0.1f);
  EXPECT_EQ(json::parse(u.settings_json)["feather_px"], 4.5);

  // The same values again: accepted, no new version.
  u = store.apply_json(R"({"mirror": true})");
  EXPECT_TRUE(u.ok);
  EXPECT_FALSE(u.changed);
  EXPECT_EQ(store.version(), 2u);
  u = store.apply_json("{}");
  EXPECT_TRUE(u.ok);
  EXPECT_EQ(store.version(), 2u);

  // Integers are numbers too; a blur strength inside the background is split out.
  u = store.apply_json(R"({"background": "blur:30", "temporal": 0})");
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(store.get().settings.background, "blur");
  EXPECT_FLOAT_EQ(store.get().settings.blur_strength, 30.0f);
  EXPECT_EQ(store.get().settings.background_spec(), "blur:30");
  u = store.apply_json(R"({"background": "/media/beach.jpg"})");
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(store.get().settings.background, "/media/beach.jpg");
  EXPECT_EQ(store.version(), 4u);
}

TEST(LiveSettings, BlendSettingsApplyLiveAndReachTheMatteFilter) {
  SettingsStore store({}, fake_validator);
  const SettingsUpdate u = store.apply_json(
      R"({"feather_mode": "outward", "shrink_px": 1.5, "grow_px": 2, "harmonize": 0.4,
          "light_wrap_px": 8, "poisson": true})");
  ASSERT_TRUE(u.ok) << u.error;
  const LiveSettings s = store.get().settings;
  EXPECT_EQ(s.feather_mode, FeatherMode::outward);
  EXPECT_FLOAT_EQ(s.harmonize, 0.4f);
  EXPECT_EQ(s.matte_filter().feather_mode, FeatherMode::outward);
  EXPECT_FLOAT_EQ(s.matte_filter().shrink_px, 1.5f);
  EXPECT_FLOAT_EQ(s.matte_filter().grow_px, 2.0f);
  const json j = json::parse(u.settings_json);
  EXPECT_EQ(j["feather_mode"], "outward");
  EXPECT_EQ(j["harmonize"], 0.4);
  EXPECT_EQ(j["grow_px"], 2);
  EXPECT_EQ(j["light_wrap_px"], 8);
  EXPECT_FLOAT_EQ(s.light_wrap_px, 8.0f);
  EXPECT_TRUE(s.poisson);
  EXPECT_EQ(j["poisson"], true);
}

TEST(LiveSettings, StoreRejectsBadInputNamingTheFieldAndChangesNothing) {
  SettingsStore store({}, fake_validator);
  const LiveSettings before = store.get().settings;
  struct Case {
    const char* body;
    const char* expected;  // in the error message
  };
  const Case cases[] = {
      {R"({"mirror": tru)", "malformed JSON"},
      {"", "malformed JSON"},
      {R"([1, 2])", "JSON object"},
      {R"({"colour": "red"})", "colour"},
      {R"({"blur_strength": 0})", "blur_strength"},
      {R"({"blur_strength": 101})", "blur_strength"},
      {R"({"blur_strength": "strong"})", "blur_strength"},
      {R"({"feather_px": 60})", "feather_px"},
      {R"({"feather_px": -1})", "feather_px"},
      {R"({"edge_low": 1.5})", "edge_low"},
      {R"({"edge_high": null})", "edge_high"},
      {R"({"edge_low": 0.6, "edge_high": 0.4})", "edge_low"},
      {R"({"edge_low": 1})", "edge_low"},  // not below the current edge_high (1)
      {R"({"temporal": 0.96})", "temporal"},
      {R"({"harmonize": 1.5})", "harmonize"},
      {R"({"harmonize": -0.1})", "harmonize"},
      {R"({"shrink_px": -1})", "shrink_px"},
      {R"({"grow_px": 51})", "grow_px"},
      {R"({"light_wrap_px": -2})", "light_wrap_px"},
      {R"({"light_wrap_px": 51})", "light_wrap_px"},
      {R"({"poisson": 1})", "poisson"},
      {R"({"feather_mode": "sideways"})", "feather_mode"},
      {R"({"feather_mode": 1})", "feather_mode"},
      {R"({"mirror": "yes"})", "mirror"},
      {R"({"mirror": 1})", "mirror"},
      {R"({"background": 5})", "background"},
      {R"({"background": ""})", "background"},
      {R"({"background": "transparent"})", "background"},
      {R"({"background": "none"})", "background"},
      {R"({"background": "blur:0"})", "background"},
      {R"({"background": "blur:x"})", "background"},
      {R"({"background": "blur:20", "blur_strength": 10})", "blur_strength"},
      {R"({"background": "/home/me/missing.png"})", "neither a colour"},  // the validator's message
      // All or nothing: the valid field is not applied either.
      {R"({"mirror": true, "feather_px": 99})", "feather_px"},
  };
  for (const Case& c : cases) {
    const SettingsUpdate u = store.apply_json(c.body);
    EXPECT_FALSE(u.ok) << c.body;
    EXPECT_NE(u.error.find(c.expected), std::string::npos) << c.body << " → " << u.error;
    EXPECT_EQ(u.version, 1u);
  }
  EXPECT_EQ(store.version(), 1u);
  EXPECT_EQ(store.get().settings, before);
  // The validator names the background in the message.
  EXPECT_EQ(store.apply_json(R"({"background": "/x"})").error.rfind("background: ", 0), 0u);
}

TEST(LiveSettings, SetValidatesAndInitialSettingsAreChecked) {
  LiveSettings bad;
  bad.temporal = 2;
  EXPECT_THROW(SettingsStore(bad, fake_validator), Error);
  SettingsStore store({}, fake_validator);
  EXPECT_THROW(store.set(bad), Error);
  LiveSettings good;
  good.mirror = true;
  EXPECT_EQ(store.set(good), 2u);
  EXPECT_TRUE(store.get().settings.mirror);
}

TEST(LiveSettings, ConcurrentReadersSeeConsistentSnapshots) {
  SettingsStore store({}, fake_validator);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t seen = 0;
    LiveSettings s;
    while (!done) {
      if (store.get_if_changed(seen, s)) {
        // Writers always set feather_px == 10 * edge_low; a torn read would break it.
        EXPECT_NEAR(s.feather_px, s.edge_low * 10, 1e-4);
      }
    }
  });
  for (int i = 1; i <= 500; ++i) {
    const double low = (i % 90) / 100.0;
    store.apply_json(json{{"edge_low", low}, {"feather_px", low * 10}}.dump());
  }
  done = true;
  reader.join();
}

// ---------------------------------------------------------------------------------------------
// LiveStats

struct FakeSources {
  int64_t now = 0;
  int64_t cpu = 0;
  LiveStatsSources sources() {
    return {[this] { return now; }, [this] { return cpu; }, [] { return 123.0; }};
  }
};

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;

TEST(LiveStats, FrameRatesOverTheLastSecondAndTheRun) {
  FakeSources fake;
  LiveStats stats(LiveStats::default_stages(), fake.sources());
  // 3 s of 30 fps in, then the output falls to 10 fps for the last second.
  for (int k = 1; k <= 90; ++k) {
    fake.now = int64_t{k} * kSecond / 30;
    stats.frame_captured();
    if (k <= 60 || k % 3 == 0) stats.frame_output();
  }
  fake.now = 3 * kSecond;
  LiveStats::Snapshot s = stats.snapshot();
  EXPECT_EQ(s.frames_captured, 90u);
  EXPECT_EQ(s.frames_output, 70u);
  EXPECT_DOUBLE_EQ(s.duration_s, 3.0);
  EXPECT_NEAR(s.input_fps_window, 30.0, 1e-9);
  EXPECT_NEAR(s.input_fps, 30.0, 1e-9);
  EXPECT_NEAR(s.output_fps_window, 10.0, 1e-9);
  EXPECT_NEAR(s.output_fps, 70.0 / 3.0, 1e-9);
  // Half a second without frames: the window holds half as many.
  fake.now = 3 * kSecond + kSecond / 2;
  s = stats.snapshot();
  EXPECT_NEAR(s.input_fps_window, 15.0, 1e-9);
  // At the start the window is as long as the run.
  FakeSources fresh;
  LiveStats young(LiveStats::default_stages(), fresh.sources());
  for (int k = 1; k <= 5; ++k) {
    fresh.now = k * 20 * kMs;
    young.frame_captured();
  }
  EXPECT_NEAR(young.snapshot().input_fps_window, 50.0, 1e-9);
}

TEST(LiveStats, LatencyPercentiles) {
  FakeSources fake;
  LiveStats stats(LiveStats::default_stages(), fake.sources());
  fake.now = 10 * kSecond;
  // 1..100 ms, shuffled order.
  for (int i = 0; i < 100; ++i) {
    const int ms = (i * 37) % 100 + 1;
    fake.now += kMs;
    stats.frame_output(fake.now - ms * kMs);
  }
  LiveStats::Snapshot s = stats.snapshot();
  EXPECT_EQ(s.latency.count, 100u);
  EXPECT_NEAR(s.latency.p50, 50.0, 0.1);  // whole run: 0.1 ms histogram bins
  EXPECT_NEAR(s.latency.p95, 95.0, 0.1);
  EXPECT_DOUBLE_EQ(s.latency.max, 100.0);
  EXPECT_EQ(s.latency_window.count, 100u);
  EXPECT_DOUBLE_EQ(s.latency_window.p50, 50.0);  // last second: exact
  EXPECT_DOUBLE_EQ(s.latency_window.p95, 95.0);
  EXPECT_DOUBLE_EQ(s.latency_window.max, 100.0);

  // Two seconds later the window is empty, the run keeps everything; a sample beyond the
  // histogram's 2 s lands in the overflow and is the exact maximum.
  fake.now += 2 * kSecond;
  stats.frame_output(fake.now - 3500 * kMs);
  s = stats.snapshot();
  EXPECT_EQ(s.latency_window.count, 1u);
  EXPECT_DOUBLE_EQ(s.latency_window.p50, 3500.0);
  EXPECT_EQ(s.latency.count, 101u);
  EXPECT_NEAR(s.latency.p50, 51.0, 0.1);
  EXPECT_DOUBLE_EQ(s.latency.max, 3500.0);
  // A single sample is reported exactly (clamped to the observed range).
  FakeSources one;
  LiveStats single(LiveStats::default_stages(), one.sources());
  one.now = kSecond;
  single.frame_output(one.now - 33'333'333);
  EXPECT_DOUBLE_EQ(single.snapshot().latency.p50, 33.333333);
  EXPECT_DOUBLE_EQ(single.snapshot().latency.p95, 33.333333);
}

TEST(LiveStats, DroppedFramesStagesAndCpu) {
  FakeSources fake;
  LiveStats stats(LiveStats::default_stages(), fake.sources());
  fake.now = 100 * kMs;
  stats.frame_dropped();
  stats.frame_dropped(3);
  stats.stage(LiveStats::kMatting, 10);
  stats.stage("matting", 20);
  stats.stage("upload", 2);  // a new stage
  fake.cpu = 500 * kMs;      // half a core over the first second
  fake.now = kSecond;
  LiveStats::Snapshot s = stats.snapshot();
  EXPECT_EQ(s.dropped, 4u);
  EXPECT_EQ(s.dropped_window, 4u);
  ASSERT_EQ(s.stages.size(), 6u);
  EXPECT_EQ(s.stages[2].name, "matting");
  EXPECT_EQ(s.stages[2].count, 2u);
  EXPECT_DOUBLE_EQ(s.stages[2].mean_ms, 15.0);
  EXPECT_DOUBLE_EQ(s.stages[2].mean_ms_window, 15.0);
  EXPECT_EQ(s.stages[5].name, "upload");
  EXPECT_DOUBLE_EQ(s.stages[0].mean_ms, 0.0);
  EXPECT_NEAR(s.cpu_percent, 50.0, 1e-9);
  EXPECT_NEAR(s.cpu_percent_window, 50.0, 1e-9);

  // The next second: 1.5 cores; frames keep CPU samples coming.
  for (int k = 1; k <= 20; ++k) {
    fake.now = kSecond + k * 50 * kMs;
    fake.cpu = 500 * kMs + k * 75 * kMs;
    stats.frame_captured();
  }
  s = stats.snapshot();
  EXPECT_NEAR(s.cpu_percent_window, 150.0, 1e-6);
  EXPECT_NEAR(s.cpu_percent, 100.0, 1e-6);
  EXPECT_EQ(s.dropped, 4u);
  EXPECT_EQ(s.dropped_window, 0u);
  EXPECT_DOUBLE_EQ(s.stages[2].mean_ms_window, 0.0);  // nothing in the last second
  EXPECT_DOUBLE_EQ(s.stages[2].mean_ms, 15.0);
}

TEST(LiveStats, StageTimerUsesTheClock) {
  FakeSources fake;
  LiveStats stats({"work"}, fake.sources());
  {
    LiveStats::StageTimer timer(stats, 0);
    fake.now += 7 * kMs;
  }
  EXPECT_DOUBLE_EQ(stats.snapshot().stages[0].mean_ms, 7.0);
  EXPECT_EQ(stats.stage_id("work"), 0);
  stats.stage(42, 1.0);  // unknown id: ignored
}

TEST(LiveStats, JsonSummaryAndRunMarkers) {
  FakeSources fake;
  LiveStats stats(LiveStats::default_stages(), fake.sources());
  for (int k = 1; k <= 30; ++k) {
    fake.now = k * 33 * kMs;
    stats.frame_captured();
    stats.stage(LiveStats::kMatting, 25);
    stats.frame_output(fake.now - 40 * kMs);
  }
  stats.mark_warm();
  const json j = json::parse(stats.to_json());
  for (const char* key : {"input_fps", "output_fps", "dropped", "latency_ms_p50", "latency_ms_p95",
                          "latency_ms_max", "rss_mb_start", "rss_mb_end", "frames", "duration_s",
                          "stages", "cpu_percent", "last_second"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["frames"], 30);
  EXPECT_EQ(j["latency_ms_max"], 40.0);
  EXPECT_EQ(j["rss_mb_start"], 123.0);
  EXPECT_EQ(j["stages"]["matting"]["ms"], 25.0);
  EXPECT_EQ(j["last_second"]["stages"]["matting"], 25.0);
  EXPECT_TRUE(j["last_second"].contains("input_fps"));

  const std::string line = stats.summary_line();
  for (const char* part :
       {"in ", "fps", "out ", "dropped 0", "latency p50 40.0", "matting 25.0", "cpu "})
    EXPECT_NE(line.find(part), std::string::npos) << part << " in: " << line;

  // finish() freezes the run: later reports and time are ignored.
  stats.finish();
  const double duration = stats.snapshot().duration_s;
  fake.now += 10 * kSecond;
  stats.frame_captured();
  const LiveStats::Snapshot end = stats.snapshot();
  EXPECT_TRUE(end.finished);
  EXPECT_EQ(end.frames_captured, 30u);
  EXPECT_DOUBLE_EQ(end.duration_s, duration);
  EXPECT_EQ(end.rss_mb_end, 123.0);

  // reset_totals() restarts the run's figures.
  FakeSources f2;
  LiveStats again(LiveStats::default_stages(), f2.sources());
  f2.now = kSecond;
  again.frame_output(f2.now - 500 * kMs);  // warm-up
  again.reset_totals();
  f2.now = 2 * kSecond;
  again.frame_output(f2.now - 30 * kMs);
  const LiveStats::Snapshot after = again.snapshot();
  EXPECT_EQ(after.frames_output, 1u);
  EXPECT_DOUBLE_EQ(after.latency.max, 30.0);
  EXPECT_DOUBLE_EQ(after.duration_s, 1.0);
}

TEST(LiveStats, RealSourcesAndThreads) {
  EXPECT_GT(process_rss_mb(), 0.0);
  const int64_t cpu_before = process_cpu_ns();
  volatile double burn = 0;  // some CPU time that the process clock must count
  for (int i = 0; i < 20'000'000; ++i) burn = burn + 1.0;
  EXPECT_GT(process_cpu_ns(), cpu_before);
  LiveStats stats;
  stats.mark_warm();
  std::thread capture([&] {
    for (int i = 0; i < 20000; ++i) {
      stats.frame_captured();
      if (i % 10 == 0) stats.frame_dropped();
      stats.stage(LiveStats::kCapture, 0.1);
    }
  });
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = stats.now_ns();
    stats.stage(LiveStats::kMatting, 1.0);
    stats.frame_output(t);
  }
  capture.join();
  stats.finish();
  const LiveStats::Snapshot s = stats.snapshot();
  EXPECT_EQ(s.frames_captured, 20000u);
  EXPECT_EQ(s.frames_output, 20000u);
  EXPECT_EQ(s.dropped, 2000u);
  EXPECT_EQ(s.stages[LiveStats::kCapture].count, 20000u);
  EXPECT_GT(s.rss_mb_start, 0.0);
  EXPECT_GT(s.rss_mb_end, 0.0);
  EXPECT_GE(s.cpu_percent, 0.0);
  const json j = json::parse(stats.to_json());
  EXPECT_GT(j["rss_mb_end"].get<double>(), 0.0);
}

// ---------------------------------------------------------------------------------------------
// PreviewServer

TEST_F(PreviewTest, ServesThePage) {
  const Response r = http(port, get(port, "/"));
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.header("Content-Type").rfind("text/html", 0), 0u);
  EXPECT_EQ(std::to_string(r.body.size()), r.header("Content-Length"));
  EXPECT_NE(r.body.find(R"(<img id="stream" src="/stream.mjpg")"), std::string::npos);
  EXPECT_NE(r.body.find("<form"), std::string::npos);
  EXPECT_NE(r.body.find("/control"), std::string::npos);
  EXPECT_NE(r.body.find(R"(<script src="/app.js")"), std::string::npos);
  EXPECT_NE(r.body.find(R"(<link rel="stylesheet" href="/style.css">)"), std::string::npos);
  for (const char* control :
       {"blur_strength", "mirror", "feather_px", "feather_mode", "shrink_px", "grow_px", "edge_low",
        "edge_high", "harmonize", "light_wrap_px", "poisson", "background"})
    EXPECT_NE(r.body.find(std::string("id=\"") + control + "\""), std::string::npos) << control;
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(http(port, get(port, "/index.html")).body, r.body);
  // The script and the style sheet the page loads, served from the files embedded at build time.
  const Response script = http(port, get(port, "/app.js"));
  ASSERT_EQ(script.status, 200) << script.head;
  EXPECT_EQ(script.header("Content-Type").rfind("text/javascript", 0), 0u);
  EXPECT_EQ(std::to_string(script.body.size()), script.header("Content-Length"));
  for (const char* endpoint : {"/settings", "/control", "/stats", "/stream.mjpg"})
    EXPECT_NE(script.body.find(std::string("\"") + endpoint), std::string::npos) << endpoint;
  const Response style = http(port, get(port, "/style.css"));
  ASSERT_EQ(style.status, 200) << style.head;
  EXPECT_EQ(style.header("Content-Type").rfind("text/css", 0), 0u);
  EXPECT_NE(style.body.find("#stream"), std::string::npos);
  for (const Response* file : {&r, &script, &style}) {
    EXPECT_EQ(file->body.find("http://"), std::string::npos);  // no external resources
    EXPECT_EQ(file->body.find("https://"), std::string::npos);
    EXPECT_EQ(file->header("Cache-Control"), "no-store");
    EXPECT_EQ(file->header("X-Content-Type-Options"), "nosniff");
  }
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(port) + "/");
  // HEAD: the headers only; a query string is ignored.
  const Response h = http(port, get(port, "/?reload=1", "HEAD"));
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
}

TEST_F(PreviewTest, StatsAndSettings) {
  Response r = http(port, get(port, "/stats"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, stats_text);
  r = http(port, get(port, "/settings"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, store.to_json());
}

TEST_F(PreviewTest, ControlAppliesValidChanges) {
  const uint64_t before = store.version();
  const Response r = http(port, post(port, "/control", R"({"blur_strength": 20, "mirror": true})"));
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.body_json();
  EXPECT_EQ(j["blur_strength"], 20.0);
  EXPECT_EQ(j["mirror"], true);
  EXPECT_EQ(store.version(), before + 1);
  const SettingsStore::Snapshot now = store.get();
  EXPECT_FLOAT_EQ(now.settings.blur_strength, 20.0f);
  EXPECT_TRUE(now.settings.mirror);
  // Same-origin posts from the page carry an Origin header.
  const std::string origin = "Origin: http://127.0.0.1:" + std::to_string(port) + "\r\n";
  const Response r2 = http(port, post(port, "/control", R"({"background": "green"})",
                                      "application/json; charset=utf-8", origin));
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(store.get().settings.background, "green");
  EXPECT_EQ(store.version(), before + 2);
}

TEST_F(PreviewTest, ControlRejectsBadSettingsNamingTheField) {
  const uint64_t before = store.version();
  struct Case {
    const char* body;
    const char* field;
  };
  const Case cases[] = {
      {R"({"blur_strength": )", "malformed JSON"},
      {R"({"sharpness": 3})", "sharpness"},
      {R"({"feather_px": 51})", "feather_px"},
      {R"({"mirror": "on"})", "mirror"},
      {R"({"edge_high": "high"})", "edge_high"},
      {R"({"background": "/home/me/nothing.gif"})", "background"},
      {R"({"background": "transparent"})", "background"},
  };
  for (const Case& c : cases) {
    const Response r = http(port, post(port, "/control", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    const json j = r.body_json();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(c.field), std::string::npos)
        << c.body << " → " << r.body;
  }
  EXPECT_EQ(store.version(), before);
}

TEST_F(PreviewTest, MalformedRequestsGetErrorsAndTheServerCarriesOn) {
  PreviewServerOptions options;
  options.request_timeout_ms = 1000;  // what ends a request that never completes
  start(options);
  const std::string host = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  struct Case {
    std::string request;
    int status;
  };
  std::string huge_header =
      "GET / HTTP/1.1\r\n" + host + "X-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  std::string many_headers = "GET / HTTP/1.1\r\n" + host;
  for (int i = 0; i < 2000; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const std::vector<Case> cases = {
      {"HELLO\r\n\r\n", 400},
      {"GET\r\n\r\n", 400},
      {"GET /  HTTP/1.1\r\n\r\n", 400},
      {"get / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"GET nopath HTTP/1.1\r\n" + host + "\r\n", 400},
      {"GET / HTTP/9.9\r\n" + host + "\r\n", 400},
      {"GET / HTTQ/1.1\r\n" + host + "\r\n", 400},
      // A TLS hello: no request line ever ends, so the request timeout refuses it.
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 408},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // HTTP/1.1 without Host
      {huge_header, 431},
      {many_headers, 431},
      {"DELETE /control HTTP/1.1\r\n" + host + "\r\n", 405},
      {"GET /control HTTP/1.1\r\n" + host + "\r\n", 405},
      {"POST / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 405},
      {"PUT /stream.mjpg HTTP/1.1\r\n" + host + "\r\n", 405},
      {"GET /nothing/here HTTP/1.1\r\n" + host + "\r\n", 404},
      {"GET /../../etc/passwd HTTP/1.1\r\n" + host + "\r\n", 404},
      {"POST /control HTTP/1.1\r\n" + host + "Content-Type: application/json\r\n\r\n", 411},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       411},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: abc\r\n\r\n",
       400},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: -5\r\n\r\n",
       400},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
       413},
      {"POST /control HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n",
       400},
      {post(port, "/control", R"({"mirror": true})", "text/plain"), 415},
      {post(port, "/control", R"({"mirror": true})", "application/json",
            "Origin: http://evil.example\r\n"),
       403},
      {"GET /settings HTTP/1.1\r\nHost: evil.example:" + std::to_string(port) + "\r\n\r\n", 403},
  };
  for (const Case& c : cases) {
    const Response r = http(port, c.request);
    EXPECT_EQ(r.status, c.status) << c.request.substr(0, 80);
    EXPECT_TRUE(r.eof) << c.request.substr(0, 80);
    EXPECT_EQ(r.header("Content-Type"), "application/json") << c.request.substr(0, 80);
  }
  // Lines cpp-httplib parses leniently (RFC 9112 allows it: it skips a line without a colon):
  // whatever it answers, a folded line never gets a foreign Host trusted, and the connection ends.
  const std::string settings_get = "GET /settings HTTP/1.1\r\n" + host;
  for (const std::string& odd :
       {settings_get + "Bad Header\r\n\r\n", settings_get + " Host: evil.example\r\n\r\n"}) {
    const Response r = http(port, odd);
    EXPECT_TRUE(r.status == 200 || r.status == 400) << odd << r.status;
    EXPECT_TRUE(r.eof) << odd;
  }
  // A body of exactly 64 KB is read (and rejected as JSON), a large body arriving is refused.
  const std::string big(64 * 1024, ' ');
  EXPECT_EQ(http(port, post(port, "/control", big)).status, 400);
  const std::string bigger(200 * 1024, 'x');
  EXPECT_EQ(http(port, post(port, "/control", bigger)).status, 413);
  EXPECT_FALSE(store.get().settings.mirror);
  // Still serving.
  EXPECT_EQ(http(port, get(port, "/")).status, 200);
  // A half-closed client gets its answer.
  const int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  send_all(fd, get(port, "/settings"));
  ::shutdown(fd, SHUT_WR);
  std::string data;
  while (read_some(fd, data, 2000)) {
  }
  ::close(fd);
  EXPECT_EQ(parse_response(data, true).status, 200);
}

TEST_F(PreviewTest, IdleAndSlowConnectionsTimeOut) {
  PreviewServerOptions options;
  options.request_timeout_ms = 200;
  start(options);
  Response r = http(port, "", 3000);  // connects, sends nothing
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(r.eof);
  r = http(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", 3000);  // never finishes the headers
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(r.eof);
  // A body that stops short of its Content-Length.
  r = http(port,
           "POST /control HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: 100\r\n\r\n{",
           3000);
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(http(port, get(port, "/")).status, 200);
}

TEST_F(PreviewTest, StreamsPublishedFramesAsMjpeg) {
  // Nobody watching: publishing costs nothing and encodes nothing.
  const std::vector<uint8_t> grey = solid(64, 48, {128, 128, 128}, 64 * 3);
  server->publish_frame(grey.data(), 64, 48, 64 * 3);
  EXPECT_EQ(server->frames_encoded(), 0u);
  EXPECT_EQ(server->viewers(), 0);

  StreamClient client(port);
  ASSERT_GE(client.fd(), 0);
  const auto head = client.head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Type").rfind("multipart/x-mixed-replace; boundary=", 0), 0u);
  ASSERT_TRUE(wait_until([&] { return server->viewers() == 1; }));

  // Distinct colours, with a row stride wider than the picture.
  const Colour red{230, 20, 30}, green{20, 200, 60}, blue{30, 40, 220};
  const int w = 96, h = 64;
  const ptrdiff_t stride = w * 3 + 16;
  std::vector<uint8_t> frame = solid(w, h, red, stride);
  auto publish = [&] { server->publish_frame(frame.data(), w, h, stride); };

  auto part = client.next_part(publish);
  ASSERT_TRUE(part);
  Decoded d = decode(*part);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_TRUE(near(d, red)) << d.r << " " << d.g << " " << d.b;

  for (Colour next : {green, blue}) {
    frame = solid(w, h, next, stride);
    bool seen = false;
    for (int i = 0; i < 50 && !seen; ++i) {  // red frames still in flight may come first
      part = client.next_part(publish);
      ASSERT_TRUE(part);
      d = decode(*part);
      seen = near(d, next);
    }
    EXPECT_TRUE(seen);
  }
  EXPECT_GE(server->frames_encoded(), 3u);

  // Large frames are downscaled to at most 640 px wide.
  const int big_w = 1280, big_h = 720;
  frame = solid(big_w, big_h, red, big_w * 3);
  bool big_seen = false;
  for (int i = 0; i < 50 && !big_seen; ++i) {
    part = client.next_part([&] { server->publish_frame(frame.data(), big_w, big_h, big_w * 3); });
    ASSERT_TRUE(part);
    d = decode(*part);
    big_seen = d.width == 640;
  }
  ASSERT_TRUE(big_seen);
  EXPECT_EQ(d.height, 360);
  EXPECT_TRUE(near(d, red));

  client.close();
  EXPECT_TRUE(wait_until([&] { return server->viewers() == 0; }));
}

TEST_F(PreviewTest, SeveralViewersAndAStalledOneDoesNotBlockPublishing) {
  StreamClient a(port), b(port);
  ASSERT_TRUE(a.head() && b.head());
  // A third client that never reads: its socket buffers fill up, the others go on.
  StreamClient stalled(port);
  const int small = 4096;
  ::setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  ASSERT_TRUE(wait_until([&] { return server->viewers() == 3; }));

  // Noise compresses badly: big JPEGs fill the stalled client's buffers quickly.
  const int w = 640, h = 480;
  std::vector<uint8_t> frame(static_cast<size_t>(w) * h * 3);
  uint32_t seed = 1;
  for (auto& v : frame) v = static_cast<uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24);
  int max_publish_us = 0;
  auto publish = [&] {
    const auto t = Clock::now();
    server->publish_frame(frame.data(), w, h, w * 3);
    max_publish_us = std::max<int>(
        max_publish_us,
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count()));
  };
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(a.next_part(publish)) << i;
    ASSERT_TRUE(b.next_part(publish)) << i;
  }
  EXPECT_LT(max_publish_us, 100'000);  // a copy, never a wait on a client
  EXPECT_EQ(server->viewers(), 3);
}

// Timeouts far longer than ctest's limit for a test: a stop() that waited for its connections to
// time out, instead of cutting them, would fail the test by hanging it.
PreviewServerOptions with_hour_long_timeouts() {
  PreviewServerOptions options;
  options.request_timeout_ms = 3'600'000;
  options.send_timeout_ms = 3'600'000;
  return options;
}

TEST_F(PreviewTest, StopWithClientsConnectedIsPrompt) {
  start(with_hour_long_timeouts());
  StreamClient watcher(port);
  ASSERT_TRUE(watcher.head());
  ASSERT_TRUE(wait_until([&] { return server->viewers() == 1; }));
  const int idle = connect_to(port);  // a request never sent
  ASSERT_GE(idle, 0);
  const int partial = connect_to(port);  // a body that never completes
  send_all(partial, post(port, "/control", std::string(100, ' ')).substr(0, 150));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  server->stop();
  EXPECT_EQ(server->viewers(), 0);
  // The clients see the connection closed.
  for (int fd : {watcher.fd(), idle, partial}) {
    std::string rest;
    while (read_some(fd, rest, 1000)) {
    }
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 1000), 1);
    char c;
    EXPECT_LE(::recv(fd, &c, 1, 0), 0);
  }
  ::close(idle);
  ::close(partial);
  // Publishing after stop is a no-op; stop is idempotent; new connections are refused.
  const std::vector<uint8_t> grey = solid(8, 8, {1, 2, 3}, 24);
  server->publish_frame(grey.data(), 8, 8, 24);
  server->stop();
  EXPECT_LT(connect_to(port), 0);
  server.reset();  // the destructor after stop
}

TEST_F(PreviewTest, DestructorWithAClientStreamingIsPrompt) {
  start(with_hour_long_timeouts());
  StreamClient watcher(port);
  ASSERT_TRUE(watcher.head());
  ASSERT_TRUE(wait_until([&] { return server->viewers() == 1; }));
  server.reset();
  // The viewer sees the stream end.
  std::string rest;
  while (read_some(watcher.fd(), rest, 1000)) {
  }
  pollfd p{watcher.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  char c;
  EXPECT_LE(::recv(watcher.fd(), &c, 1, 0), 0);
}

TEST_F(PreviewTest, TooManyConnectionsGetA503) {
  PreviewServerOptions options;
  options.max_connections = 2;
  start(options);
  const int a = connect_to(port), b = connect_to(port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(http(port, get(port, "/")).status, 503);
  ::close(a);
  ::close(b);
  EXPECT_TRUE(wait_until([&] { return http(port, get(port, "/")).status == 200; }));
}

TEST(PreviewServer, BindFailuresNameTheAddress) {
  SettingsStore store;
  PreviewServer first(store, {});
  PreviewServerOptions same;
  same.port = first.port();
  try {
    PreviewServer second(store, {}, same);
    FAIL() << "a second server on port " << same.port;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(same.port)),
              std::string::npos)
        << e.what();
  }
  PreviewServerOptions foreign;
  foreign.bind_address = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  foreign.port = 0;
  EXPECT_THROW(PreviewServer(store, {}, foreign), Error);
  PreviewServerOptions bad_port;
  bad_port.port = 70000;
  EXPECT_THROW(PreviewServer(store, {}, bad_port), Error);
}

TEST(PreviewServer, CurlAgreesWhenInstalled) {
  if (std::system("command -v curl > /dev/null 2>&1") != 0) GTEST_SKIP() << "curl not installed";
  SettingsStore store({}, fake_validator);
  PreviewServer server(store, [] { return std::string(R"({"ok":true})"); });
  const std::string base = "curl -s --max-time 5 ";
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  auto run = [](const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return out;
    char chunk[4096];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) out.append(chunk, n);
    ::pclose(pipe);
    return out;
  };
  EXPECT_EQ(run(base + url + "/stats"), R"({"ok":true})");
  const std::string posted =
      run(base + "-w '%{http_code}' -H 'Content-Type: application/json' -d '{\"feather_px\": 2}' " +
          url + "/control");
  EXPECT_NE(posted.find("\"feather_px\":2"), std::string::npos) << posted;
  EXPECT_NE(posted.find("200"), std::string::npos) << posted;
  EXPECT_FLOAT_EQ(store.get().settings.feather_px, 2.0f);
}

}  // namespace
}  // namespace mattecast
