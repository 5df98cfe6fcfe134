// Video reading and writing: timing kept exactly through a round trip, audio copied packet for
// packet, alpha kept in ProRes 4444 and VP9, and damaged or wrong inputs reported by name.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "io/av_handles.h"
#include "mattecast/mattecast.h"
#include "video/video_reader.h"
#include "video/video_writer.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;

const std::string clip = std::string(MATTECAST_SHARED_DIR) + "/media/video/liveportrait_s32.mp4";

std::string scratch_dir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MATTECAST_TEST_TMP) / "video" /
                 fmt::format("{}.{}", test->test_suite_name(), test->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void run_ffmpeg(const std::string& arguments) {
  const std::string command = "ffmpeg -nostdin -y -v error " + arguments;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

struct Decoded {
  VideoInfo info;
  std::vector<int64_t> pts;
  std::vector<std::vector<uint8_t>> pixels;  // packed rows, only when asked for
  size_t corrupt = 0;
};

Decoded decode_all(const std::string& path, bool keep_pixels = false, bool keep_alpha = false) {
  VideoReader reader(path, {.threads = 2, .keep_alpha = keep_alpha});
  Decoded result;
  result.info = reader.info();
  VideoFrame frame;
  while (reader.read(frame)) {
    EXPECT_EQ(frame.index, int64_t(result.pts.size()));
    EXPECT_EQ(frame.time_base, result.info.time_base);
    result.pts.push_back(frame.pts);
    if (keep_pixels) {
      const size_t row = size_t(frame.width) * frame.channels;
      std::vector<uint8_t> packed(row * frame.height);
      for (int y = 0; y < frame.height; ++y) {
        std::copy_n(frame.data + frame.stride * y, row, packed.data() + row * y);
      }
      result.pixels.push_back(std::move(packed));
    }
  }
  result.corrupt = reader.corrupt_packets().size();
  return result;
}

// pts of one time base expressed in another (exact when representable).
std::vector<int64_t> rescale(const std::vector<int64_t>& pts, Rational from, Rational to) {
  std::vector<int64_t> out;
  for (int64_t value : pts) {
    out.push_back(av_rescale_q(value, AVRational{from.num, from.den}, AVRational{to.num, to.den}));
  }
  return out;
}

// Copies the first `count` frames of `input` to `output` with their pts (and the audio).
void copy_frames(const std::string& input, const std::string& output, int64_t count,
                 bool with_audio, std::vector<std::string>* warnings = nullptr,
                 const std::string& preset = "veryfast") {
  VideoReader reader(input, {.threads = 2});
  const VideoInfo& info = reader.info();
  VideoWriterOptions options{.width = info.width,
                             .height = info.height,
                             .time_base = info.time_base,
                             .frame_rate = info.frame_rate,
                             .preset = preset,
                             .threads = 2};
  if (with_audio) options.audio_source = input;
  options.warn = [warnings](const std::string& message) {
    if (warnings) warnings->push_back(message);
  };
  VideoWriter writer(output, options);
  VideoFrame frame;
  for (int64_t i = 0; i < count && reader.read(frame); ++i) {
    writer.write(frame.data, frame.stride, frame.pts);
  }
  writer.finish();
}

struct AudioPackets {
  Rational time_base;
  std::vector<std::vector<uint8_t>> data;
  std::vector<int64_t> pts;
};

AudioPackets audio_packets(const std::string& path) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, ("file:" + path).c_str(), nullptr, nullptr) < 0) {
    throw std::runtime_error("cannot open " + path);
  }
  AvInputPtr input(opened);
  avformat_find_stream_info(opened, nullptr);
  const int index = av_find_best_stream(opened, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  AudioPackets result;
  if (index < 0) return result;
  result.time_base = {opened->streams[index]->time_base.num, opened->streams[index]->time_base.den};
  AvPacketPtr packet = make_av_packet();
  while (av_read_frame(opened, packet.get()) >= 0) {
    if (packet->stream_index == index) {
      result.data.emplace_back(packet->data, packet->data + packet->size);
      result.pts.push_back(packet->pts);
    }
    av_packet_unref(packet.get());
  }
  return result;
}

TEST(VideoReader, ReadsClipWithTimestampsAndMetadata) {
  VideoReader reader(clip, {.threads = 2});
  const VideoInfo& info = reader.info();
  EXPECT_EQ(info.width, 1280);
  EXPECT_EQ(info.height, 720);
  EXPECT_EQ(info.frame_count, 180);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(info.rotation, 0);
  EXPECT_FALSE(info.has_alpha);
  EXPECT_EQ(info.audio_stream_count, 1);
  EXPECT_NEAR(info.frame_rate.value(), 30.0, 0.01);
  EXPECT_NEAR(info.duration_seconds, 6.0, 0.1);

  VideoFrame frame;
  int64_t count = 0;
  int64_t previous = INT64_MIN;
  const uint8_t* buffer = nullptr;
  while (reader.read(frame)) {
    ASSERT_EQ(frame.width, 1280);
    ASSERT_EQ(frame.height, 720);
    ASSERT_EQ(frame.channels, 3);
    ASSERT_GE(frame.stride, 1280 * 3);
    EXPECT_GT(frame.pts, previous) << "frame " << count;
    EXPECT_FALSE(frame.pts_estimated);
    if (buffer) EXPECT_EQ(frame.data, buffer) << "the output buffer is reused";
    buffer = frame.data;
    previous = frame.pts;
    ++count;
  }
  EXPECT_EQ(count, 180);
  EXPECT_FALSE(reader.read(frame));  // stays at the end
  EXPECT_TRUE(reader.corrupt_packets().empty());
}

TEST(VideoReader, ReadsImageSequence) {
  const std::string dir = scratch_dir();
  run_ffmpeg(fmt::format("-i '{}' -frames:v 4 -vf scale=64:36 '{}/f%03d.png'", clip, dir));
  const Decoded decoded = decode_all(dir + "/f%03d.png");
  EXPECT_EQ(decoded.info.width, 64);
  EXPECT_EQ(decoded.info.height, 36);
  ASSERT_EQ(decoded.pts.size(), 4u);
  EXPECT_TRUE(std::is_sorted(decoded.pts.begin(), decoded.pts.end()));
}

TEST(VideoWriter, Mp4RoundTripKeepsPtsPixelsAndAudio) {
  const std::string dir = scratch_dir();
  const std::string output = dir + "/first30.mp4";
  copy_frames(clip, output, 30, true);

  const Decoded source = decode_all(clip, true);
  const Decoded copy = decode_all(output, true);
  ASSERT_EQ(copy.pts.size(), 30u);
  EXPECT_EQ(copy.info.width, 1280);
  EXPECT_EQ(copy.info.height, 720);
  const std::vector<int64_t> expected(source.pts.begin(), source.pts.begin() + 30);
  EXPECT_EQ(rescale(copy.pts, copy.info.time_base, source.info.time_base), expected);
  // Same colours back (BT.709 both ways), up to H.264 at crf 18.
  double total = 0;
  for (size_t i = 0; i < 30; ++i) {
    for (size_t j = 0; j < copy.pixels[i].size(); ++j) {
      total += std::abs(int(copy.pixels[i][j]) - int(source.pixels[i][j]));
    }
  }
  EXPECT_LT(total / (30.0 * copy.pixels[0].size()), 2.5);

  const AudioPackets source_audio = audio_packets(clip);
  const AudioPackets copied_audio = audio_packets(output);
  ASSERT_FALSE(copied_audio.data.empty()) << "no audio stream in the copy";
  // One second of 44.1 kHz AAC is about 43 packets.
  EXPECT_NEAR(double(copied_audio.data.size()), 43.0, 3.0);
  ASSERT_LE(copied_audio.data.size(), source_audio.data.size());
  for (size_t i = 0; i < copied_audio.data.size(); ++i) {
    EXPECT_EQ(copied_audio.data[i], source_audio.data[i]) << "audio packet " << i;
    EXPECT_EQ(av_rescale_q(copied_audio.pts[i],
                           {copied_audio.time_base.num, copied_audio.time_base.den},
                           {source_audio.time_base.num, source_audio.time_base.den}),
              source_audio.pts[i])
        << "audio packet " << i;
  }
  // Nothing but the final file is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(VideoWriter, VariableFrameRateKeepsExactPts) {
  const std::string dir = scratch_dir();
  const std::string vfr = dir + "/vfr.mp4";
  // Drop an irregular set of frames and keep the timestamps of the rest.
  run_ffmpeg(fmt::format(
      "-i '{}' -t 2 -an -vf \"scale=320:180,select='not(eq(mod(n\\,5)\\,2))*not(eq(mod(n\\,7)\\,3))'\" "
      "-fps_mode vfr -c:v libx264 -preset ultrafast '{}'",
      clip, vfr));
  const Decoded input = decode_all(vfr);
  ASSERT_GT(input.pts.size(), 30u);
  std::set<int64_t> gaps;
  for (size_t i = 1; i < input.pts.size(); ++i) gaps.insert(input.pts[i] - input.pts[i - 1]);
  ASSERT_GE(gaps.size(), 2u) << "the test input is not variable-rate";

  for (const char* extension : {".mp4", ".mov"}) {
    const std::string output = dir + "/copy" + extension;
    copy_frames(vfr, output, INT64_MAX, false);
    const Decoded copy = decode_all(output);
    EXPECT_EQ(rescale(copy.pts, copy.info.time_base, input.info.time_base), input.pts)
        << extension;
  }
}

// Frames of a moving gradient with an alpha pattern that has hard edges and soft ramps.
std::vector<uint8_t> rgba_frame(int width, int height, int index) {
  std::vector<uint8_t> pixels(size_t(width) * height * 4);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &pixels[(size_t(y) * width + x) * 4];
      p[0] = uint8_t(x * 4 + index * 7);
      p[1] = uint8_t(y * 5);
      p[2] = uint8_t(128 + (x - y) * 2);
      p[3] = x < width / 4 ? 0 : x < width / 2 ? 255 : uint8_t((x * 8 + y * 2 + index) & 0xff);
    }
  }
  return pixels;
}

void check_alpha_round_trip(const std::string& extension, double max_mean_error, int max_error) {
  const std::string dir = scratch_dir();
  const std::string output = dir + "/alpha" + extension;
  constexpr int width = 64, height = 48, frames = 5;
  VideoWriter writer(output, {.width = width,
                              .height = height,
                              .rgba = true,
                              .time_base = {1, 1000},
                              .frame_rate = {25, 1},
                              .threads = 2});
  std::vector<std::vector<uint8_t>> written;
  for (int i = 0; i < frames; ++i) {
    written.push_back(rgba_frame(width, height, i));
    writer.write(written.back().data(), width * 4, i * 40);
  }
  writer.finish();

  const Decoded copy = decode_all(output, true, true);
  EXPECT_TRUE(copy.info.has_alpha) << extension;
  ASSERT_EQ(copy.pixels.size(), size_t(frames));
  EXPECT_EQ(rescale(copy.pts, copy.info.time_base, {1, 1000}),
            (std::vector<int64_t>{0, 40, 80, 120, 160}));
  for (int i = 0; i < frames; ++i) {
    ASSERT_EQ(copy.pixels[i].size(), written[i].size()) << "no alpha channel decoded";
    double total = 0;
    int worst = 0;
    for (size_t p = 3; p < written[i].size(); p += 4) {
      const int error = std::abs(int(copy.pixels[i][p]) - int(written[i][p]));
      total += error;
      worst = std::max(worst, error);
    }
    EXPECT_LE(total / (width * height), max_mean_error) << extension << " frame " << i;
    EXPECT_LE(worst, max_error) << extension << " frame " << i;
  }
}

TEST(VideoWriter, ProRes4444KeepsAlpha) { check_alpha_round_trip(".mov", 0.5, 2); }
TEST(VideoWriter, Vp9KeepsAlpha) { check_alpha_round_trip(".webm", 4.0, 64); }

TEST(VideoWriter, OddSizeIsPaddedByRepeatingTheEdge) {
  const std::string dir = scratch_dir();
  const std::string output = dir + "/odd.mp4";
  constexpr int width = 33, height = 21;
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      p[0] = x == width - 1 ? 250 : 40;
      p[1] = y == height - 1 ? 250 : 40;
      p[2] = 90;
    }
  }
  VideoWriter writer(output, {.width = width, .height = height, .time_base = {1, 25}, .crf = 0});
  for (int i = 0; i < 3; ++i) writer.write(rgb.data(), width * 3, i);
  writer.finish();
  const Decoded copy = decode_all(output, true);
  EXPECT_EQ(copy.info.width, 34);
  EXPECT_EQ(copy.info.height, 22);
  ASSERT_EQ(copy.pixels.size(), 3u);
  const auto& frame = copy.pixels[0];
  const auto at = [&](int x, int y, int c) { return int(frame[(size_t(y) * 34 + x) * 3 + c]); };
  EXPECT_GT(at(33, 5, 0), 180);  // the repeated last column is red-heavy
  EXPECT_GT(at(5, 21, 1), 180);  // the repeated last row is green-heavy
  EXPECT_LT(at(5, 5, 0), 80);
}

TEST(VideoWriter, RotationIsWrittenAsDisplayMatrix) {
  const std::string dir = scratch_dir();
  for (int rotation : {90, 180, 270}) {
    const std::string output = dir + fmt::format("/rot{}.mp4", rotation);
    std::vector<uint8_t> rgb(32 * 16 * 3, 100);
    VideoWriter writer(output,
                       {.width = 32, .height = 16, .time_base = {1, 30}, .rotation = rotation});
    writer.write(rgb.data(), 32 * 3, 0);
    writer.finish();
    EXPECT_EQ(VideoReader(output).info().rotation, rotation);
  }
}

TEST(VideoWriter, AudioTheContainerCannotHoldIsSkippedWithWarning) {
  const std::string dir = scratch_dir();
  const std::string output = dir + "/noaudio.webm";
  std::vector<std::string> warnings;
  // Only 3 frames at full size in VP9 keep this quick.
  copy_frames(clip, output, 3, true, &warnings, "ultrafast");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("aac"), std::string::npos) << warnings[0];
  EXPECT_TRUE(audio_packets(output).data.empty());
  EXPECT_EQ(decode_all(output).pts.size(), 3u);
}

TEST(VideoWriter, UnfinishedWriterLeavesNothing) {
  const std::string dir = scratch_dir();
  {
    std::vector<uint8_t> rgb(32 * 16 * 3, 100);
    VideoWriter writer(dir + "/unfinished.mp4", {.width = 32, .height = 16, .time_base = {1, 30}});
    for (int i = 0; i < 3; ++i) writer.write(rgb.data(), 32 * 3, i);
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(VideoWriter, ErrorsNameThePath) {
  const std::string dir = scratch_dir();
  const std::string missing_folder = dir + "/no/such/folder/out.mp4";
  try {
    VideoWriter writer(missing_folder, {.width = 32, .height = 16, .time_base = {1, 30}});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(missing_folder), std::string::npos) << error.what();
  }
  const std::string unknown = dir + "/out.xyz";
  try {
    VideoWriter writer(unknown, {.width = 32, .height = 16, .time_base = {1, 30}});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(unknown), std::string::npos) << error.what();
  }
  std::vector<uint8_t> rgb(32 * 16 * 3, 100);
  VideoWriter writer(dir + "/order.mp4", {.width = 32, .height = 16, .time_base = {1, 30}});
  writer.write(rgb.data(), 32 * 3, 5);
  EXPECT_THROW(writer.write(rgb.data(), 32 * 3, 5), Error);  // pts must increase
}

void expect_read_error(const std::string& path) {
  try {
    VideoReader reader(path);
    FAIL() << "no error for " << path;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

TEST(VideoReader, ErrorsNameTheFile) {
  const std::string dir = scratch_dir();
  expect_read_error(dir + "/missing.mp4");
  const std::string text = dir + "/text.mp4";
  std::ofstream(text) << "this is not a video, just some text\n";
  expect_read_error(text);
  // A file with audio only has no video stream.
  const std::string audio_only = dir + "/audio.m4a";
  run_ffmpeg(fmt::format("-i '{}' -t 1 -vn -c:a copy '{}'", clip, audio_only));
  expect_read_error(audio_only);
}

TEST(VideoReader, TruncatedFileIsReadToItsEndOrRejected) {
  const std::string dir = scratch_dir();
  std::ifstream in(clip, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  for (double fraction : {0.05, 0.4, 0.77}) {
    const std::string truncated = dir + fmt::format("/cut{}.mp4", int(fraction * 100));
    std::ofstream(truncated, std::ios::binary)
        .write(bytes.data(), std::streamsize(double(bytes.size()) * fraction));
    try {
      const Decoded decoded = decode_all(truncated);
      EXPECT_LT(decoded.pts.size(), 180u) << truncated;
      EXPECT_TRUE(std::is_sorted(decoded.pts.begin(), decoded.pts.end()));
      std::printf("%s: %zu frames, %zu damaged packets\n", truncated.c_str(), decoded.pts.size(),
                  decoded.corrupt);
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(truncated), std::string::npos) << error.what();
      std::printf("%s: %s\n", truncated.c_str(), error.what());
    }
  }
}

}  // namespace
}  // namespace mattecast

namespace mattecast {
namespace {

// With the index (moov) first, a truncated or damaged file still opens: the reader decodes what
// is there, reports the damage and ends cleanly.
TEST(VideoReader, DamagedFastStartFileIsReadToTheEnd) {
  const std::string dir = scratch_dir();
  const std::string faststart = dir + "/faststart.mp4";
  run_ffmpeg(fmt::format("-i '{}' -c copy -movflags +faststart '{}'", clip, faststart));
  std::ifstream in(faststart, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};

  const std::string truncated = dir + "/truncated.mp4";
  std::ofstream(truncated, std::ios::binary)
      .write(bytes.data(), std::streamsize(bytes.size() * 6 / 10));
  const Decoded partial = decode_all(truncated);
  EXPECT_GT(partial.pts.size(), 30u);
  EXPECT_LT(partial.pts.size(), 180u);
  EXPECT_TRUE(std::is_sorted(partial.pts.begin(), partial.pts.end()));

  // Garbage over a stretch in the middle of the media data.
  const std::string damaged = dir + "/damaged.mp4";
  uint32_t state = 12345;
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 30000; ++i) {
    state = state * 1664525u + 1013904223u;
    bytes[i] = char(state >> 24);
  }
  std::ofstream(damaged, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  VideoReader reader(damaged, {.threads = 2});
  VideoFrame frame;
  int64_t frames = 0;
  while (reader.read(frame)) ++frames;
  EXPECT_GT(frames, 150);
  ASSERT_FALSE(reader.corrupt_packets().empty());
  for (const CorruptPacket& packet : reader.corrupt_packets()) {
    std::printf("damaged: pts %lld, byte %lld: %s\n", (long long)packet.pts,
                (long long)packet.byte_position, packet.message.c_str());
    EXPECT_TRUE(packet.pts >= 0 || packet.byte_position >= 0);
  }
}

}  // namespace
}  // namespace mattecast
