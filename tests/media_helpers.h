// Test helpers for media files: scratch folders, ffmpeg-made inputs, decoding everything back.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

extern "C" {
#include <libavformat/avformat.h>
}

#include "io/av_handles.h"
#include "video/video_reader.h"

namespace mattecast::testing {

namespace fs = std::filesystem;

// A fresh folder named after the running test and the tier it is forced to, under the build's
// tmp folder: ctest runs the same test at several tiers side by side.
inline std::string scratch_dir(const std::string& area) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* tier = std::getenv("MATTECAST_ISA");
  fs::path dir = fs::path(MATTECAST_TEST_TMP) / area /
                 fmt::format("{}.{}{}{}", test->test_suite_name(), test->name(),
                             tier && *tier ? "." : "", tier ? tier : "");
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// A fresh folder for a test suite's shared inputs, one per process: ctest may run a suite's tests
// side by side, each in its own process.
inline std::string process_inputs_dir(const std::string& name) {
  fs::path dir = fs::path(MATTECAST_TEST_TMP) / fmt::format("{}_{}", name, getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// Runs the ffmpeg command-line tool (inputs for tests are made with it); true on success.
inline bool run_ffmpeg(const std::string& arguments) {
  const std::string command = "ffmpeg -nostdin -y -v error " + arguments;
  return std::system(command.c_str()) == 0;
}

struct Decoded {
  VideoInfo info;
  std::vector<int64_t> pts;
  std::vector<std::vector<uint8_t>> pixels;  // packed rows, only when asked for
  int channels = 0;
  size_t corrupt = 0;  // damaged packets the reader skipped
};

inline Decoded decode_all(const std::string& path, bool keep_pixels = false,
                          bool keep_alpha = false) {
  VideoReader reader(path, {.threads = 2, .keep_alpha = keep_alpha});
  Decoded result;
  result.info = reader.info();
  VideoFrame frame;
  while (reader.read(frame)) {
    EXPECT_EQ(frame.index, int64_t(result.pts.size()));
    EXPECT_EQ(frame.time_base, result.info.time_base);
    result.pts.push_back(frame.pts);
    result.channels = frame.channels;
    if (keep_pixels) {
      const size_t row = size_t(frame.width) * frame.channels;
      std::vector<uint8_t> packed(row * frame.height);
      for (int y = 0; y < frame.height; ++y)
        std::copy_n(frame.data + frame.stride * y, row, packed.data() + row * y);
      result.pixels.push_back(std::move(packed));
    }
  }
  result.corrupt = reader.corrupt_packets().size();
  return result;
}

// pts of one time base expressed in another (exact when representable).
inline std::vector<int64_t> rescale(const std::vector<int64_t>& pts, Rational from, Rational to) {
  std::vector<int64_t> out;
  for (int64_t value : pts)
    out.push_back(av_rescale_q(value, AVRational{from.num, from.den}, AVRational{to.num, to.den}));
  return out;
}

struct AudioPackets {
  std::string codec;
  Rational time_base;
  std::vector<std::vector<uint8_t>> data;
  std::vector<int64_t> pts;
};

// The packets of the first audio stream (empty when there is none).
inline AudioPackets audio_packets(const std::string& path) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, ("file:" + path).c_str(), nullptr, nullptr) < 0)
    throw std::runtime_error("cannot open " + path);
  AvInputPtr input(opened);
  avformat_find_stream_info(opened, nullptr);
  const int index = av_find_best_stream(opened, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  AudioPackets result;
  if (index < 0) return result;
  const AVStream* stream = opened->streams[index];
  result.codec = avcodec_get_name(stream->codecpar->codec_id);
  result.time_base = {stream->time_base.num, stream->time_base.den};
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

}  // namespace mattecast::testing
