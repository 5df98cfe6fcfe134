// The webcam mode's browser preview: cpp-httplib's HTTP/1.1 server on a background thread, bound
// to 127.0.0.1 by default. The page's files (live/preview/) are embedded at build time.
//
//   GET  /             the preview page (also /index.html), with /app.js and /style.css
//   GET  /stream.mjpg  multipart/x-mixed-replace MJPEG stream of the published frames
//   GET  /stats        the JSON from the stats callback (e.g. LiveStats::to_json)
//   GET  /settings     the current LiveSettings as JSON
//   POST /control      a JSON object of settings to change (Content-Type: application/json):
//                      200 + the new settings, or 400 + {"error": "..."} naming the bad field
//
//   SettingsStore settings(initial, validate);
//   LiveStats stats;
//   PreviewServer server(settings, [&] { return stats.to_json(); }, {.port = 8080});
//   log("preview on " + server.url());
//   for (each output frame) server.publish_frame(rgb, width, height, stride);  // cheap
//
// Every response closes its connection (the page's requests are few). Errors, each with a JSON
// {"error": "..."} body: 400 (malformed), 403 (a Host or Origin that is not this server: DNS
// rebinding, cross-site posts), 404, 405 (wrong method, with Allow), 408 (request not complete in
// time), 411 (POST without Content-Length), 413 (body over 64 KB), 415 (POST not JSON), 431
// (headers over 16 KB), 503 (too many connections). The checks are live/preview/request_policy.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "live/live_settings.h"
#include "mattecast/mattecast.h"

namespace mattecast {

struct PreviewServerOptions {
  std::string bind_address = "127.0.0.1";  // numeric IPv4/IPv6 address, or a host name
  int port = 0;                            // 0: an ephemeral port (see port())
  double max_fps = 15;                     // the stream's encode rate cap
  int jpeg_quality = 80;
  int max_width = 640;            // larger frames are box-downscaled by an integer factor
  int max_connections = 32;       // beyond: 503
  int request_timeout_ms = 5000;  // a request must arrive complete within this
  int send_timeout_ms = 10000;    // a client that accepts no data for this long is dropped
};

class PreviewServer {
 public:
  // JSON text; called on one of the server's threads, one call at a time.
  using StatsCallback = std::function<std::string()>;

  // Binds, listens and starts the server's threads. Throws Error naming the address and port when
  // it cannot listen (port in use, bad address). `settings` must outlive the server.
  PreviewServer(SettingsStore& settings, StatsCallback stats_json,
                PreviewServerOptions options = {});
  // stop()
  ~PreviewServer();
  PreviewServer(const PreviewServer&) = delete;
  PreviewServer& operator=(const PreviewServer&) = delete;

  int port() const;         // the bound port (the ephemeral one for port 0)
  std::string url() const;  // "http://127.0.0.1:PORT/"

  // Offers the latest output frame (packed RGB24, rows `stride` bytes apart) to the stream.
  // Returns at once when no client is watching or the last frame taken is younger than
  // 1/max_fps; otherwise copies (downscaled to <= max_width) and returns: the server's threads
  // encode it once and send it, each client getting the newest frame when it is ready for one
  // (slow clients skip frames). Never waits for a client. Meant for one producer thread (a
  // concurrent call is skipped, not waited for).
  void publish_frame(const uint8_t* rgb, int width, int height, ptrdiff_t stride);
  void publish_frame(const RgbImage& frame) {
    publish_frame(frame.data, frame.width, frame.height, frame.stride);
  }

  int viewers() const;              // connected /stream.mjpg clients
  uint64_t frames_encoded() const;  // JPEGs made for the stream so far

  // Closes the listening socket and every connection and joins the threads (promptly: blocked
  // reads and writes are cut). Idempotent; publish_frame() is a no-op afterwards.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
