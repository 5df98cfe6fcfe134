// Output stage of the offline job (see output_stage.h).
#include "offline/output_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "offline/decode_stage.h"

namespace mattecast {

OutputStage::OutputStage(const VideoJobOptions& options, const VideoInfo& input,
                         bool transparent_background, Pipeline& pipeline)
    : options_(options), input_(input), pipeline_(pipeline), last_pts_(input.start_pts) {
  if (!options.composite_path.empty())
    outputs_.push_back(open(Kind::composite, options.composite_path,
                            transparent_background ? PixelLayout::rgba : PixelLayout::rgb24));
  if (!options.alpha_path.empty())
    outputs_.push_back(open(Kind::alpha, options.alpha_path,
                            options.alpha_depth == 16 ? PixelLayout::gray16 : PixelLayout::gray8));
  if (!options.foreground_path.empty()) {
    const bool over_background = !options.background.empty() && !transparent_background;
    outputs_.push_back(open(Kind::foreground, options.foreground_path,
                            over_background ? PixelLayout::rgb24 : PixelLayout::rgba));
  }
}

OutputStage::Output OutputStage::open(Kind kind, const std::string& path,
                                      PixelLayout layout) const {
  SinkOptions sink;
  sink.width = input_.width;
  sink.height = input_.height;
  sink.layout = layout;
  sink.time_base = input_.time_base;
  sink.frame_rate = input_.frame_rate;
  sink.crf = options_.crf;
  sink.preset = options_.preset;
  sink.threads = 1;
  sink.rotation = input_.rotation;
  const bool has_audio = options_.audio && input_.audio_stream_count > 0;
  sink.audio_source = has_audio ? options_.input : "";
  sink.overwrite = options_.overwrite;
  sink.warn = [&pipeline = pipeline_](const std::string& message) { pipeline.warn(message); };
  return Output{kind, open_frame_sink(path, sink), layout};
}

std::vector<PixelLayout> OutputStage::layouts() const {
  std::vector<PixelLayout> layouts;
  for (const Output& output : outputs_) layouts.push_back(output.layout);
  return layouts;
}

void OutputStage::run(ComposeStage& compose,
                      const std::function<void(const VideoJobProgress&)>& progress_callback,
                      JobClock::time_point start) {
  pipeline_.idle_threads.enter();
  try {
    VideoJobProgress progress{.frames_total = expected_frames(input_)};
    while (auto slot = pipeline_.to_output.pop()) {
      if (pipeline_.stop_requested()) break;
      FrameSlot& frame = **slot;
      if (in_preroll(frame, start)) {
        // Composed but not written: the filters that carry state over frames warm up too.
        for (size_t i = 0; i < outputs_.size(); ++i) compose.compose(i, frame);
        pipeline_.free_mattes.push(frame.matte);
        pipeline_.free_slots.push(*slot);
        continue;
      }
      for (size_t i = 0; i < outputs_.size(); ++i) {
        const PixelBuffer picture = compose.compose(i, frame);
        const auto t0 = JobClock::now();
        outputs_[i].sink->write(picture.data, picture.stride, frame.pts);
        outputs_[i].encode_ms += ms_since(t0);
      }
      ++frames_;
      if (options_.range) written_pts_.push_back(frame.pts);
      last_pts_ = std::max(last_pts_, frame.pts);
      pipeline_.free_mattes.push(frame.matte);
      pipeline_.free_slots.push(*slot);
      if (progress_callback) {
        progress.frames_done = frames_;
        progress.elapsed_seconds = ms_since(start) / 1000.0;
        progress_callback(progress);
      }
    }
  } catch (...) {
    pipeline_.fail(std::current_exception());
  }
}

bool OutputStage::in_preroll(const FrameSlot& frame, JobClock::time_point start) {
  if (!options_.range) return false;
  if (frame.pts < options_.range->start_pts) {
    ++preroll_frames_;
    return true;
  }
  if (frames_ == 0) preroll_seconds_ = ms_since(start) / 1000.0;
  return false;
}

std::vector<std::string> OutputStage::finish() {
  const auto t0 = JobClock::now();
  std::vector<std::string> descriptions;
  for (Output& output : outputs_) {
    output.sink->finish();
    descriptions.push_back(fmt::format("{}: {}", output.sink->path(), output.sink->description()));
  }
  finish_ms_ = ms_since(t0);
  return descriptions;
}

void OutputStage::add_stage_times(std::vector<StageTime>& stages) const {
  const double n = double(frames_);
  for (const Output& output : outputs_) {
    const char* what = output.kind == Kind::composite ? "encode composite"
                       : output.kind == Kind::alpha   ? "encode alpha"
                                                      : "encode foreground";
    stages.push_back({what, (output.encode_ms + finish_ms_ / double(outputs_.size())) / n});
  }
}

}  // namespace mattecast
