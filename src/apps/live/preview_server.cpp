#include "live/preview_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "io/jpeg.h"
#include "live/preview/request_policy.h"

namespace mattecast {

// The page's files, embedded at build time (cmake/embed_file.cmake).
extern const std::string_view kPreviewIndexHtml;
extern const std::string_view kPreviewAppJs;
extern const std::string_view kPreviewStyleCss;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxDrainBytes = 256 * 1024;
constexpr milliseconds kDrainTime(500);   // after a response: read what the client still sends
constexpr int kRefusalWorkers = 4;        // threads beyond max_connections, to answer 503 at once
constexpr milliseconds kViewerCheck(50);  // how often a stream without new frames checks its viewer
constexpr std::string_view kBoundary = "mattecastframe";

std::string error_json(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

// For errors cpp-httplib answers itself, with no body of ours.
std::string describe_status(int status) {
  switch (status) {
    case 400:
      return "malformed request";
    case 408:
      return "request not received in time";
    case 413:
      return "request body exceeds 64 KB";
    case 414:
      return "request target too long";
    case 416:
      return "invalid Range";
    case 431:
      return "request headers exceed 16 KB";
    default:
      return fmt::format("request refused (HTTP {})", status);
  }
}

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, std::numeric_limits<int>::max()));
}

// One connection as cpp-httplib reads and writes it. The request must arrive within a deadline
// and a byte budget (the head's, until allow_body()); a write waits at most send_timeout for the
// client. Never blocks past those: each recv and send follows a poll and does not wait.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, Clock::time_point request_deadline, milliseconds send_timeout)
      : fd_(fd), deadline_(request_deadline), send_timeout_(send_timeout) {}

  void allow_body(size_t bytes) { budget_ = kPreviewMaxHeadBytes + bytes; }
  bool timed_out() const { return timed_out_; }
  bool over_budget() const { return over_budget_; }
  bool wrote_anything() const { return written_ > 0; }

  bool is_readable() const override { return next_ < filled_ || wait(POLLIN, poll_ms(deadline_)); }

  // Whether the client is still there: what a stream asks between frames.
  bool is_writable() const override {
    pollfd p{fd_, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  ssize_t read(char* out, size_t size) override {
    if (next_ == filled_ && !refill()) return timed_out_ || over_budget_ ? -1 : 0;
    const size_t n = std::min(size, filled_ - next_);
    std::memcpy(out, buffer_ + next_, n);
    next_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* data, size_t size) override {
    if (!wait(POLLOUT, static_cast<int>(send_timeout_.count()))) return -1;
    ssize_t sent;
    do sent = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent > 0) written_ += static_cast<size_t>(sent);
    return sent < 0 && errno == EAGAIN ? 0 : sent;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  bool wait(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    int ready;
    do ready = ::poll(&p, 1, timeout_ms);
    while (ready < 0 && errno == EINTR);
    return ready > 0;
  }

  // Reads what has arrived into the buffer; false at EOF, on an error, the deadline or the budget.
  bool refill() {
    next_ = filled_ = 0;
    if (received_ >= budget_) {
      over_budget_ = true;
      return false;
    }
    if (!wait(POLLIN, poll_ms(deadline_))) {
      timed_out_ = Clock::now() >= deadline_;
      return false;
    }
    ssize_t n;
    do n = ::recv(fd_, buffer_, std::min(sizeof(buffer_), budget_ - received_), MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    filled_ = static_cast<size_t>(n);
    received_ += filled_;
    return true;
  }

  template <class Getter>
  void address_of(Getter getter, std::string& ip, int& port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    char text[INET6_ADDRSTRLEN] = "";
    port = 0;
    if (getter(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
    if (address.ss_family == AF_INET) {
      const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
      ::inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
      port = ntohs(in4->sin_port);
    } else if (address.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  Clock::time_point deadline_;
  milliseconds send_timeout_;
  size_t budget_ = kPreviewMaxHeadBytes;
  size_t received_ = 0, written_ = 0;
  bool timed_out_ = false, over_budget_ = false;
  char buffer_[4096];
  size_t next_ = 0, filled_ = 0;
};

// cpp-httplib runs a connection's request and handlers on one worker thread: its stream, for the
// handlers that need it.
thread_local ConnectionStream* t_connection = nullptr;

// A response written outside cpp-httplib: to a connection refused before it is read, or whose
// request never arrived.
void send_refusal(int fd, int status, std::string_view reason, std::string_view message) {
  const std::string body = error_json(message);
  const std::string response = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n{}",
      status, reason, body.size(), body);
  [[maybe_unused]] const ssize_t n =
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Half-closes and reads what the client still sends, so that closing does not reset the
// connection before the client has read the response.
void drain(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = Clock::now() + kDrainTime;
  char discard[16384];
  for (size_t drained = 0; drained < kMaxDrainBytes;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, poll_ms(deadline)) <= 0) break;
    const ssize_t n = ::recv(fd, discard, sizeof(discard), MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
}

// cpp-httplib's server with each connection admitted (503 beyond max_connections), read through
// a ConnectionStream with the options' limits, answered once and closed, and cut when stopping.
class PreviewHttpServer final : public httplib::Server {
 public:
  explicit PreviewHttpServer(const PreviewServerOptions& options) : options_(options) {
    const size_t workers =
        static_cast<size_t>(std::max(1, options.max_connections)) + kRefusalWorkers;
    new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    // Not cpp-httplib's SO_REUSEPORT, which would let a second server share the port.
    set_socket_options([](socket_t sock) {
      const int one = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    });
    set_payload_max_length(kPreviewMaxBodyBytes);
  }

  int listening_socket() const { return svr_sock_; }

  // Ends the blocking reads and writes of every connection; later ones are closed unanswered.
  void cut_connections() {
    std::lock_guard lock(mutex_);
    cut_ = true;
    for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    const int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool admitted = false;
    {
      std::lock_guard lock(mutex_);
      if (cut_) {
        ::close(sock);
        return true;
      }
      admitted = admitted_ < options_.max_connections;
      admitted_ += admitted ? 1 : 0;
      sockets_.insert(sock);
    }
    if (admitted) {
      serve(sock);
    } else {
      send_refusal(sock, 503, "Service Unavailable", "too many connections");
    }
    drain(sock);
    {
      std::lock_guard lock(mutex_);
      admitted_ -= admitted ? 1 : 0;
      sockets_.erase(sock);  // before close: cut_connections() never meets a reused number
    }
    ::close(sock);
    return true;
  }

  void serve(int sock) {
    ConnectionStream stream(sock, Clock::now() + milliseconds(options_.request_timeout_ms),
                            milliseconds(options_.send_timeout_ms));
    t_connection = &stream;
    bool connection_closed = false;
    process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
    t_connection = nullptr;
    // cpp-httplib answers nothing when the request line itself never arrives.
    if (stream.wrote_anything()) return;
    if (stream.timed_out())
      send_refusal(sock, 408, "Request Timeout", describe_status(408));
    else if (stream.over_budget())
      send_refusal(sock, 431, "Request Header Fields Too Large", describe_status(431));
  }

  const PreviewServerOptions& options_;
  std::mutex mutex_;
  std::set<int> sockets_;
  int admitted_ = 0;
  bool cut_ = false;
};

// Integer-factor box downscale to at most max_width pixels wide (a plain packed copy at factor 1).
void downscale(const uint8_t* rgb, int w, int h, ptrdiff_t stride, int max_width,
               std::vector<uint8_t>& out, std::vector<uint32_t>& acc, int& out_w, int& out_h) {
  const int f = max_width > 0 ? std::max(1, (w + max_width - 1) / max_width) : 1;
  out_w = std::max(1, w / f);
  out_h = std::max(1, h / f);
  out.resize(static_cast<size_t>(out_w) * static_cast<size_t>(out_h) * 3);
  const size_t row_bytes = static_cast<size_t>(out_w) * 3;
  if (f == 1) {
    for (int y = 0; y < out_h; ++y)
      std::memcpy(out.data() + static_cast<size_t>(y) * row_bytes, rgb + y * stride, row_bytes);
    return;
  }
  acc.resize(row_bytes);
  for (int oy = 0; oy < out_h; ++oy) {
    std::fill(acc.begin(), acc.end(), 0u);
    const int y0 = oy * f;
    const int y1 = std::min(h, y0 + f);
    for (int y = y0; y < y1; ++y) {
      const uint8_t* src = rgb + y * stride;
      for (int ox = 0; ox < out_w; ++ox) {
        uint32_t* a = acc.data() + static_cast<size_t>(ox) * 3;
        const uint8_t* p = src + static_cast<ptrdiff_t>(ox) * f * 3;
        for (int k = 0; k < f; ++k, p += 3) {
          a[0] += p[0];
          a[1] += p[1];
          a[2] += p[2];
        }
      }
    }
    const uint32_t count = static_cast<uint32_t>((y1 - y0) * f);
    uint8_t* dst = out.data() + static_cast<size_t>(oy) * row_bytes;
    for (size_t i = 0; i < row_bytes; ++i)
      dst[i] = static_cast<uint8_t>((acc[i] + count / 2) / count);
  }
}

// The head the request policy judges: the client's headers, without those cpp-httplib adds.
PreviewRequestHead head_of(const httplib::Request& req) {
  PreviewRequestHead head{req.method, req.target, req.path, req.version, {}};
  for (const auto& [name, value] : req.headers)
    if (name != "REMOTE_ADDR" && name != "REMOTE_PORT" && name != "LOCAL_ADDR" &&
        name != "LOCAL_PORT")
      head.headers.emplace_back(name, value);
  return head;
}

}  // namespace

struct PreviewServer::Impl {
  using Request = httplib::Request;
  using Response = httplib::Response;
  using JpegPtr = std::shared_ptr<const std::vector<uint8_t>>;

  SettingsStore& settings;
  StatsCallback stats_json;
  std::mutex stats_mutex;
  PreviewServerOptions options;
  PreviewHttpServer http{options};
  int bound_port = 0;
  std::string display_address;
  bool loopback = false;

  std::thread thread;
  std::mutex stop_mutex;
  std::atomic<bool> listen_returned{false};
  std::atomic<bool> stopping{false};
  std::atomic<int> viewer_count{0};
  std::atomic<uint64_t> encoded{0};

  // Producer side (publish_frame).
  std::mutex producer_mutex;
  std::vector<uint8_t> staging;
  std::vector<uint32_t> staging_acc;
  Clock::time_point last_publish{};
  // Hand-over to the viewers: the newest downscaled frame and how many have been handed over.
  std::mutex frame_mutex;
  std::condition_variable frame_published;
  std::vector<uint8_t> pending;
  int pending_w = 0, pending_h = 0;
  uint64_t published = 0;
  // The newest JPEG, made by whichever viewer first wants the newest hand-over.
  std::mutex jpeg_mutex;
  JpegEncoder encoder;
  std::vector<uint8_t> encode_src;
  JpegPtr latest;
  uint64_t latest_seq = 0;

  Impl(SettingsStore& s, StatsCallback stats, PreviewServerOptions o)
      : settings(s), stats_json(std::move(stats)), options(std::move(o)) {}

  void start();
  void note_bound_address();
  void install_checks();
  void install_routes();
  bool refuse(const Request& req, Response& res) const;
  void start_stream(Response& res);
  bool provide_frame(uint64_t& sent_seq, httplib::DataSink& sink);
  std::pair<JpegPtr, uint64_t> newest_jpeg();
};

void PreviewServer::Impl::start() {
  if (options.port < 0 || options.port > 65535)
    throw Error(fmt::format("preview server: invalid port {}", options.port));
  const std::string where = options.bind_address.find(':') != std::string::npos
                                ? fmt::format("[{}]:{}", options.bind_address, options.port)
                                : fmt::format("{}:{}", options.bind_address, options.port);
  errno = 0;  // cpp-httplib only says it failed; the errno its bind() left says why
  const bool bound = options.port == 0 ? http.bind_to_any_port(options.bind_address) > 0
                                       : http.bind_to_port(options.bind_address, options.port);
  if (!bound) {
    const std::string reason = errno != 0 ? std::strerror(errno) : "no usable address";
    throw Error(fmt::format("preview server: cannot listen on {}: {}", where, reason));
  }
  note_bound_address();
  install_checks();
  install_routes();
  thread = std::thread([this] {
    http.listen_after_bind();
    listen_returned.store(true);
  });
  // cpp-httplib's stop() does nothing until the accept loop runs.
  while (!http.is_running() && !listen_returned.load())
    std::this_thread::sleep_for(milliseconds(1));
}

void PreviewServer::Impl::note_bound_address() {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  ::getsockname(http.listening_socket(), reinterpret_cast<sockaddr*>(&address), &length);
  char name[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    bound_port = ntohs(in6->sin6_port);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, name, sizeof(name));
    display_address = fmt::format("[{}]", name);
    loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  } else {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
    bound_port = ntohs(in4->sin_port);
    ::inet_ntop(AF_INET, &in4->sin_addr, name, sizeof(name));
    display_address = name;
    loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
  }
}

// Fills `res` with the refusal when the request policy refuses the request.
bool PreviewServer::Impl::refuse(const Request& req, Response& res) const {
  const std::optional<PreviewRefusal> refusal = refuse_preview_request(head_of(req), loopback);
  if (!refusal) return false;
  res.status = refusal->status;
  if (!refusal->allow.empty()) res.set_header("Allow", refusal->allow);
  res.set_content(error_json(refusal->message), "application/json");
  return true;
}

void PreviewServer::Impl::install_checks() {
  using Handled = httplib::Server::HandlerResponse;
  http.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});
  http.set_pre_routing_handler([this](const Request& req, Response& res) {
    if (refuse(req, res)) return Handled::Handled;
    if (t_connection) t_connection->allow_body(kPreviewMaxBodyBytes);
    return Handled::Unhandled;
  });
  // A refused request's body is not wanted: no "100 Continue" for it.
  http.set_expect_100_continue_handler(
      [this](const Request& req, Response& res) { return refuse(req, res) ? res.status : 100; });
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    // cpp-httplib says 400 for a request cut short by the deadline or the head's budget.
    if (res.status == 400 && t_connection && t_connection->timed_out()) res.status = 408;
    if (res.status == 400 && t_connection && t_connection->over_budget()) res.status = 431;
    if (res.body.empty())
      res.set_content(error_json(describe_status(res.status)), "application/json");
    return Handled::Handled;
  }));
  http.set_exception_handler([](const Request&, Response& res, std::exception_ptr error) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(error_json(message), "application/json");
  });
}

void PreviewServer::Impl::install_routes() {
  auto file = [](std::string_view body, const char* type) {
    return [body, type](const Request&, Response& res) {
      res.set_content(body.data(), body.size(), type);
    };
  };
  http.Get("/", file(kPreviewIndexHtml, "text/html; charset=utf-8"));
  http.Get(R"(/index\.html)", file(kPreviewIndexHtml, "text/html; charset=utf-8"));
  http.Get(R"(/app\.js)", file(kPreviewAppJs, "text/javascript; charset=utf-8"));
  http.Get(R"(/style\.css)", file(kPreviewStyleCss, "text/css; charset=utf-8"));
  http.Get(R"(/stream\.mjpg)", [this](const Request&, Response& res) { start_stream(res); });
  http.Get("/stats", [this](const Request&, Response& res) {
    std::lock_guard lock(stats_mutex);  // the callback is never called concurrently
    res.set_content(stats_json ? stats_json() : "{}", "application/json");
  });
  http.Get("/settings", [this](const Request&, Response& res) {
    res.set_content(settings.to_json(), "application/json");
  });
  http.Post("/control", [this](const Request& req, Response& res) {
    const SettingsUpdate update = settings.apply_json(req.body);
    if (!update.ok) res.status = 400;
    res.set_content(update.ok ? update.settings_json : error_json(update.error),
                    "application/json");
  });
}

// A multipart/x-mixed-replace response without a length: parts until the viewer leaves or the
// server stops, then the connection closes.
void PreviewServer::Impl::start_stream(Response& res) {
  viewer_count.fetch_add(1, std::memory_order_acq_rel);
  uint64_t sent_seq;
  {
    std::lock_guard lock(frame_mutex);
    sent_seq = published;  // only frames published from now on
  }
  res.set_content_provider(
      fmt::format("multipart/x-mixed-replace; boundary={}", kBoundary),
      [this, sent_seq, started = false](size_t, httplib::DataSink& sink) mutable {
        if (!std::exchange(started, true)) {
          const std::string opening = fmt::format("--{}\r\n", kBoundary);
          return sink.write(opening.data(), opening.size());
        }
        return provide_frame(sent_seq, sink);
      },
      [this](bool) { viewer_count.fetch_sub(1, std::memory_order_acq_rel); });
}

// Waits a little for a frame newer than `sent_seq` and sends it; false ends the stream.
bool PreviewServer::Impl::provide_frame(uint64_t& sent_seq, httplib::DataSink& sink) {
  {
    std::unique_lock lock(frame_mutex);
    frame_published.wait_for(lock, kViewerCheck,
                             [&] { return stopping.load() || published > sent_seq; });
    if (stopping.load()) return false;
  }
  if (!sink.is_writable()) return false;  // the viewer has gone
  const auto [jpeg, seq] = newest_jpeg();
  if (!jpeg || seq <= sent_seq) return true;
  sent_seq = seq;
  const std::string part_head =
      fmt::format("Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", jpeg->size());
  const std::string part_tail = fmt::format("\r\n--{}\r\n", kBoundary);
  return sink.write(part_head.data(), part_head.size()) &&
         sink.write(reinterpret_cast<const char*>(jpeg->data()), jpeg->size()) &&
         sink.write(part_tail.data(), part_tail.size());
}

// The JPEG of the newest hand-over, encoded once however many viewers ask.
std::pair<PreviewServer::Impl::JpegPtr, uint64_t> PreviewServer::Impl::newest_jpeg() {
  std::lock_guard encoding(jpeg_mutex);
  int w = 0, h = 0;
  uint64_t seq = 0;
  {
    std::lock_guard lock(frame_mutex);
    if (published == latest_seq) return {latest, latest_seq};
    std::swap(pending, encode_src);
    w = pending_w;
    h = pending_h;
    seq = published;
  }
  latest_seq = seq;
  try {
    auto jpeg = std::make_shared<std::vector<uint8_t>>();
    encoder.encode(encode_src.data(), w, h, static_cast<ptrdiff_t>(w) * 3, options.jpeg_quality,
                   *jpeg);
    latest = std::move(jpeg);
    encoded.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception&) {
    // A broken frame is skipped: the viewers get the previous one again.
  }
  return {latest, latest_seq};
}

PreviewServer::PreviewServer(SettingsStore& settings, StatsCallback stats_json,
                             PreviewServerOptions options)
    : impl_(std::make_unique<Impl>(settings, std::move(stats_json), std::move(options))) {
  impl_->start();
}

PreviewServer::~PreviewServer() { stop(); }

int PreviewServer::port() const { return impl_->bound_port; }

std::string PreviewServer::url() const {
  return fmt::format("http://{}:{}/", impl_->display_address, impl_->bound_port);
}

int PreviewServer::viewers() const { return impl_->viewer_count.load(std::memory_order_acquire); }

uint64_t PreviewServer::frames_encoded() const {
  return impl_->encoded.load(std::memory_order_relaxed);
}

void PreviewServer::stop() {
  Impl& im = *impl_;
  std::lock_guard lock(im.stop_mutex);
  if (!im.thread.joinable()) return;
  {
    std::lock_guard frames(im.frame_mutex);
    im.stopping.store(true);
  }
  im.frame_published.notify_all();
  im.http.stop();
  im.http.cut_connections();
  im.thread.join();
}

void PreviewServer::publish_frame(const uint8_t* rgb, int width, int height, ptrdiff_t stride) {
  Impl& im = *impl_;
  if (im.viewer_count.load(std::memory_order_relaxed) == 0 ||
      im.stopping.load(std::memory_order_relaxed))
    return;
  if (!rgb || width <= 0 || height <= 0 || stride < static_cast<ptrdiff_t>(width) * 3) return;
  std::unique_lock producer(im.producer_mutex, std::try_to_lock);
  if (!producer.owns_lock()) return;
  const Clock::time_point now = Clock::now();
  const double interval_s = im.options.max_fps > 0 ? 1.0 / im.options.max_fps : 0.0;
  // 10% slack: a 30 fps source gives every second frame at 15 fps despite jitter.
  if (im.last_publish != Clock::time_point{} &&
      std::chrono::duration<double>(now - im.last_publish).count() < 0.9 * interval_s)
    return;
  im.last_publish = now;
  int w = 0, h = 0;
  downscale(rgb, width, height, stride, im.options.max_width, im.staging, im.staging_acc, w, h);
  {
    std::lock_guard lock(im.frame_mutex);
    std::swap(im.staging, im.pending);
    im.pending_w = w;
    im.pending_h = h;
    ++im.published;
  }
  im.frame_published.notify_all();
}

}  // namespace mattecast
