// A live picture source for `mattecast webcam`: a camera, or a video file / URL played as if it
// were one. A thread captures and publishes every frame into a LatestFrame; the processing thread
// takes the newest whenever it is ready (older ones are dropped, never queued).
//
//   SteadyClock clock;
//   LatestFrame latest;
//   auto source = open_live_source({.input = "/dev/video0", .width = 1280, .height = 720},
//                                  latest, clock);                // throws: no such device, ...
//   LiveFrame frame;
//   for (;;) {
//     const TakeResult got = latest.take(frame, std::chrono::seconds(2));
//     if (got == TakeResult::timeout) continue;                 // e.g. warn "no frames"
//     if (got == TakeResult::closed) break;                     // end of file, stop(), or error
//     matte(frame.view());  // frame.capture_ns, frame.source_seconds, frame.sequence
//   }
//   if (!latest.error().empty()) throw Error(latest.error());  // "camera ... disappeared"
//   source->stop();
//
// A file is paced by its timestamps on the Clock: frame k is published at
// start + (source_seconds(k) - source_seconds(0)), where start is the Clock's time when the thread
// started. If decoding falls more than 250 ms behind, the schedule moves forward rather than
// publishing a burst. With `loop`, the file starts again at its end and its timestamps continue
// (the first frame of a pass follows the last of the previous one by one frame duration);
// without, the LatestFrame is closed cleanly after the last frame.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "live/latest_frame.h"

namespace mattecast {

struct LiveSourceOptions {
  std::string input;  // "/dev/videoN" (or any character device): a V4L2 camera; anything
                      // else: a video file, image sequence pattern or URL (FFmpeg)
  int width = 0;      // camera: requested size (0: 1280x720). Files: ignored
  int height = 0;
  double fps = 0;            // camera: requested rate (0: 30). Files: ignored (their own timing)
  std::string pixel_format;  // camera: "" / "auto", "mjpg", "yuyv", "nv12", "yu12"
  bool loop = false;         // files: start again at the end
  int decoder_threads = 1;   // files: FFmpeg decoder threads (0: FFmpeg picks)
};

struct LiveSourceInfo {
  bool camera = false;
  int width = 0;  // of the frames (a camera's negotiated size; frames of a file may change size)
  int height = 0;
  double fps = 0;  // nominal; 0 if unknown
  // "/dev/video0 MJPG 1280x720 30 fps", "file clip.mp4 1280x720 30 fps (looping)",
  // "stream rtsp://cam/live 1920x1080 25 fps"
  std::string description;
};

class LiveSource {
 public:
  virtual ~LiveSource() = default;  // stops
  virtual const LiveSourceInfo& info() const = 0;
  // Ends the capture thread (within ~50 ms, the longest it blocks in a camera wait or a paced
  // sleep; a network URL can block as long as FFmpeg's read does) and closes the LatestFrame
  // (cleanly, unless the thread closed it with an error first). Idempotent.
  virtual void stop() = 0;
  // The capture thread has ended (end of a file without loop, an error, or stop()).
  virtual bool finished() const = 0;
  // Frames skipped as damaged so far (camera frames that did not decode, file packets FFmpeg
  // could not decode).
  virtual int64_t corrupt_frames() const = 0;
};

// open_live_source(), or a stand-in for it (tests).
using LiveSourceOpener =
    std::function<std::unique_ptr<LiveSource>(const LiveSourceOptions&, LatestFrame&, Clock&)>;

// True for inputs opened as V4L2 cameras: paths under /dev/video, and character devices.
bool is_camera_input(const std::string& input);

// Opens the input (errors are thrown here: missing device, permission, unreadable file...) and
// starts the capture thread. `latest` and `clock` must outlive the source.
std::unique_ptr<LiveSource> open_live_source(const LiveSourceOptions& options, LatestFrame& latest,
                                             Clock& clock);

}  // namespace mattecast
