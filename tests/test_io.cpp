// Image, NumPy and atomic-file I/O. Pixel checks decode PNGs a second way, straight through
// libavcodec into the file's own pixel format, so alpha and 16-bit samples are seen exactly.
#include <gtest/gtest.h>

extern "C" {
#include <libavutil/imgutils.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/av_handles.h"
#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;

const std::string shared_dir = MATTECAST_SHARED_DIR;
const std::string golden_dir = shared_dir + "/golden/rvm_mobilenetv3/640x360_ds0.5";

// A fresh folder per test, so tests can run in parallel processes.
std::string scratch_dir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MATTECAST_TEST_TMP) / "io" /
                 fmt::format("{}.{}", test->test_suite_name(), test->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), std::streamsize(size));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, text.data(), text.size());
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  return names;
}

// Expects `action` to throw mattecast::Error whose message names `path`.
void expect_error_naming(const std::string& path, const std::function<void()>& action) {
  try {
    action();
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

// ---- A second decoder: libavcodec straight into the file's own pixel format -----------------

struct NativeImage {
  AVPixelFormat format = AV_PIX_FMT_NONE;
  int width = 0;
  int height = 0;
  std::vector<uint8_t> bytes;  // first plane, rows packed
};

NativeImage decode_native(const std::string& path) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, path.c_str(), nullptr, nullptr) < 0) {
    throw std::runtime_error("cannot open " + path);
  }
  const AvInputPtr input(opened);
  const AVCodec* decoder = nullptr;
  const int stream = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (stream < 0) throw std::runtime_error("no video stream in " + path);
  const AvCodecContextPtr codec(avcodec_alloc_context3(decoder));
  avcodec_parameters_to_context(codec.get(), input->streams[stream]->codecpar);
  if (avcodec_open2(codec.get(), decoder, nullptr) < 0) throw std::runtime_error("no decoder");
  const AvPacketPtr packet = make_av_packet();
  const AvFramePtr frame = make_av_frame();
  if (av_read_frame(input.get(), packet.get()) < 0 ||
      avcodec_send_packet(codec.get(), packet.get()) < 0 ||
      avcodec_send_packet(codec.get(), nullptr) < 0 ||
      avcodec_receive_frame(codec.get(), frame.get()) < 0) {
    throw std::runtime_error("cannot decode " + path);
  }
  NativeImage image;
  image.format = AVPixelFormat(frame->format);
  image.width = frame->width;
  image.height = frame->height;
  const int row_bytes = av_image_get_linesize(image.format, image.width, 0);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* row = frame->data[0] + ptrdiff_t(frame->linesize[0]) * y;
    image.bytes.insert(image.bytes.end(), row, row + row_bytes);
  }
  return image;
}

// Writes one picture with any libavcodec image encoder; `fill` sets the frame's pixels.
void encode_native(const std::string& path, AVCodecID codec_id, AVPixelFormat format, int width,
                   int height, const std::function<void(AVFrame&)>& fill) {
  const AVCodec* encoder = avcodec_find_encoder(codec_id);
  if (!encoder) throw std::runtime_error("no encoder for " + path);
  const AvCodecContextPtr codec(avcodec_alloc_context3(encoder));
  codec->width = width;
  codec->height = height;
  codec->pix_fmt = format;
  codec->time_base = {1, 1};
  if (avcodec_open2(codec.get(), encoder, nullptr) < 0)
    throw std::runtime_error("cannot open encoder");
  const AvFramePtr frame = make_av_frame();
  frame->format = format;
  frame->width = width;
  frame->height = height;
  av_frame_get_buffer(frame.get(), 0);
  fill(*frame);
  const AvPacketPtr packet = make_av_packet();
  if (avcodec_send_frame(codec.get(), frame.get()) < 0 ||
      avcodec_send_frame(codec.get(), nullptr) < 0 ||
      avcodec_receive_packet(codec.get(), packet.get()) < 0) {
    throw std::runtime_error("cannot encode " + path);
  }
  write_bytes(path, packet->data, size_t(packet->size));
}

// Deterministic test content.
uint8_t pattern(int x, int y, int channel) {
  return uint8_t(x * (7 + channel) + y * (13 + 5 * channel) + (x ^ y) * channel);
}
uint16_t deep_pattern(int x, int y, int channel) {
  return uint16_t(pattern(x, y, channel) << 8 | pattern(y, x, channel + 1));
}
int rounded_to_8_bits(int value) { return int(std::lround(value / 257.0)); }

// ---- read_image ------------------------------------------------------------------------------

TEST(ReadImage, EveryStillHasItsDocumentedSize) {
  // From media/README.md.
  const std::map<std::string, std::pair<int, int>> sizes = {
      {"skimage_astronaut.png", {512, 512}},
      {"skimage_camera.png", {512, 512}},
      {"matplotlib_grace_hopper.jpg", {512, 600}},
      {"openmpf_race.jpg", {640, 428}},
      {"rembg_girl-1.jpg", {600, 399}},
      {"rembg_girl-2.jpg", {718, 478}},
      {"rembg_girl-3.jpg", {852, 480}}};
  const std::string dir = shared_dir + "/media/stills";
  const std::vector<std::string> names = files_in(dir);
  EXPECT_EQ(names.size(), sizes.size());
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(sizes.count(name));
    EXPECT_TRUE(is_image_path(name));
    const RgbFrame image = read_image(dir + "/" + name);
    EXPECT_EQ(image.width, sizes.at(name).first);
    EXPECT_EQ(image.height, sizes.at(name).second);
    EXPECT_EQ(image.pixels.size(), size_t(image.width) * image.height * 3);
    const RgbImage view = image.view();
    EXPECT_EQ(view.data, image.pixels.data());
    EXPECT_EQ(view.stride, image.width * 3);
  }
}

TEST(ReadImage, RgbPngIsBitExact) {
  for (const std::string& path :
       {shared_dir + "/media/stills/skimage_astronaut.png", golden_dir + "/frame_000.png"}) {
    SCOPED_TRACE(path);
    const NativeImage native = decode_native(path);
    ASSERT_EQ(native.format, AV_PIX_FMT_RGB24);
    const RgbFrame image = read_image(path);
    EXPECT_EQ(image.width, native.width);
    EXPECT_EQ(image.height, native.height);
    EXPECT_TRUE(image.pixels == native.bytes);
  }
  EXPECT_EQ(read_image(golden_dir + "/frame_000.png").width, 640);
  EXPECT_EQ(read_image(golden_dir + "/frame_000.png").height, 360);
}

TEST(ReadImage, GrayPngGivesItsValuesInAllChannels) {
  const std::string path = shared_dir + "/media/stills/skimage_camera.png";
  const NativeImage native = decode_native(path);
  ASSERT_EQ(native.format, AV_PIX_FMT_GRAY8);
  const RgbFrame image = read_image(path);
  ASSERT_EQ(image.pixels.size(), native.bytes.size() * 3);
  for (size_t i = 0; i < native.bytes.size(); ++i) {
    ASSERT_EQ(image.pixels[3 * i], native.bytes[i]) << i;
    ASSERT_EQ(image.pixels[3 * i + 1], native.bytes[i]) << i;
    ASSERT_EQ(image.pixels[3 * i + 2], native.bytes[i]) << i;
  }
}

TEST(ReadImage, RgbaPngDropsAlphaAndKeepsColour) {
  const std::string path = shared_dir + "/media/rgba/rembg_girl-1.out.png";
  const NativeImage native = decode_native(path);
  ASSERT_EQ(native.format, AV_PIX_FMT_RGBA);
  const RgbFrame image = read_image(path);
  ASSERT_EQ(image.width, 600);
  ASSERT_EQ(image.height, 399);
  for (size_t i = 0; i < size_t(image.width) * image.height; ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(image.pixels[3 * i + c], native.bytes[4 * i + c]) << i;
  }
}

// JPEG stores full-range YCbCr. The rembg cut-outs keep the colours PIL (libjpeg) decoded from
// the same JPEGs wherever they are opaque, so they show what a normal decoder gives. Read as
// limited range, the difference would be about 9 levels on average.
TEST(ReadImage, JpegColoursMatchLibjpeg) {
  for (const std::string name : {"rembg_girl-1", "rembg_girl-2", "rembg_girl-3"}) {
    SCOPED_TRACE(name);
    const RgbFrame jpeg = read_image(shared_dir + "/media/stills/" + name + ".jpg");
    const NativeImage cutout = decode_native(shared_dir + "/media/rgba/" + name + ".out.png");
    ASSERT_EQ(cutout.format, AV_PIX_FMT_RGBA);
    ASSERT_EQ(jpeg.pixels.size() / 3, cutout.bytes.size() / 4);
    double total_difference = 0;
    size_t samples = 0;
    for (size_t i = 0; i < cutout.bytes.size() / 4; ++i) {
      if (cutout.bytes[4 * i + 3] != 255) continue;
      for (int c = 0; c < 3; ++c) {
        total_difference += std::abs(int(jpeg.pixels[3 * i + c]) - int(cutout.bytes[4 * i + c]));
        ++samples;
      }
    }
    ASSERT_GT(samples, 1000u);
    EXPECT_LT(total_difference / double(samples), 2.0);
  }
}

// Pixel formats the stills above do not cover, written with libavcodec's own encoders.
TEST(ReadImage, ConvertsPaletteGrayAlphaAndOtherFormats) {
  const std::string dir = scratch_dir();
  constexpr int width = 37, height = 23;  // odd sizes catch row-padding mistakes
  struct Case {
    std::string file;
    AVCodecID codec;
    AVPixelFormat format;
    std::function<void(AVFrame&)> fill;
    std::function<std::array<int, 3>(int, int)> expected;  // RGB at (x, y)
  };
  const auto palette_colour = [](int index) {
    return std::array<int, 3>{index, 255 - index, (index * 37) & 255};
  };
  const std::vector<Case> cases = {
      {"palette.png", AV_CODEC_ID_PNG, AV_PIX_FMT_PAL8,
       [&](AVFrame& frame) {
         auto* palette = reinterpret_cast<uint32_t*>(frame.data[1]);
         for (int i = 0; i < 256; ++i) {
           const auto [r, g, b] = palette_colour(i);
           palette[i] = uint32_t(0xff) << 24 | uint32_t(r) << 16 | uint32_t(g) << 8 | uint32_t(b);
         }
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x)
             frame.data[0][y * frame.linesize[0] + x] = pattern(x, y, 0);
       },
       [&](int x, int y) { return palette_colour(pattern(x, y, 0)); }},
      {"gray_alpha.png", AV_CODEC_ID_PNG, AV_PIX_FMT_YA8,
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x) {
             frame.data[0][y * frame.linesize[0] + 2 * x] = pattern(x, y, 0);
             frame.data[0][y * frame.linesize[0] + 2 * x + 1] = pattern(x, y, 1);
           }
       },
       [](int x, int y) {
         return std::array<int, 3>{pattern(x, y, 0), pattern(x, y, 0), pattern(x, y, 0)};
       }},
      {"rgb48.png", AV_CODEC_ID_PNG, AV_PIX_FMT_RGB48BE,  // exact multiples of 257
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width * 3; ++x) {
             const int value = pattern(x / 3, y, x % 3) * 257;
             frame.data[0][y * frame.linesize[0] + 2 * x] = uint8_t(value >> 8);
             frame.data[0][y * frame.linesize[0] + 2 * x + 1] = uint8_t(value);
           }
       },
       [](int x, int y) {
         return std::array<int, 3>{pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)};
       }},
      {"rgba64.png", AV_CODEC_ID_PNG, AV_PIX_FMT_RGBA64BE,
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width * 4; ++x) {
             const int value = deep_pattern(x / 4, y, x % 4);
             frame.data[0][y * frame.linesize[0] + 2 * x] = uint8_t(value >> 8);
             frame.data[0][y * frame.linesize[0] + 2 * x + 1] = uint8_t(value);
           }
       },
       [](int x, int y) {
         return std::array<int, 3>{rounded_to_8_bits(deep_pattern(x, y, 0)),
                                   rounded_to_8_bits(deep_pattern(x, y, 1)),
                                   rounded_to_8_bits(deep_pattern(x, y, 2))};
       }},
      {"mono.png", AV_CODEC_ID_PNG, AV_PIX_FMT_MONOBLACK,  // 1 bit, 1 = white
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x) {
             uint8_t& byte = frame.data[0][y * frame.linesize[0] + x / 8];
             if (x % 8 == 0) byte = 0;
             if (pattern(x, y, 1) & 1) byte |= uint8_t(0x80 >> (x % 8));
           }
       },
       [](int x, int y) {
         const int value = pattern(x, y, 1) & 1 ? 255 : 0;
         return std::array<int, 3>{value, value, value};
       }},
      {"bgr.bmp", AV_CODEC_ID_BMP, AV_PIX_FMT_BGR24,
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x)
             for (int c = 0; c < 3; ++c)
               frame.data[0][y * frame.linesize[0] + 3 * x + 2 - c] = pattern(x, y, c);
       },
       [](int x, int y) {
         return std::array<int, 3>{pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)};
       }},
      {"rgb.tiff", AV_CODEC_ID_TIFF, AV_PIX_FMT_RGB24,
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x)
             for (int c = 0; c < 3; ++c)
               frame.data[0][y * frame.linesize[0] + 3 * x + c] = pattern(x, y, c);
       },
       [](int x, int y) {
         return std::array<int, 3>{pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)};
       }},
      {"gray.pgm", AV_CODEC_ID_PGM, AV_PIX_FMT_GRAY8,
       [](AVFrame& frame) {
         for (int y = 0; y < height; ++y)
           for (int x = 0; x < width; ++x)
             frame.data[0][y * frame.linesize[0] + x] = pattern(x, y, 2);
       },
       [](int x, int y) {
         return std::array<int, 3>{pattern(x, y, 2), pattern(x, y, 2), pattern(x, y, 2)};
       }},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.file);
    const std::string path = dir + "/" + test.file;
    encode_native(path, test.codec, test.format, width, height, test.fill);
    ASSERT_EQ(decode_native(path).format, test.format);
    const RgbFrame image = read_image(path);
    ASSERT_EQ(image.width, width);
    ASSERT_EQ(image.height, height);
    int worst = 0;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) {
          const int difference =
              std::abs(image.pixels[(size_t(y) * width + x) * 3 + c] - test.expected(x, y)[c]);
          worst = std::max(worst, difference);
        }
    EXPECT_EQ(worst, 0);
  }
}

TEST(ReadImage, LosslessWebp) {
  const AVCodec* encoder = avcodec_find_encoder_by_name("libwebp");
  if (!encoder) GTEST_SKIP() << "this FFmpeg has no libwebp encoder";
  const std::string path = scratch_dir() + "/lossless.webp";
  constexpr int width = 31, height = 17;
  const AvCodecContextPtr codec(avcodec_alloc_context3(encoder));
  codec->width = width;
  codec->height = height;
  codec->pix_fmt = AV_PIX_FMT_BGRA;
  codec->time_base = {1, 1};
  AVDictionary* options = nullptr;
  av_dict_set(&options, "lossless", "1", 0);
  ASSERT_GE(avcodec_open2(codec.get(), encoder, &options), 0);
  av_dict_free(&options);
  const AvFramePtr frame = make_av_frame();
  frame->format = AV_PIX_FMT_BGRA;
  frame->width = width;
  frame->height = height;
  ASSERT_GE(av_frame_get_buffer(frame.get(), 0), 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* pixel = frame->data[0] + y * frame->linesize[0] + 4 * x;
      for (int c = 0; c < 3; ++c) pixel[2 - c] = pattern(x, y, c);
      pixel[3] = 255;
    }
  const AvPacketPtr packet = make_av_packet();
  ASSERT_GE(avcodec_send_frame(codec.get(), frame.get()), 0);
  ASSERT_GE(avcodec_send_frame(codec.get(), nullptr), 0);
  ASSERT_GE(avcodec_receive_packet(codec.get(), packet.get()), 0);
  write_bytes(path, packet->data, size_t(packet->size));

  const RgbFrame image = read_image(path);
  ASSERT_EQ(image.width, width);
  ASSERT_EQ(image.height, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(image.pixels[(size_t(y) * width + x) * 3 + c], pattern(x, y, c));
}

TEST(ReadImage, NameWithPercentAndColon) {
  // Neither a frame-number pattern nor a protocol prefix to FFmpeg.
  const std::string path = scratch_dir() + "/100%d:x.png";
  const uint8_t gray[4] = {0, 50, 100, 150};
  write_png_gray8(path, gray, 2, 2, 2);
  const RgbFrame image = read_image(path);
  ASSERT_EQ(image.pixels.size(), 12u);
  EXPECT_EQ(image.pixels[9], 150);
}

TEST(ReadImage, ErrorsNameTheFile) {
  const std::string dir = scratch_dir();
  expect_error_naming(dir + "/missing.png", [&] { read_image(dir + "/missing.png"); });

  write_text(dir + "/text.png", "this is not a picture\n");
  expect_error_naming(dir + "/text.png", [&] { read_image(dir + "/text.png"); });

  write_text(dir + "/empty.jpg", "");
  expect_error_naming(dir + "/empty.jpg", [&] { read_image(dir + "/empty.jpg"); });

  const std::vector<char> png = read_bytes(shared_dir + "/media/stills/skimage_astronaut.png");
  for (const size_t length : {size_t(20), size_t(100), png.size() / 2, png.size() - 20}) {
    const std::string path = dir + fmt::format("/truncated_{}.png", length);
    write_bytes(path, png.data(), length);
    expect_error_naming(path, [&] { read_image(path); });
  }
  const std::vector<char> jpeg = read_bytes(shared_dir + "/media/stills/rembg_girl-1.jpg");
  for (const size_t length : {jpeg.size() / 2, jpeg.size() - 400}) {
    const std::string path = dir + fmt::format("/truncated_{}.jpg", length);
    write_bytes(path, jpeg.data(), length);
    expect_error_naming(path, [&] { read_image(path); });
  }
}

TEST(ReadImage, ErrorIncludesFfmpegMessage) {
  const std::string path = scratch_dir() + "/text.png";
  write_text(path, "this is not a picture\n");
  try {
    read_image(path);
    FAIL();
  } catch (const Error& error) {
    // av_strerror's text, then what the PNG decoder logged (instead of printing it to stderr).
    EXPECT_NE(std::string(error.what()).find("Invalid data"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("PNG signature"), std::string::npos) << error.what();
  }
}

TEST(IsImagePath, ByExtensionIgnoringCase) {
  for (const char* path :
       {"a.png", "b.PNG", "dir/c.JpEg", "d.jpg", "e.webp", "f.bmp", "g.tif", "h.TIFF"}) {
    EXPECT_TRUE(is_image_path(path)) << path;
  }
  for (const char* path : {"a.mp4", "b.mkv", "png", "c.png/clip.mov", ".png", "d", "e.npy"}) {
    EXPECT_FALSE(is_image_path(path)) << path;
  }
}

// ---- PNG writers -----------------------------------------------------------------------------

TEST(WritePng, RgbaRoundTripsExactly) {
  const std::string path = scratch_dir() + "/rgba.png";
  constexpr int width = 19, height = 7, stride = width * 4 + 5;  // padded rows
  std::vector<uint8_t> rgba(size_t(stride) * height, 0xee);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width * 4; ++x) rgba[size_t(y) * stride + x] = pattern(x / 4, y, x % 4);
  write_png_rgba(path, rgba.data(), width, height, stride);

  const NativeImage native = decode_native(path);
  ASSERT_EQ(native.format, AV_PIX_FMT_RGBA);
  ASSERT_EQ(native.width, width);
  ASSERT_EQ(native.height, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width * 4; ++x)
      ASSERT_EQ(native.bytes[size_t(y) * width * 4 + x], rgba[size_t(y) * stride + x]);

  const RgbFrame image = read_image(path);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(image.pixels[(size_t(y) * width + x) * 3 + c],
                  rgba[size_t(y) * stride + 4 * x + c]);
}

TEST(WritePng, RgbRoundTripsExactly) {
  const std::string path = scratch_dir() + "/rgb.png";
  constexpr int width = 33, height = 9, stride = width * 3 + 1;
  std::vector<uint8_t> rgb(size_t(stride) * height, 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width * 3; ++x) rgb[size_t(y) * stride + x] = pattern(x / 3, y, x % 3);
  write_png_rgb(path, rgb.data(), width, height, stride);
  ASSERT_EQ(decode_native(path).format, AV_PIX_FMT_RGB24);
  const RgbFrame image = read_image(path);
  ASSERT_EQ(image.width, width);
  for (int y = 0; y < height; ++y)
    ASSERT_EQ(std::memcmp(image.pixels.data() + size_t(y) * width * 3,
                          rgb.data() + size_t(y) * stride, width * 3),
              0);
}

TEST(WritePng, Gray8RoundTripsExactly) {
  const std::string path = scratch_dir() + "/gray8.png";
  constexpr int width = 256, height = 3, stride = 300;
  std::vector<uint8_t> gray(size_t(stride) * height, 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) gray[size_t(y) * stride + x] = uint8_t(x + y);
  write_png_gray8(path, gray.data(), width, height, stride);
  const NativeImage native = decode_native(path);
  ASSERT_EQ(native.format, AV_PIX_FMT_GRAY8);
  const RgbFrame image = read_image(path);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      ASSERT_EQ(native.bytes[size_t(y) * width + x], uint8_t(x + y));
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(image.pixels[(size_t(y) * width + x) * 3 + c], uint8_t(x + y));
    }
}

TEST(WritePng, Gray16RoundTripsExactly) {
  const std::string path = scratch_dir() + "/gray16.png";
  const std::vector<uint16_t> values = {0, 1, 127, 128, 255, 256, 0x1234, 0x8000, 0xfffe, 0xffff};
  constexpr int width = 5, height = 2;
  std::vector<uint16_t> gray(8 * height, 0);  // stride 16 bytes
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) gray[size_t(y) * 8 + x] = values[size_t(y) * width + x];
  write_png_gray16(path, gray.data(), width, height, 16);

  const NativeImage native = decode_native(path);
  ASSERT_EQ(native.format, AV_PIX_FMT_GRAY16BE);
  ASSERT_EQ(native.bytes.size(), values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(native.bytes[2 * i] << 8 | native.bytes[2 * i + 1], values[i]) << i;
  }
  // To 8 bits by rounding value / 257, in all three channels.
  const RgbFrame image = read_image(path);
  for (size_t i = 0; i < values.size(); ++i) {
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(image.pixels[3 * i + c], rounded_to_8_bits(values[i])) << i;
  }
}

TEST(WritePng, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::string dir = scratch_dir();
  const std::string path = dir + "/out.png";
  write_text(path, "old");
  const uint8_t gray[2] = {1, 2};
  write_png_gray8(path, gray, 2, 1, 2);
  EXPECT_EQ(decode_native(path).bytes, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"out.png"});
}

TEST(WritePng, ErrorsNameTheFile) {
  const std::string dir = scratch_dir();
  const uint8_t pixels[16] = {};
  expect_error_naming(dir + "/zero.png",
                      [&] { write_png_rgb(dir + "/zero.png", pixels, 0, 1, 3); });
  expect_error_naming(dir + "/stride.png",
                      [&] { write_png_rgba(dir + "/stride.png", pixels, 2, 2, 4); });
  expect_error_naming(dir + "/null.png",
                      [&] { write_png_gray8(dir + "/null.png", nullptr, 2, 2, 2); });
  expect_error_naming(dir + "/no/such/folder/a.png",
                      [&] { write_png_gray8(dir + "/no/such/folder/a.png", pixels, 2, 2, 2); });
  EXPECT_TRUE(files_in(dir).empty());
}

// ---- .npy ------------------------------------------------------------------------------------

// Builds a .npy file from its parts, for headers numpy would not write.
std::string npy_bytes(const std::string& header, const std::string& data, int major = 1) {
  std::string bytes = "\x93NUMPY";
  bytes += char(major);
  bytes += char(0);
  const size_t length = header.size();
  bytes += char(length & 0xff);
  bytes += char((length >> 8) & 0xff);
  if (major >= 2) {
    bytes += char((length >> 16) & 0xff);
    bytes += char(length >> 24);
  }
  return bytes + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// The sums of the golden arrays, computed independently in Python (struct module, float64).
TEST(ReadNpy, GoldenFloat32Alpha) {
  const NpyArray alpha = read_npy(golden_dir + "/pha_000.npy");
  EXPECT_EQ(alpha.shape, (std::vector<int64_t>{360, 640}));
  ASSERT_EQ(alpha.values.size(), 360u * 640u);
  double sum = 0;
  for (const float value : alpha.values) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f);
    sum += value;
  }
  EXPECT_NEAR(sum, 56690.282746048644, 1e-3);
}

TEST(ReadNpy, GoldenFloat16Foreground) {
  const NpyArray foreground = read_npy(golden_dir + "/fgr_000.npy");
  EXPECT_EQ(foreground.shape, (std::vector<int64_t>{360, 640, 3}));
  ASSERT_EQ(foreground.values.size(), 360u * 640u * 3u);
  double sum = 0;
  for (const float value : foreground.values) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f);
    sum += value;
  }
  EXPECT_NEAR(sum, 168838.4245108366, 1e-3);
}

TEST(ReadNpy, HalfPrecisionSpecialValues) {
  const std::string path = scratch_dir() + "/half.npy";
  const std::vector<uint16_t> halves = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00,
                                        0xc000, 0x7bff, 0x3555, 0x7c00, 0xfc00, 0x7e00};
  write_text(
      path, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (12,), }\n", raw(halves)));
  const NpyArray array = read_npy(path);
  ASSERT_EQ(array.shape, (std::vector<int64_t>{12}));
  const std::vector<float> expected = {0.0f,     -0.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f,
                                       1.0f,     -2.0f, 65504.0f, 0.333251953125f, INFINITY,
                                       -INFINITY};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(array.values[i], expected[i]) << i;
  EXPECT_TRUE(std::signbit(array.values[1]));
  EXPECT_TRUE(std::isnan(array.values[11]));
}

TEST(ReadNpy, Float64AndVersion2AndScalar) {
  const std::string dir = scratch_dir();
  write_text(dir + "/f8.npy",
             npy_bytes("{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<f8\"}  \n",
                       raw(std::vector<double>{0.25, -1e10})));
  const NpyArray doubles = read_npy(dir + "/f8.npy");
  EXPECT_EQ(doubles.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(doubles.values, (std::vector<float>{0.25f, -1e10f}));

  write_text(dir + "/v2.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n",
                                        raw(std::vector<float>{1, 2, 3}), 2));
  EXPECT_EQ(read_npy(dir + "/v2.npy").values, (std::vector<float>{1, 2, 3}));

  write_text(dir + "/scalar.npy",
             npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n",
                       raw(std::vector<float>{7.5f})));
  const NpyArray scalar = read_npy(dir + "/scalar.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values, (std::vector<float>{7.5f}));
}

TEST(ReadNpy, ErrorsNameTheFile) {
  const std::string dir = scratch_dir();
  const std::string four_floats = raw(std::vector<float>{1, 2, 3, 4});
  const auto header = [](const std::string& descr, const std::string& order,
                         const std::string& shape) {
    return fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}\n", descr, order,
                       shape);
  };
  const std::map<std::string, std::string> bad_files = {
      {"missing_magic", "just text"},
      {"too_short", "\x93NUMPY\x01"},
      {"version3", npy_bytes(header("<f4", "False", "(4,)"), four_floats, 3)},
      {"header_past_end", npy_bytes(header("<f4", "False", "(4,)"), "").substr(0, 30)},
      {"fortran_order", npy_bytes(header("<f4", "True", "(2, 2)"), four_floats)},
      {"big_endian", npy_bytes(header(">f4", "False", "(4,)"), four_floats)},
      {"integer", npy_bytes(header("<i4", "False", "(4,)"), four_floats)},
      {"not_a_tuple", npy_bytes(header("<f4", "False", "(4)"), four_floats)},
      {"negative", npy_bytes(header("<f4", "False", "(-4,)"), four_floats)},
      {"overflow",
       npy_bytes(header("<f4", "False", "(4294967296, 4294967296, 4294967296)"), four_floats)},
      {"huge_number", npy_bytes(header("<f4", "False", "(99999999999999999999,)"), four_floats)},
      {"too_little_data", npy_bytes(header("<f4", "False", "(5,)"), four_floats)},
      {"too_much_data", npy_bytes(header("<f4", "False", "(3,)"), four_floats)},
      {"missing_key", npy_bytes("{'descr': '<f4', 'shape': (4,), }\n", four_floats)},
      {"duplicate_key",
       npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                 four_floats)},
      {"unknown_key",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", four_floats)},
      {"trailing_text", npy_bytes(header("<f4", "False", "(4,)") + "junk", four_floats)},
      {"unterminated", npy_bytes("{'descr': '<f4", four_floats)},
      {"no_dict", npy_bytes("'descr': '<f4'", four_floats)},
  };
  for (const auto& [name, bytes] : bad_files) {
    SCOPED_TRACE(name);
    const std::string path = dir + "/" + name + ".npy";
    write_text(path, bytes);
    expect_error_naming(path, [&] { read_npy(path); });
  }
  expect_error_naming(dir + "/absent.npy", [&] { read_npy(dir + "/absent.npy"); });
}

TEST(WriteNpy, RoundTripsShapesAndValues) {
  const std::string dir = scratch_dir();
  const std::vector<std::vector<int64_t>> shapes = {{}, {5}, {2, 3, 4}, {0, 3}, {1, 1, 1, 1, 7}};
  for (const auto& shape : shapes) {
    size_t count = 1;
    for (const int64_t dimension : shape) count *= size_t(dimension);
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = float(i) * 0.5f - 3.0f;
    const std::string path = dir + fmt::format("/a{}.npy", shape.size());
    write_npy(path, values.data(), shape);
    const NpyArray array = read_npy(path);
    EXPECT_EQ(array.shape, shape);
    EXPECT_EQ(array.values, values);
    // The data starts 64-byte aligned, after a header that ends in a newline.
    const std::vector<char> bytes = read_bytes(path);
    const size_t data_start = bytes.size() - count * 4;
    EXPECT_EQ(data_start % 64, 0u);
    EXPECT_EQ(bytes[data_start - 1], '\n');
  }
}

// numpy itself wrote the golden file; the same array must come out byte for byte.
TEST(WriteNpy, MatchesNumpyByteForByte) {
  const std::string golden = golden_dir + "/pha_000.npy";
  const NpyArray alpha = read_npy(golden);
  const std::string path = scratch_dir() + "/pha.npy";
  write_npy(path, alpha.values.data(), alpha.shape);
  EXPECT_TRUE(read_bytes(path) == read_bytes(golden));
}

TEST(WriteNpy, ErrorsNameTheFile) {
  const std::string dir = scratch_dir();
  const float value = 1;
  expect_error_naming(dir + "/negative.npy",
                      [&] { write_npy(dir + "/negative.npy", &value, {-1}); });
  expect_error_naming(dir + "/null.npy", [&] { write_npy(dir + "/null.npy", nullptr, {2}); });
  expect_error_naming(dir + "/no/folder.npy",
                      [&] { write_npy(dir + "/no/folder.npy", &value, {1}); });
  EXPECT_TRUE(files_in(dir).empty());
}

// ---- AtomicFile ------------------------------------------------------------------------------

TEST(AtomicFile, TemporaryBesideTargetKeepsTheExtension) {
  const std::string dir = scratch_dir();
  AtomicFile first(dir + "/clip.mp4");
  AtomicFile second(dir + "/clip.mp4");
  EXPECT_EQ(first.path(), dir + "/clip.mp4");
  EXPECT_NE(first.temp_path(), second.temp_path());
  for (const AtomicFile* file : {&first, &second}) {
    const fs::path temp(file->temp_path());
    EXPECT_EQ(temp.parent_path(), fs::path(dir));
    EXPECT_EQ(temp.extension(), ".mp4");
    EXPECT_EQ(temp.filename().string().front(), '.');
    EXPECT_TRUE(fs::exists(temp));
  }
}

TEST(AtomicFile, UncommittedLeavesNothing) {
  const std::string dir = scratch_dir();
  {
    AtomicFile file(dir + "/out.npy");
    write_text(file.temp_path(), "partial");
  }
  EXPECT_TRUE(files_in(dir).empty());
}

TEST(AtomicFile, CommitReplacesTheTarget) {
  const std::string dir = scratch_dir();
  write_text(dir + "/out.txt", "old");
  {
    AtomicFile file(dir + "/out.txt");
    write_text(file.temp_path(), "new");
    EXPECT_EQ(read_bytes(dir + "/out.txt"), (std::vector<char>{'o', 'l', 'd'}));
    file.commit();
    EXPECT_THROW(file.commit(), Error);
  }
  EXPECT_EQ(read_bytes(dir + "/out.txt"), (std::vector<char>{'n', 'e', 'w'}));
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"out.txt"});
}

TEST(AtomicFile, MissingFolderIsAnError) {
  const std::string folder = scratch_dir() + "/absent";
  try {
    AtomicFile file(folder + "/out.png");
    FAIL();
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(folder), std::string::npos) << message;
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  }
  EXPECT_THROW(AtomicFile(scratch_dir() + "/"), Error);
}

TEST(AtomicFile, RelativePathStaysInTheWorkingFolder) {
  const fs::path previous = fs::current_path();
  fs::current_path(scratch_dir());
  {
    AtomicFile file("relative.png");
    EXPECT_EQ(fs::path(file.temp_path()).parent_path(), fs::path());
    EXPECT_TRUE(fs::exists(file.temp_path()));
    file.commit();
  }
  EXPECT_TRUE(fs::exists("relative.png"));
  fs::current_path(previous);
}

}  // namespace
}  // namespace mattecast
