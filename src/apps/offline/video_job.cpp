// The offline job: wires the stages (decode_stage, matting_stage, output_stage with
// compose_stage) with the pipeline's pools and queues, runs them, and makes the report.
#include "offline/video_job.h"

#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "offline/compose_stage.h"
#include "offline/decode_stage.h"
#include "offline/matting_stage.h"
#include "offline/output_stage.h"
#include "offline/pipeline.h"
#include "video/frame_sink.h"

namespace mattecast {

namespace {

void check_options(const VideoJobOptions& o) {
  if (o.composite_path.empty() && o.alpha_path.empty() && o.foreground_path.empty())
    throw Error("no output: give -o COMPOSITE, --alpha PATH and/or --foreground PATH");
  if (o.alpha_depth != 8 && o.alpha_depth != 16)
    throw Error(fmt::format("--alpha-depth {}: expected 8 or 16", o.alpha_depth));
  if (o.alpha_depth == 16 && !o.alpha_path.empty() && !is_image_sequence_path(o.alpha_path))
    throw Error(fmt::format("{}: 16-bit alpha needs a PNG sequence (a folder or a %0Nd pattern)",
                            o.alpha_path));
  const std::vector<std::string> paths = {o.composite_path, o.alpha_path, o.foreground_path};
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto input = fs::weakly_canonical(o.input, ec);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty()) continue;
    if (!ec && fs::weakly_canonical(paths[i], ec) == input)
      throw Error(fmt::format("{}: the output would overwrite the input", paths[i]));
    for (size_t j = i + 1; j < paths.size(); ++j)
      if (paths[i] == paths[j]) throw Error(fmt::format("{}: given for two outputs", paths[i]));
  }
}

}  // namespace

VideoJobReport run_video_job(std::shared_ptr<const Model> model, const VideoJobOptions& options,
                             const VideoJobCallbacks& callbacks) {
  check_options(options);
  Pipeline pipeline(callbacks.warn, callbacks.abort);

  VideoReader::Options reader_options;
  reader_options.threads = 1;  // its own pipeline stage; frame threads would only add memory
  reader_options.image_rate = options.image_rate;
  VideoReader reader(options.input, reader_options);
  const VideoInfo info = reader.info();

  // The background and the outputs are opened (and checked: existing files, writable folders)
  // before any work.
  std::optional<Background> background = open_background(options, info.width, info.height);
  const bool transparent = !background || background->transparent();
  OutputStage output(options, info, transparent, pipeline);
  ComposeStage compose(std::move(background), output.layouts(), info.width, info.height,
                       options.blend);

  // The network's OpenMP team gets the job's whole core budget (`threads`; 0: every core); the
  // decoder and each encoder run single-threaded on the pipeline's threads, in its idle time.
  // Alpha-only mode skips the foreground planes when no output shows the network's colour.
  SessionParams session_params = options.session;
  session_params.alpha_only = options.composite_path.empty() && options.foreground_path.empty();
  Session session(std::move(model), session_params);

  DecodeStage decode(reader, pipeline, options.range);
  MattingStage matting(session, options.scene_reset, pipeline);
  const auto start = JobClock::now();
  std::thread decode_thread([&] { decode.run(); });
  std::thread matting_thread([&] { matting.run(); });
  output.run(compose, callbacks.progress, start);
  pipeline.stop_all();
  decode_thread.join();
  matting_thread.join();
  pipeline.rethrow_failure();

  VideoJobReport report;
  report.input = info;
  report.precision = session.params().precision;
  report.downsample_ratio = session.downsample_ratio_for(info.width, info.height);
  report.threads = {session.params().threads, int(output.layouts().size())};
  report.frames = output.frames();
  report.scene_cuts = matting.scene_cuts();
  report.corrupt_packets = reader.corrupt_packets();
  if (pipeline.aborted()) {
    report.aborted = true;
    return report;  // the sinks go out of scope unfinished: their temporaries are removed
  }
  if (report.frames == 0)
    throw Error(fmt::format("{}: no video frame could be decoded", info.path));
  report.preroll_frames = output.preroll_frames();
  report.preroll_seconds = output.preroll_seconds();
  report.output_pts = output.written_pts();
  report.layouts = output.layouts();
  if (!options.range)  // a part ends where the next begins
    report.short_input = find_short_input(info, report.frames, output.last_pts());
  if (report.short_input)
    pipeline.warn(describe_short_input(info, report.frames, *report.short_input));

  report.outputs = output.finish();
  report.wall_seconds = ms_since(start) / 1000.0;
  const double n = double(report.frames);
  report.stages = {{"decode", decode.busy_ms() / n},
                   {"matting", matting.busy_ms() / n},
                   {"compose", compose.busy_ms() / n}};
  output.add_stage_times(report.stages);
  return report;
}

}  // namespace mattecast
