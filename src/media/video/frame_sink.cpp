#include "video/frame_sink.h"

#include <fmt/format.h>

#include <filesystem>
#include <optional>
#include <string_view>

#include "mattecast/mattecast.h"
#include "video/image_sequence.h"
#include "video/video_writer.h"

namespace mattecast {

namespace {

class VideoFileSink final : public FrameSink {
 public:
  VideoFileSink(const std::string& path, const VideoWriterOptions& options)
      : writer_(path, options) {}
  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) override {
    writer_.write(pixels, stride, pts);
  }
  void finish() override { writer_.finish(); }
  const std::string& path() const override { return writer_.path(); }
  std::string description() const override { return writer_.description(); }
  int64_t frames_written() const override { return writer_.frames_written(); }

 private:
  VideoWriter writer_;
};

class PngSequenceSink final : public FrameSink {
 public:
  PngSequenceSink(const std::string& path, const ImageSequenceOptions& options)
      : writer_(path, options), layout_(options.layout) {}
  void write(const uint8_t* pixels, ptrdiff_t stride, int64_t pts) override {
    // PNGs keep no timestamps, but the order must be the same as for a video output.
    if (last_pts_ && pts <= *last_pts_) {
      throw Error(fmt::format("cannot write PNG sequence '{}': frame {} has pts {}, not after {}",
                              writer_.path(), writer_.frames_written(), pts, *last_pts_));
    }
    writer_.write(pixels, stride);
    last_pts_ = pts;
  }
  void finish() override { writer_.finish(); }
  const std::string& path() const override { return writer_.path(); }
  std::string description() const override {
    return fmt::format("PNG sequence, {}", to_string(layout_));
  }
  int64_t frames_written() const override { return writer_.frames_written(); }

 private:
  ImageSequenceWriter writer_;
  PixelLayout layout_;
  std::optional<int64_t> last_pts_;
};

}  // namespace

bool is_image_sequence_path(const std::string& path) {
  try {
    return parse_sequence_path(path).has_value();
  } catch (const Error&) {
    return true;  // a malformed frame-number pattern: opening it explains what is wrong
  }
}

std::unique_ptr<FrameSink> open_frame_sink(const std::string& path, const SinkOptions& options) {
  if (is_image_sequence_path(path)) {
    return std::make_unique<PngSequenceSink>(path,
                                             ImageSequenceOptions{.width = options.width,
                                                                  .height = options.height,
                                                                  .layout = options.layout,
                                                                  .overwrite = options.overwrite});
  }
  if (!VideoWriter::is_video_path(path)) {
    throw Error(
        fmt::format("cannot write '{}': unknown extension (use .mp4, .mkv, .mov or .webm "
                    "for a video, or a folder or a pattern such as out/%05d.png for a PNG "
                    "sequence)",
                    path));
  }
  std::error_code error;
  if (std::filesystem::exists(path, error) && !options.overwrite) {
    throw Error(
        fmt::format("cannot write '{}': the file already exists; use --force to replace it", path));
  }
  return std::make_unique<VideoFileSink>(path,
                                         VideoWriterOptions{.width = options.width,
                                                            .height = options.height,
                                                            .layout = options.layout,
                                                            .time_base = options.time_base,
                                                            .frame_rate = options.frame_rate,
                                                            .crf = options.crf,
                                                            .preset = options.preset,
                                                            .threads = options.threads,
                                                            .rotation = options.rotation,
                                                            .audio_source = options.audio_source,
                                                            .warn = options.warn});
}

}  // namespace mattecast
