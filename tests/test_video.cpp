// Video reading and writing: timing kept exactly through a round trip, audio copied packet for
// packet (or re-encoded, in sync, where the container cannot hold it), alpha kept in ProRes 4444
// and VP9, gray mattes as video, PNG sequences (exact values, atomic, --force), image folders as
// input, and damaged or wrong inputs reported by name.
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

#include <unistd.h>

#include "io/av_handles.h"
#include "io/image.h"
#include "io/picture_decoder.h"
#include "mattecast/mattecast.h"
#include "video/frame_sink.h"
#include "video/image_sequence.h"
#include "video/video_reader.h"
#include "video/video_writer.h"

#include "media_helpers.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using namespace mattecast::testing;

const std::string clip = std::string(MATTECAST_SHARED_DIR) + "/media/video/liveportrait_s32.mp4";
// Clips with audible sound (the audio of liveportrait_s32 is digital silence). In openmpf_video_01
// the video starts 33 ms after the audio.
const std::string talking_clip =
    std::string(MATTECAST_SHARED_DIR) + "/media/video/liveportrait_s18.mp4";
const std::string offset_clip =
    std::string(MATTECAST_SHARED_DIR) + "/media/video/openmpf_video_01.mp4";

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
  const std::string dir = scratch_dir("video");
  ASSERT_TRUE(
      run_ffmpeg(fmt::format("-i '{}' -frames:v 4 -vf scale=64:36 '{}/f%03d.png'", clip, dir)));
  const Decoded decoded = decode_all(dir + "/f%03d.png");
  EXPECT_EQ(decoded.info.width, 64);
  EXPECT_EQ(decoded.info.height, 36);
  ASSERT_EQ(decoded.pts.size(), 4u);
  EXPECT_TRUE(std::is_sorted(decoded.pts.begin(), decoded.pts.end()));
}

// Matroska states the video's own length only as a tag; a longer audio track must not stand in.
TEST(VideoReader, MatroskaVideoDurationIsTheStreamsNotTheAudios) {
  const std::string dir = scratch_dir("video_reader_mkv");
  const std::string mkv = dir + "/short_video_long_audio.mkv";
  ASSERT_TRUE(run_ffmpeg(
      fmt::format("-f lavfi -i testsrc=size=64x36:rate=25:duration=2 -f lavfi -i sine=duration=3 "
                  "-c:v libx264 -c:a aac '{}'",
                  mkv)));
  VideoReader reader(mkv);
  EXPECT_TRUE(reader.info().duration_is_the_streams);
  EXPECT_NEAR(reader.info().duration_seconds, 2.0, 0.05);
  EXPECT_EQ(reader.info().audio_stream_count, 1);
}

TEST(VideoWriter, Mp4RoundTripKeepsPtsPixelsAndAudio) {
  const std::string dir = scratch_dir("video");
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
    EXPECT_EQ(
        av_rescale_q(copied_audio.pts[i], {copied_audio.time_base.num, copied_audio.time_base.den},
                     {source_audio.time_base.num, source_audio.time_base.den}),
        source_audio.pts[i])
        << "audio packet " << i;
  }
  // Nothing but the final file is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(VideoWriter, VariableFrameRateKeepsExactPts) {
  const std::string dir = scratch_dir("video");
  const std::string vfr = dir + "/vfr.mp4";
  // Drop an irregular set of frames and keep the timestamps of the rest.
  ASSERT_TRUE(run_ffmpeg(
      fmt::format("-i '{}' -t 2 -an -vf "
                  "\"scale=320:180,select='not(eq(mod(n\\,5)\\,2))*not(eq(mod(n\\,7)\\,3))'\" "
                  "-fps_mode vfr -c:v libx264 -preset ultrafast '{}'",
                  clip, vfr)));
  const Decoded input = decode_all(vfr);
  ASSERT_GT(input.pts.size(), 30u);
  std::set<int64_t> gaps;
  for (size_t i = 1; i < input.pts.size(); ++i) gaps.insert(input.pts[i] - input.pts[i - 1]);
  ASSERT_GE(gaps.size(), 2u) << "the test input is not variable-rate";

  for (const char* extension : {".mp4", ".mov"}) {
    const std::string output = dir + "/copy" + extension;
    copy_frames(vfr, output, INT64_MAX, false);
    const Decoded copy = decode_all(output);
    EXPECT_EQ(rescale(copy.pts, copy.info.time_base, input.info.time_base), input.pts) << extension;
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
  const std::string dir = scratch_dir("video");
  const std::string output = dir + "/alpha" + extension;
  constexpr int width = 64, height = 48, frames = 5;
  const std::unique_ptr<FrameSink> sink = open_frame_sink(output, {.width = width,
                                                                   .height = height,
                                                                   .layout = PixelLayout::rgba,
                                                                   .time_base = {1, 1000},
                                                                   .frame_rate = {25, 1},
                                                                   .threads = 2});
  std::vector<std::vector<uint8_t>> written;
  for (int i = 0; i < frames; ++i) {
    written.push_back(rgba_frame(width, height, i));
    sink->write(written.back().data(), width * 4, i * 40);
  }
  sink->finish();
  EXPECT_EQ(sink->frames_written(), frames);

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
  const std::string dir = scratch_dir("video");
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
  const std::string dir = scratch_dir("video");
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

TEST(VideoWriter, UnfinishedWriterLeavesNothing) {
  const std::string dir = scratch_dir("video");
  {
    std::vector<uint8_t> rgb(32 * 16 * 3, 100);
    VideoWriter writer(dir + "/unfinished.mp4", {.width = 32, .height = 16, .time_base = {1, 30}});
    for (int i = 0; i < 3; ++i) writer.write(rgb.data(), 32 * 3, i);
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(VideoWriter, ErrorsNameThePath) {
  const std::string dir = scratch_dir("video");
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
  const std::string dir = scratch_dir("video");
  expect_read_error(dir + "/missing.mp4");
  const std::string text = dir + "/text.mp4";
  std::ofstream(text) << "this is not a video, just some text\n";
  expect_read_error(text);
  // A file with audio only has no video stream.
  const std::string audio_only = dir + "/audio.m4a";
  ASSERT_TRUE(run_ffmpeg(fmt::format("-i '{}' -t 1 -vn -c:a copy '{}'", clip, audio_only)));
  expect_read_error(audio_only);
}

TEST(VideoReader, TruncatedFileIsReadToItsEndOrRejected) {
  const std::string dir = scratch_dir("video");
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
  const std::string dir = scratch_dir("video");
  const std::string faststart = dir + "/faststart.mp4";
  ASSERT_TRUE(
      run_ffmpeg(fmt::format("-i '{}' -c copy -movflags +faststart '{}'", clip, faststart)));
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

namespace mattecast {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers for the sinks, audio and image-folder tests.

// Every entry under `dir`, hidden ones included, relative to it.
std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    entries.insert(fs::relative(entry.path(), dir).string());
  }
  return entries;
}

// Deterministic pseudo-random bytes.
std::vector<uint8_t> random_bytes(size_t count, uint32_t seed) {
  std::vector<uint8_t> bytes(count);
  uint32_t state = seed * 2654435761u + 1;
  for (uint8_t& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = uint8_t(state >> 24);
  }
  return bytes;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part)                          \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' lacks '" << (part) << "'"

// Irregular (variable-rate) timestamps in 1/1000 s.
const std::vector<int64_t> irregular_pts = {0, 40, 73, 120, 200, 210, 250, 333, 400, 401, 480, 600};

void write_frames(FrameSink& sink, int width, int height, int channels,
                  const std::vector<int64_t>& pts,
                  std::vector<std::vector<uint8_t>>* written = nullptr) {
  for (size_t i = 0; i < pts.size(); ++i) {
    // Smooth content (a lossy codec keeps it), moving from frame to frame.
    std::vector<uint8_t> pixels(size_t(width) * height * channels);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        for (int c = 0; c < channels; ++c) {
          pixels[(size_t(y) * width + x) * channels + c] = uint8_t(x * 3 + y * 2 + c * 50 + i * 9);
        }
      }
    }
    sink.write(pixels.data(), ptrdiff_t(width) * channels, pts[i]);
    if (written) written->push_back(std::move(pixels));
  }
}

// ---------------------------------------------------------------------------------------------
// FrameSink: video files.

TEST(FrameSink, VideoFilesKeepIrregularPts) {
  const std::string dir = scratch_dir("video");
  for (const char* extension : {".mp4", ".mkv", ".mov", ".webm"}) {
    const std::string output = dir + "/vfr" + extension;
    EXPECT_FALSE(is_image_sequence_path(output));
    const auto sink = open_frame_sink(output, {.width = 64,
                                               .height = 48,
                                               .time_base = {1, 1000},
                                               .frame_rate = {20, 1},
                                               .preset = "ultrafast",
                                               .threads = 2});
    write_frames(*sink, 64, 48, 3, irregular_pts);
    EXPECT_EQ(sink->frames_written(), int64_t(irregular_pts.size()));
    sink->finish();
    EXPECT_EQ(sink->path(), output);
    std::printf("%s: %s\n", extension, sink->description().c_str());
    const Decoded decoded = decode_all(output);
    EXPECT_EQ(rescale(decoded.pts, decoded.info.time_base, {1, 1000}), irregular_pts) << extension;
  }
}

TEST(FrameSink, DescriptionsNameCodecAndAudio) {
  const std::string dir = scratch_dir("video");
  const auto mp4 = open_frame_sink(
      dir + "/a.mp4", {.width = 64, .height = 48, .time_base = {1, 25}, .audio_source = clip});
  EXPECT_EQ(mp4->description(), "H.264 (libx264) yuv420p, audio: aac copied");
  const auto mov = open_frame_sink(
      dir + "/a.mov",
      {.width = 64, .height = 48, .layout = PixelLayout::rgba, .time_base = {1, 25}});
  EXPECT_EQ(mov->description(), "ProRes 4444 (prores_ks) yuva444p10le");
  const auto matte = open_frame_sink(
      dir + "/m.mov",
      {.width = 64, .height = 48, .layout = PixelLayout::gray8, .time_base = {1, 25}});
  EXPECT_EQ(matte->description(), "ProRes 422 HQ (prores_ks) yuv422p10le, gray as luma");
  std::vector<std::string> warnings;
  const auto webm = open_frame_sink(dir + "/a.webm",
                                    {.width = 64,
                                     .height = 48,
                                     .layout = PixelLayout::rgba,
                                     .time_base = {1, 25},
                                     .audio_source = clip,
                                     .warn = [&](const std::string& w) { warnings.push_back(w); }});
  EXPECT_EQ(webm->description(), "VP9 (libvpx-vp9) yuva420p, audio: aac re-encoded to opus");
  EXPECT_EQ(warnings.size(), 1u);
  const auto png = open_frame_sink(
      dir + "/png/",
      {.width = 64, .height = 48, .layout = PixelLayout::gray16, .time_base = {1, 25}});
  EXPECT_EQ(png->description(), "PNG sequence, 16-bit gray");
  // Unfinished: nothing of them stays.
}

// An alpha matte as a video: luma = alpha (limited range), neutral chroma, so it decodes to
// R = G = B = alpha.
TEST(FrameSink, Gray8VideoDecodesToEqualRgb) {
  const std::string dir = scratch_dir("video");
  constexpr int width = 96, height = 32;  // 2 x 4 blocks of 24 x 16
  const int levels[] = {0, 1, 37, 128, 200, 254, 255, 90};
  std::vector<uint8_t> gray(size_t(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x)
      gray[size_t(y) * width + x] = uint8_t(levels[(y / 16) * 4 + x / 24]);
  }
  for (const char* extension : {".mp4", ".mov", ".webm", ".mkv"}) {
    const std::string output = dir + "/matte" + extension;
    const auto sink = open_frame_sink(output, {.width = width,
                                               .height = height,
                                               .layout = PixelLayout::gray8,
                                               .time_base = {1, 30},
                                               .threads = 2});
    for (int i = 0; i < 3; ++i) sink->write(gray.data(), width, i);
    sink->finish();
    const Decoded decoded = decode_all(output, true);
    ASSERT_EQ(decoded.pixels.size(), 3u) << extension;
    int worst = 0;
    for (const auto& frame : decoded.pixels) {
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          // Away from the block edges, where lossy coding may ring.
          if (y % 16 < 3 || y % 16 > 12 || x % 24 < 3 || x % 24 > 20) continue;
          const int expected = gray[size_t(y) * width + x];
          for (int c = 0; c < 3; ++c) {
            worst =
                std::max(worst, std::abs(int(frame[(size_t(y) * width + x) * 3 + c]) - expected));
          }
        }
      }
    }
    EXPECT_LE(worst, 2) << extension;
  }
}

TEST(FrameSink, Gray16VideoIsRefused) {
  const std::string dir = scratch_dir("video");
  const std::string output = dir + "/matte.mp4";
  const std::string error = error_of([&] {
    open_frame_sink(
        output, {.width = 64, .height = 48, .layout = PixelLayout::gray16, .time_base = {1, 30}});
  });
  EXPECT_CONTAINS(error, output);
  EXPECT_CONTAINS(error, "PNG");
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(FrameSink, UnknownExtensionIsRefused) {
  const std::string dir = scratch_dir("video");
  const std::string output = dir + "/frame.png";  // one PNG is not a sequence
  const std::string error = error_of([&] {
    open_frame_sink(output, {.width = 64, .height = 48, .time_base = {1, 30}});
  });
  EXPECT_CONTAINS(error, output);
  EXPECT_CONTAINS(error, "%05d");
  EXPECT_TRUE(fs::is_empty(dir));
}

// ---------------------------------------------------------------------------------------------
// FrameSink: PNG sequences.

TEST(ImageSequence, PathsAndNaming) {
  const std::string dir = scratch_dir("video");
  EXPECT_TRUE(is_image_sequence_path(dir));     // an existing folder
  EXPECT_TRUE(is_image_sequence_path("new/"));  // a folder to be
  EXPECT_TRUE(is_image_sequence_path("out/%05d.png"));
  EXPECT_TRUE(is_image_sequence_path("f_%d.png"));
  EXPECT_FALSE(is_image_sequence_path("out.mp4"));
  EXPECT_FALSE(is_image_sequence_path("100%.mp4"));
  EXPECT_FALSE(is_image_sequence_path("50%%_%s.mov"));

  const auto folder = parse_sequence_path("new/");
  ASSERT_TRUE(folder);
  EXPECT_EQ(folder->file_name(0), "000000.png");
  EXPECT_EQ(folder->file_name(1234567), "1234567.png");
  EXPECT_TRUE(folder->matches("000012.png"));
  EXPECT_TRUE(folder->matches("1234567.png"));
  EXPECT_FALSE(folder->matches("00012.png"));
  EXPECT_FALSE(folder->matches("000012.jpg"));
  EXPECT_FALSE(folder->matches("notes.txt"));

  const auto pattern = parse_sequence_path("out/a%%b_%05d.png");
  ASSERT_TRUE(pattern);
  EXPECT_EQ(pattern->folder, "out/");
  EXPECT_EQ(pattern->file_name(7), "a%b_00007.png");
  EXPECT_TRUE(pattern->matches("a%b_123456.png"));
  EXPECT_FALSE(pattern->matches("a%b_0007.png"));
  const auto plain = parse_sequence_path("f_%d.png");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->folder, ".");
  EXPECT_EQ(plain->file_name(7), "f_7.png");
  EXPECT_EQ(parse_sequence_path("f_%3d.png")->file_name(7), "f_007.png");  // as FFmpeg pads it

  for (const std::string bad : {"out/%d_%d.png", "out%d/x.png", "out/%05d.jpg", "out/%s_%d.png"}) {
    EXPECT_TRUE(is_image_sequence_path(bad)) << bad;
    const std::string error = error_of([&] { parse_sequence_path(bad); });
    EXPECT_CONTAINS(error, bad);
    EXPECT_CONTAINS(error_of([&] {
                      open_frame_sink(bad, {.width = 8, .height = 8, .time_base = {1, 25}});
                    }),
                    bad);
  }
}

// RGB, RGBA, 8- and 16-bit gray PNGs hold exactly what was written; odd sizes and padded rows.
TEST(ImageSequence, PngValuesAreExact) {
  const std::string dir = scratch_dir("video");
  constexpr int width = 33, height = 21, frames = 3;
  const std::vector<int64_t> pts = {0, 7, 30};
  for (const PixelLayout layout :
       {PixelLayout::rgb24, PixelLayout::rgba, PixelLayout::gray8, PixelLayout::gray16}) {
    const int bytes = bytes_per_pixel(layout);
    const ptrdiff_t stride = ptrdiff_t(width) * bytes + 5;  // padded (and odd) rows
    const std::string output = dir + fmt::format("/{}/", int(layout));
    const auto sink = open_frame_sink(
        output, {.width = width, .height = height, .layout = layout, .time_base = {1, 30}});
    EXPECT_EQ(sink->description(), std::string("PNG sequence, ") + to_string(layout));
    std::vector<std::vector<uint8_t>> written;
    for (int i = 0; i < frames; ++i) {
      written.push_back(random_bytes(size_t(stride) * height, uint32_t(i + 10 * int(layout))));
      sink->write(written.back().data(), stride, pts[i]);
    }
    EXPECT_FALSE(fs::exists(output)) << "nothing appears before finish()";
    sink->finish();
    EXPECT_EQ(tree(output), (std::set<std::string>{"000000.png", "000001.png", "000002.png"}));

    if (layout == PixelLayout::gray16) {
      for (int i = 0; i < frames; ++i) {
        install_av_log_capture();
        const AvFramePtr picture =
            decode_first_picture(output + fmt::format("{:06d}.png", i), "cannot read image");
        ASSERT_EQ(picture->format, AV_PIX_FMT_GRAY16BE);
        for (int y = 0; y < height; ++y) {
          for (int x = 0; x < width; ++x) {
            uint16_t expected;
            std::memcpy(&expected, &written[i][size_t(stride) * y + 2 * x], 2);
            const uint8_t* p = picture->data[0] + ptrdiff_t(picture->linesize[0]) * y + 2 * x;
            ASSERT_EQ((p[0] << 8) | p[1], expected) << "frame " << i << " at " << x << "," << y;
          }
        }
      }
      continue;
    }
    // Read back as a video (the folder); gray comes back as R = G = B.
    const Decoded decoded = decode_all(output, true, true);
    EXPECT_EQ(decoded.pts, (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(decoded.info.has_alpha, layout == PixelLayout::rgba);
    ASSERT_EQ(decoded.pixels.size(), size_t(frames));
    const int channels = layout == PixelLayout::rgba ? 4 : 3;
    for (int i = 0; i < frames; ++i) {
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          for (int c = 0; c < channels; ++c) {
            const uint8_t expected = written[i][size_t(stride) * y + size_t(x) * bytes +
                                                (layout == PixelLayout::gray8 ? 0 : c)];
            ASSERT_EQ(decoded.pixels[i][(size_t(y) * width + x) * channels + c], expected)
                << to_string(layout) << " frame " << i << " at " << x << "," << y << "," << c;
          }
        }
      }
    }
  }
}

TEST(ImageSequence, PatternNumbersFromZeroAndReadsBack) {
  const std::string dir = scratch_dir("video");
  const std::string pattern = dir + "/frames/alpha_%04d.png";
  const auto sink = open_frame_sink(
      pattern, {.width = 40, .height = 30, .layout = PixelLayout::gray8, .time_base = {1, 1000}});
  write_frames(*sink, 40, 30, 1, irregular_pts);
  sink->finish();
  std::set<std::string> expected;
  for (size_t i = 0; i < irregular_pts.size(); ++i) {
    expected.insert(fmt::format("frames/alpha_{:04d}.png", i));
  }
  expected.insert("frames");
  EXPECT_EQ(tree(dir), expected);
  // FFmpeg's image2 demuxer (the pattern) reads the frames back, numbered 0, 1, 2, ...
  VideoReader reader(pattern, {.threads = 1, .image_rate = {30, 1}});
  EXPECT_EQ(reader.info().time_base, (Rational{1, 30}));
  VideoFrame frame;
  std::vector<int64_t> pts;
  while (reader.read(frame)) pts.push_back(frame.pts);
  ASSERT_EQ(pts.size(), irregular_pts.size());
  for (size_t i = 0; i < pts.size(); ++i) EXPECT_EQ(pts[i], int64_t(i));
  // Pts must increase, as for a video.
  const auto again = open_frame_sink(
      dir + "/more/",
      {.width = 4, .height = 4, .layout = PixelLayout::gray8, .time_base = {1, 30}});
  std::vector<uint8_t> pixels(16, 7);
  again->write(pixels.data(), 4, 3);
  EXPECT_THROW(again->write(pixels.data(), 4, 3), Error);
}

// ---------------------------------------------------------------------------------------------
// FrameSink: existing outputs, unwritable folders, abandoned sinks.

TEST(FrameSink, ExistingVideoNeedsForce) {
  const std::string dir = scratch_dir("video");
  const std::string output = dir + "/out.mp4";
  std::ofstream(output) << "an earlier result";
  const std::string error = error_of([&] {
    open_frame_sink(output, {.width = 64, .height = 48, .time_base = {1, 30}});
  });
  EXPECT_CONTAINS(error, output);
  EXPECT_CONTAINS(error, "--force");
  EXPECT_EQ(tree(dir), (std::set<std::string>{"out.mp4"}));

  const auto sink = open_frame_sink(
      output,
      {.width = 64, .height = 48, .time_base = {1, 30}, .preset = "ultrafast", .overwrite = true});
  write_frames(*sink, 64, 48, 3, {0, 1, 2});
  sink->finish();
  EXPECT_EQ(decode_all(output).pts.size(), 3u);
  EXPECT_EQ(tree(dir), (std::set<std::string>{"out.mp4"}));
}

TEST(FrameSink, ExistingFramesNeedForce) {
  const std::string dir = scratch_dir("video");
  const std::string folder = dir + "/alpha";
  fs::create_directories(folder);
  std::ofstream(folder + "/notes.txt") << "keep me";
  // A folder without frames of our naming is fine without --force, and other files stay.
  {
    const auto sink = open_frame_sink(
        folder, {.width = 8, .height = 8, .layout = PixelLayout::gray8, .time_base = {1, 30}});
    write_frames(*sink, 8, 8, 1, {0, 1, 2, 3});
    sink->finish();
  }
  EXPECT_EQ(tree(folder), (std::set<std::string>{"notes.txt", "000000.png", "000001.png",
                                                 "000002.png", "000003.png"}));
  // Now it holds frames: refused without --force, before anything is written.
  const std::string error = error_of([&] {
    open_frame_sink(folder + "/",
                    {.width = 8, .height = 8, .layout = PixelLayout::gray8, .time_base = {1, 30}});
  });
  EXPECT_CONTAINS(error, folder);
  EXPECT_CONTAINS(error, "--force");
  // With --force a shorter sequence replaces the frames and leaves no stale ones.
  {
    const auto sink = open_frame_sink(folder, {.width = 8,
                                               .height = 8,
                                               .layout = PixelLayout::gray8,
                                               .time_base = {1, 30},
                                               .overwrite = true});
    write_frames(*sink, 8, 8, 1, {0, 1});
    sink->finish();
  }
  EXPECT_EQ(tree(folder), (std::set<std::string>{"notes.txt", "000000.png", "000001.png"}));
  std::ifstream notes(folder + "/notes.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(notes), {}), "keep me");
  EXPECT_EQ(decode_all(folder).pts.size(), 2u);

  // A pattern looks for its own names only.
  const std::string pattern = folder + "/m_%03d.png";
  {
    const auto sink = open_frame_sink(
        pattern, {.width = 8, .height = 8, .layout = PixelLayout::gray8, .time_base = {1, 30}});
    write_frames(*sink, 8, 8, 1, {0});
    sink->finish();
  }
  EXPECT_TRUE(fs::exists(folder + "/m_000.png"));
  EXPECT_CONTAINS(
      error_of([&] {
        open_frame_sink(
            pattern, {.width = 8, .height = 8, .layout = PixelLayout::gray8, .time_base = {1, 30}});
      }),
      "--force");
}

TEST(FrameSink, UnwritableFolderIsNamed) {
  const std::string dir = scratch_dir("video");
  // A "folder" that is a file: nothing can be created in it, even by root.
  const std::string file = dir + "/plain_file";
  std::ofstream(file) << "not a folder";
  for (const std::string output : {file + "/out.mp4", file + "/frames/", file + "/a/%03d.png"}) {
    const std::string error = error_of([&] {
      open_frame_sink(output, {.width = 8, .height = 8, .time_base = {1, 30}});
    });
    EXPECT_CONTAINS(error, output);
    EXPECT_CONTAINS(error, file);
  }
  // A read-only folder (root may write anyway).
  const std::string locked = dir + "/locked";
  fs::create_directories(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  if (geteuid() != 0) {
    for (const std::string output : {locked + "/out.mov", locked + "/frames/", locked}) {
      const std::string error = error_of([&] {
        open_frame_sink(output, {.width = 8, .height = 8, .time_base = {1, 30}});
      });
      EXPECT_CONTAINS(error, locked);
    }
  }
  fs::permissions(locked, fs::perms::owner_all);
  EXPECT_EQ(tree(dir), (std::set<std::string>{"plain_file", "locked"}));
}

TEST(FrameSink, AbandonedSinksLeaveNothing) {
  const std::string dir = scratch_dir("video");
  fs::create_directories(dir + "/existing");
  std::ofstream(dir + "/existing/other.txt") << "x";
  const std::set<std::string> before = tree(dir);
  for (const std::string output :
       {dir + "/a.mp4", dir + "/a.webm", dir + "/new/deeper/frames/", dir + "/existing",
        dir + "/existing/f_%02d.png", dir + "/p/q_%d.png"}) {
    const auto sink = open_frame_sink(output, {.width = 16,
                                               .height = 16,
                                               .layout = PixelLayout::rgba,
                                               .time_base = {1, 30},
                                               .audio_source = clip});
    write_frames(*sink, 16, 16, 4, {0, 1, 2});
    EXPECT_EQ(sink->frames_written(), 3);
  }
  EXPECT_EQ(tree(dir), before);
}

// ---------------------------------------------------------------------------------------------
// Audio: copied unchanged where the container can hold it, else re-encoded in sync.

TEST(VideoWriter, AudioIsCopiedUnchangedIntoMp4MovAndMkv) {
  const std::string dir = scratch_dir("video");
  const AudioPackets source_audio = audio_packets(talking_clip);
  const Decoded source_video = decode_all(talking_clip);
  for (const char* extension : {".mp4", ".mov", ".mkv"}) {
    const std::string output = dir + "/copy" + extension;
    std::vector<std::string> warnings;
    copy_frames(talking_clip, output, 30, true, &warnings, "ultrafast");
    EXPECT_TRUE(warnings.empty()) << warnings[0];
    const AudioPackets copied = audio_packets(output);
    // One second of 44.1 kHz AAC is about 43 packets.
    EXPECT_NEAR(double(copied.data.size()), 43.0, 3.0) << extension;
    ASSERT_LE(copied.data.size(), source_audio.data.size());
    // Matroska cannot store the negative pts of the AAC priming packet and shifts the whole file
    // (video too) by that much; the audio keeps its place relative to the video.
    const Decoded video = decode_all(output);
    ASSERT_FALSE(video.pts.empty());
    const double shift = double(video.pts[0]) * video.info.time_base.value() -
                         double(source_video.pts[0]) * source_video.info.time_base.value();
    const double source_first = double(source_audio.pts[0]) * source_audio.time_base.value();
    const double expected_shift =
        extension == std::string(".mkv") ? std::max(0.0, -source_first) : 0;
    EXPECT_NEAR(shift, expected_shift, 0.0011) << extension;
    for (size_t i = 0; i < copied.data.size(); ++i) {
      EXPECT_EQ(copied.data[i], source_audio.data[i]) << extension << " audio packet " << i;
      const double copied_seconds = double(copied.pts[i]) * copied.time_base.value();
      const double source_seconds = double(source_audio.pts[i]) * source_audio.time_base.value();
      // Matroska stores milliseconds.
      EXPECT_NEAR(copied_seconds - shift, source_seconds, 0.0011)
          << extension << " audio packet " << i;
    }
  }
}

struct AudioStreamInfo {
  std::string codec;
  double start = 0;     // seconds
  double duration = 0;  // from the first packet's start to the last one's end, seconds
  int sample_rate = 0;
};

AudioStreamInfo audio_stream_info(const std::string& path) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, ("file:" + path).c_str(), nullptr, nullptr) < 0) {
    throw std::runtime_error("cannot open " + path);
  }
  AvInputPtr input(opened);
  avformat_find_stream_info(opened, nullptr);
  const int index = av_find_best_stream(opened, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  AudioStreamInfo info;
  if (index < 0) return info;
  const AVStream* stream = opened->streams[index];
  info.codec = avcodec_get_name(stream->codecpar->codec_id);
  info.sample_rate = stream->codecpar->sample_rate;
  AvPacketPtr packet = make_av_packet();
  int64_t first = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE;
  while (av_read_frame(opened, packet.get()) >= 0) {
    if (packet->stream_index == index && packet->pts != AV_NOPTS_VALUE) {
      if (first == AV_NOPTS_VALUE) first = packet->pts;
      end = std::max(end == AV_NOPTS_VALUE ? packet->pts : end, packet->pts + packet->duration);
    }
    av_packet_unref(packet.get());
  }
  if (first != AV_NOPTS_VALUE) {
    info.start = double(first) * av_q2d(stream->time_base);
    info.duration = double(end - first) * av_q2d(stream->time_base);
  }
  return info;
}

// The first audio stream of `path` as a player hears it along the video: decoded by the ffmpeg
// CLI (codec delays and edit lists applied) to mono 48 kHz on the file's own timeline (-copyts;
// silence before the first sample), then cut to start at the first video frame.
std::vector<int16_t> audio_from_first_frame(const std::string& path, const std::string& raw) {
  EXPECT_TRUE(run_ffmpeg(
      fmt::format("-copyts -i '{}' -map 0:a:0 -af aresample=48000:first_pts=0 -ac 1 -f s16le '{}'",
                  path, raw)));
  std::ifstream in(raw, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  std::vector<int16_t> samples(bytes.size() / 2);
  std::memcpy(samples.data(), bytes.data(), samples.size() * 2);
  const Decoded video = decode_all(path);
  const auto first_frame =
      size_t(std::lround(double(video.pts.at(0)) * video.info.time_base.value() * 48000));
  samples.erase(samples.begin(), samples.begin() + std::min(first_frame, samples.size()));
  return samples;
}

// The shift (in samples) that best aligns `copy` with `source`, and how well (correlation).
std::pair<int, double> best_lag(const std::vector<int16_t>& source,
                                const std::vector<int16_t>& copy, size_t begin, size_t length,
                                int max_lag) {
  int best = 0;
  double best_correlation = -2;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double sum_ab = 0, sum_aa = 0, sum_bb = 0;
    for (size_t i = begin; i < begin + length; ++i) {
      const double a = source.at(i), b = copy.at(size_t(int64_t(i) + lag));
      sum_ab += a * b;
      sum_aa += a * a;
      sum_bb += b * b;
    }
    const double correlation = sum_ab / std::sqrt(sum_aa * sum_bb + 1e-9);
    if (correlation > best_correlation) best_correlation = correlation, best = lag;
  }
  return {best, best_correlation};
}

TEST(VideoWriter, AacIsReencodedToOpusForWebm) {
  const std::string dir = scratch_dir("video");
  // 640x480 with the video starting 33 ms after the audio.
  const std::string& source_path = offset_clip;
  const std::string output = dir + "/out.webm";
  std::vector<std::string> warnings;
  copy_frames(source_path, output, 30, true, &warnings, "ultrafast");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_CONTAINS(warnings[0], "aac");
  EXPECT_CONTAINS(warnings[0], "opus");
  EXPECT_CONTAINS(warnings[0], "audio stream 1");
  std::printf("%s\n", warnings[0].c_str());

  const Decoded video = decode_all(output);
  ASSERT_EQ(video.pts.size(), 30u);
  EXPECT_EQ(video.info.audio_stream_count, 1);
  const AudioStreamInfo audio = audio_stream_info(output);
  EXPECT_EQ(audio.codec, "opus");
  EXPECT_EQ(audio.sample_rate, 48000);
  // The WebM muxer moves the whole file 7 ms later to make room for the 312 samples (6.5 ms) of
  // Opus priming before 0, and the demuxer takes the priming back off the audio only, so on the
  // video's timeline the audio comes 6.5 ms early: FFmpeg's doing (the ffmpeg CLI's WebM files
  // have it too), far below what anyone notices (lip sync needs some 45 ms).
  constexpr double opus_shift = 0.0065;
  const double video_start = double(video.pts[0]) * video.info.time_base.value();
  EXPECT_NEAR(video_start, 0.0334 + opus_shift, 0.001);
  // The source's audio starts 33 ms before its video; the copy's too (its first packet also
  // holds the priming).
  EXPECT_NEAR(audio.start + opus_shift, 0.0, 0.001);
  // Up to the end of the 30th frame (the packets' span also counts the priming).
  const double video_end = video_start + 30 * 1001.0 / 30000;
  EXPECT_NEAR(audio.start + audio.duration, video_end + 2 * opus_shift, 0.002);

  // In sync with the video: the decoded Opus lines up with the decoded source when both are
  // placed on their video's timeline.
  const std::vector<int16_t> source = audio_from_first_frame(source_path, dir + "/source.raw");
  const std::vector<int16_t> copy = audio_from_first_frame(output, dir + "/copy.raw");
  EXPECT_NEAR(double(copy.size()), 48000.0 * (30 * 1001.0 / 30000 - opus_shift), 48 * 2);
  const auto [lag, correlation] = best_lag(source, copy, 9600, 24000, 2400);
  std::printf("opus vs source: lag %d samples, correlation %.4f\n", lag, correlation);
  EXPECT_LE(std::abs(lag + 312), 48);  // the 6.5 ms, within 1 ms
  EXPECT_GT(correlation, 0.8);         // Opus does not keep the waveform of the crowd noise exactly
}

TEST(VideoWriter, PcmIsReencodedToAacForMp4) {
  const std::string dir = scratch_dir("video");
  const std::string pcm = dir + "/pcm.mkv";
  // 2 s of video; PCM audio at 48 kHz from 0.25 s to 3.25 s (its start offset must survive, and it
  // must be cut where the video ends).
  ASSERT_TRUE(run_ffmpeg(
      fmt::format("-t 2 -i '{0}' -itsoffset 0.25 -t 3 -i '{0}' -map 0:v -map 1:a -vf scale=160:90 "
                  "-c:v libx264 -preset ultrafast -af aresample=48000 -c:a pcm_s16le '{1}'",
                  talking_clip, pcm)));
  ASSERT_EQ(audio_stream_info(pcm).codec, "pcm_s16le");
  const std::string output = dir + "/out.mp4";
  std::vector<std::string> warnings;
  copy_frames(pcm, output, INT64_MAX, true, &warnings, "ultrafast");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_CONTAINS(warnings[0], "pcm_s16le");
  EXPECT_CONTAINS(warnings[0], "aac");
  std::printf("%s\n", warnings[0].c_str());

  const Decoded video = decode_all(output);
  ASSERT_EQ(video.pts.size(), 60u);
  EXPECT_EQ(video.pts[0], 0);
  const AudioStreamInfo source_audio = audio_stream_info(pcm);
  EXPECT_NEAR(source_audio.start, 0.25, 0.001);
  const AudioStreamInfo audio = audio_stream_info(output);
  EXPECT_EQ(audio.codec, "aac");
  EXPECT_EQ(audio.sample_rate, 48000);
  // Silence from the first video frame to the audio's start, led by the encoder's 1024 priming
  // samples, which the MP4 edit list hides; cut where the video ends (to 1 ms: the Matroska
  // source gives the video's pts in milliseconds, the last frame 1967 + 34 ms).
  EXPECT_NEAR(audio.start, -1024 / 48000.0, 0.0001);
  EXPECT_NEAR(audio.start + audio.duration, 2.0, 0.0011);

  // In sync with the video, to the sample, from the start to the end.
  const std::vector<int16_t> source = audio_from_first_frame(pcm, dir + "/source.raw");
  const std::vector<int16_t> copy = audio_from_first_frame(output, dir + "/copy.raw");
  // Players decode the last AAC frame whole (FFmpeg's MP4 demuxer does not signal the encoder's
  // padding at the end), so up to 1024 samples of silence follow.
  EXPECT_GE(copy.size(), size_t(2 * 48000));
  EXPECT_LE(copy.size(), size_t(2 * 48000 + 1024));
  const int silent = int(std::count_if(copy.begin(), copy.begin() + 11000,
                                       [](int16_t s) { return std::abs(s) > 100; }));
  EXPECT_EQ(silent, 0) << "the first 0.23 s are silence";
  for (size_t begin : {size_t(24000), size_t(48000), size_t(80000)}) {
    const auto [lag, correlation] = best_lag(source, copy, begin, 12000, 1200);
    std::printf("aac vs pcm at %zu: lag %d samples, correlation %.4f\n", begin, lag, correlation);
    EXPECT_EQ(lag, 0);
    EXPECT_GT(correlation, 0.95);
  }
}

// Audio FFmpeg can store but not decode (MPEG-H 3D audio, in MOV) cannot be re-encoded.
TEST(VideoWriter, UndecodableAudioIsSkippedWithWarning) {
  const std::string dir = scratch_dir("video");
  const std::string source = dir + "/mpegh.mov";
  {
    AVFormatContext* muxer = nullptr;
    ASSERT_GE(avformat_alloc_output_context2(&muxer, nullptr, "mov", source.c_str()), 0);
    AVStream* stream = avformat_new_stream(muxer, nullptr);
    stream->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    stream->codecpar->codec_id = AV_CODEC_ID_MPEGH_3D_AUDIO;
    stream->codecpar->sample_rate = 48000;
    stream->codecpar->frame_size = 1024;
    av_channel_layout_default(&stream->codecpar->ch_layout, 1);
    stream->time_base = {1, 48000};
    ASSERT_GE(avio_open(&muxer->pb, source.c_str(), AVIO_FLAG_WRITE), 0);
    ASSERT_GE(avformat_write_header(muxer, nullptr), 0);
    AvPacketPtr packet = make_av_packet();
    for (int i = 0; i < 10; ++i) {
      ASSERT_GE(av_new_packet(packet.get(), 100), 0);
      std::memset(packet->data, i, 100);
      packet->pts = packet->dts = i * 1024;
      packet->duration = 1024;
      packet->stream_index = 0;
      ASSERT_GE(av_write_frame(muxer, packet.get()), 0);
      av_packet_unref(packet.get());
    }
    av_write_trailer(muxer);
    avio_closep(&muxer->pb);
    avformat_free_context(muxer);
  }
  ASSERT_EQ(audio_stream_info(source).codec, "mpegh_3d_audio");

  const std::string output = dir + "/out.mkv";  // Matroska cannot hold it
  std::vector<std::string> warnings;
  const auto sink =
      open_frame_sink(output, {.width = 32,
                               .height = 16,
                               .time_base = {1, 25},
                               .audio_source = source,
                               .warn = [&](const std::string& w) { warnings.push_back(w); }});
  ASSERT_EQ(warnings.size(), 1u);
  std::printf("%s\n", warnings[0].c_str());
  EXPECT_CONTAINS(warnings[0], "mpegh_3d_audio");
  EXPECT_CONTAINS(warnings[0], "skipped");
  EXPECT_CONTAINS(warnings[0], source);
  EXPECT_EQ(sink->description(), "H.264 (libx264) yuv420p, audio skipped");
  write_frames(*sink, 32, 16, 3, {0, 1, 2});
  sink->finish();
  EXPECT_EQ(decode_all(output).pts.size(), 3u);
  EXPECT_TRUE(audio_packets(output).data.empty());
}

// ---------------------------------------------------------------------------------------------
// Image folders as input.

void write_gray_png(const std::string& path, int width, int height, uint8_t value) {
  std::vector<uint8_t> gray(size_t(width) * height, value);
  write_png_gray8(path, gray.data(), width, height, width);
}

TEST(VideoReader, ReadsImageFolderInNaturalOrder) {
  const std::string dir = scratch_dir("video");
  // Names whose natural order (1, 2, 9, 10, 11) differs from the plain one.
  const std::vector<std::pair<std::string, uint8_t>> images = {{"frame10.png", 40},
                                                               {"frame2.png", 20},
                                                               {"frame1.png", 10},
                                                               {"frame9.png", 30},
                                                               {"frame11.png", 50}};
  for (const auto& [name, value] : images) write_gray_png(dir + "/" + name, 24, 16, value);
  std::ofstream(dir + "/readme.txt") << "not an image";

  VideoReader reader(dir, {.threads = 1, .image_rate = {30000, 1001}});
  const VideoInfo& info = reader.info();
  EXPECT_EQ(info.width, 24);
  EXPECT_EQ(info.height, 16);
  EXPECT_EQ(info.frame_count, 5);
  EXPECT_EQ(info.time_base, (Rational{1001, 30000}));
  EXPECT_EQ(info.frame_rate, (Rational{30000, 1001}));
  EXPECT_EQ(info.audio_stream_count, 0);
  EXPECT_FALSE(info.has_alpha);
  VideoFrame frame;
  std::vector<int> values;
  const uint8_t* buffer = nullptr;
  while (reader.read(frame)) {
    EXPECT_EQ(frame.pts, int64_t(values.size()));
    EXPECT_EQ(frame.index, int64_t(values.size()));
    EXPECT_EQ(frame.time_base, info.time_base);
    EXPECT_EQ(frame.channels, 3);
    if (buffer) EXPECT_EQ(frame.data, buffer) << "the output buffer is reused";
    buffer = frame.data;
    values.push_back(frame.data[0]);
  }
  EXPECT_EQ(values, (std::vector<int>{10, 20, 30, 40, 50}));
  EXPECT_FALSE(reader.read(frame));
  // The default rate is 25 fps.
  EXPECT_EQ(VideoReader(dir).info().time_base, (Rational{1, 25}));
}

TEST(VideoReader, ImageFolderKeepsAlphaAndRoundsDeepImages) {
  const std::string dir = scratch_dir("video");
  const std::string rgba_dir = dir + "/rgba";
  fs::create_directories(rgba_dir);
  const std::vector<uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 4};
  write_png_rgba(rgba_dir + "/a.png", rgba.data(), 2, 2, 8);
  const Decoded with_alpha = decode_all(rgba_dir, true, true);
  EXPECT_TRUE(with_alpha.info.has_alpha);
  ASSERT_EQ(with_alpha.pixels.size(), 1u);
  EXPECT_EQ(with_alpha.pixels[0], rgba);
  const Decoded without_alpha = decode_all(rgba_dir, true, false);
  EXPECT_EQ(without_alpha.pixels[0],
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3}));

  // 16-bit gray: rounded to the nearest 8-bit value, exactly.
  const std::string deep_dir = dir + "/deep";
  fs::create_directories(deep_dir);
  const std::vector<uint16_t> deep = {0, 128, 129, 257 * 100 + 128, 257 * 100 + 129, 65535};
  write_png_gray16(deep_dir + "/d.png", deep.data(), 6, 1, 12);
  const Decoded rounded = decode_all(deep_dir, true);
  ASSERT_EQ(rounded.pixels.size(), 1u);
  for (size_t i = 0; i < deep.size(); ++i) {
    const int expected = int(std::lround(deep[i] / 257.0));
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rounded.pixels[0][i * 3 + c], expected) << deep[i];
  }
}

TEST(VideoReader, ImageFolderErrorsNameTheImage) {
  const std::string dir = scratch_dir("video");
  const std::string sizes = dir + "/sizes";
  fs::create_directories(sizes);
  write_gray_png(sizes + "/001.png", 24, 16, 1);
  write_gray_png(sizes + "/002.png", 24, 16, 2);
  write_gray_png(sizes + "/003.png", 24, 18, 3);
  {
    VideoReader reader(sizes);
    VideoFrame frame;
    EXPECT_TRUE(reader.read(frame));
    EXPECT_TRUE(reader.read(frame));
    const std::string error = error_of([&] { reader.read(frame); });
    EXPECT_CONTAINS(error, sizes + "/003.png");
    EXPECT_CONTAINS(error, "24x18");
  }

  const std::string corrupt = dir + "/corrupt";
  fs::create_directories(corrupt);
  write_gray_png(corrupt + "/a1.png", 24, 16, 1);
  std::ofstream(corrupt + "/a2.png") << "not a PNG at all";
  {
    VideoReader reader(corrupt);
    VideoFrame frame;
    EXPECT_TRUE(reader.read(frame));
    EXPECT_CONTAINS(error_of([&] { reader.read(frame); }), corrupt + "/a2.png");
  }
  // The first image is read when the folder is opened.
  fs::remove(corrupt + "/a1.png");
  EXPECT_CONTAINS(error_of([&] { VideoReader reader(corrupt); }), corrupt + "/a2.png");

  const std::string empty = dir + "/empty";
  fs::create_directories(empty);
  EXPECT_CONTAINS(error_of([&] { VideoReader reader(empty); }), empty);
}

}  // namespace
}  // namespace mattecast
