// `mattecast join` (see join.h).
#include "offline/join.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "io/av_handles.h"
#include "io/picture_decoder.h"
#include "offline/decode_stage.h"
#include "video/frame_sink.h"

namespace mattecast {

namespace {

struct PartFrames {
  std::string folder;
  std::vector<int64_t> pts;
  std::vector<PixelLayout> layouts;
};

PartFrames read_part(const JobPlan& plan, int part) {
  if (!part_done(plan, part))
    throw Error(fmt::format("{}: part {} is not done (run: mattecast video --job {} --part {})",
                            plan.path, part, plan.path, part));
  PartFrames frames;
  frames.folder = part_dir(plan, part);
  std::ifstream in(frames.folder + "/done.json");
  try {
    const auto done = nlohmann::json::parse(in);
    frames.pts = done.at("pts").get<std::vector<int64_t>>();
    for (int layout : done.at("layouts").get<std::vector<int>>())
      frames.layouts.push_back(PixelLayout(layout));
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}/done.json: unreadable: {}", frames.folder, e.what()));
  }
  return frames;
}

// The parts' timestamps line up with the plan and with the input's count and duration.
void check_timeline(const JobPlan& plan, const std::vector<PartFrames>& parts,
                    const VideoInfo& info) {
  int64_t count = 0, last = INT64_MIN;
  for (size_t k = 0; k < parts.size(); ++k) {
    const auto& pts = parts[k].pts;
    if (int64_t(pts.size()) != plan.parts[k].frames ||
        (!pts.empty() && pts.front() != plan.parts[k].start_pts))
      throw Error(fmt::format("{}: part {} holds {} frames, the plan says {}", plan.path, k,
                              pts.size(), plan.parts[k].frames));
    for (int64_t t : pts) {
      if (t <= last)
        throw Error(fmt::format("{}: part {}: timestamp {} out of order", plan.path, k, t));
      last = t;
    }
    count += int64_t(pts.size());
  }
  if (count != plan.frames || (info.frame_count > 0 && count != info.frame_count))
    throw Error(fmt::format("{}: the parts hold {} frames, the input {}", info.path, count,
                            info.frame_count > 0 ? info.frame_count : plan.frames));
  if (find_short_input(info, count, last))
    throw Error(fmt::format("{}: the parts end at {:.3f} s, before the input's {:.3f} s", info.path,
                            double(last - info.start_pts) * info.time_base.value(),
                            info.duration_seconds));
}

AVPixelFormat png_format(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::rgb24:
      return AV_PIX_FMT_RGB24;
    case PixelLayout::rgba:
      return AV_PIX_FMT_RGBA;
    case PixelLayout::gray8:
      return AV_PIX_FMT_GRAY8;
    case PixelLayout::gray16:
      return AV_PIX_FMT_GRAY16BE;
  }
  return AV_PIX_FMT_NONE;
}

// One part frame, as the sink takes it (16-bit gray in host byte order).
void load_frame(const std::string& path, PixelLayout layout, const VideoInfo& info,
                std::vector<uint8_t>& pixels) {
  take_av_log_errors();
  const AvFramePtr picture = decode_first_picture(path, "cannot read part frame");
  if (picture->width != info.width || picture->height != info.height ||
      picture->format != png_format(layout))
    throw Error(fmt::format("{}: not a {} frame of {}x{}", path, to_string(layout), info.width,
                            info.height));
  const size_t row = size_t(info.width) * size_t(bytes_per_pixel(layout));
  pixels.resize(row * size_t(info.height));
  for (int y = 0; y < info.height; ++y)
    std::memcpy(pixels.data() + row * size_t(y), picture->data[0] + y * picture->linesize[0], row);
  if (layout == PixelLayout::gray16)
    for (size_t i = 0; i + 1 < pixels.size(); i += 2) std::swap(pixels[i], pixels[i + 1]);
}

struct JoinOutput {
  std::string kind;  // the part's folder name
  std::unique_ptr<FrameSink> sink;
  PixelLayout layout;
};

std::vector<JoinOutput> open_outputs(const VideoJobOptions& options, const VideoInfo& info,
                                     const std::vector<PixelLayout>& layouts,
                                     const std::function<void(const std::string&)>& warn) {
  const std::pair<const char*, const std::string*> named[] = {
      {"composite", &options.composite_path},
      {"alpha", &options.alpha_path},
      {"foreground", &options.foreground_path}};
  std::vector<JoinOutput> outputs;
  for (const auto& [kind, path] : named) {
    if (path->empty()) continue;
    if (outputs.size() >= layouts.size())
      throw Error(fmt::format("{}: the parts hold no {} frames", info.path, kind));
    SinkOptions sink{.width = info.width,
                     .height = info.height,
                     .layout = layouts[outputs.size()],
                     .time_base = info.time_base,
                     .frame_rate = info.frame_rate,
                     .crf = options.crf,
                     .preset = options.preset,
                     .threads = 0,
                     .rotation = info.rotation,
                     .audio_source = options.audio && info.audio_stream_count > 0 ? info.path : "",
                     .overwrite = options.overwrite,
                     .warn = warn};
    outputs.push_back({kind, open_frame_sink(*path, sink), sink.layout});
  }
  return outputs;
}

}  // namespace

JoinReport join_job(const JobPlan& plan, const VideoJobOptions& options,
                    const std::function<void(const std::string&)>& warn) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<PartFrames> parts;
  for (const PartPlan& part : plan.parts) parts.push_back(read_part(plan, part.index));
  VideoReader reader(plan.input, {.threads = 1, .image_rate = options.image_rate});
  const VideoInfo info = reader.info();
  check_timeline(plan, parts, info);
  std::vector<JoinOutput> outputs = open_outputs(options, info, parts.front().layouts, warn);
  std::vector<uint8_t> pixels;
  for (const PartFrames& part : parts)
    for (size_t i = 0; i < part.pts.size(); ++i)
      for (JoinOutput& output : outputs) {
        load_frame(fmt::format("{}/{}/{:06d}.png", part.folder, output.kind, i), output.layout,
                   info, pixels);
        output.sink->write(pixels.data(), ptrdiff_t(info.width) * bytes_per_pixel(output.layout),
                           part.pts[i]);
      }
  JoinReport report;
  report.frames = plan.frames;
  report.input_seconds = info.duration_seconds;
  for (JoinOutput& output : outputs) {
    output.sink->finish();
    report.outputs.push_back(
        fmt::format("{}: {}", output.sink->path(), output.sink->description()));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace mattecast
