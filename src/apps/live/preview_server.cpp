#include "live/preview_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "io/jpeg.h"

namespace mattecast {

namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr size_t kMaxDrainBytes = 256 * 1024;
constexpr int64_t kDrainNs = 500'000'000;  // after a response: read what the client still sends
constexpr const char* kBoundary = "mattecastframe";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string make_response(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers = {}, bool head_only = false) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\n{}Connection: close\r\n\r\n",
      status, reason_phrase(status), content_type, body.size(), extra_headers);
  if (!head_only) out.append(body);
  return out;
}

std::string error_response(int status, std::string_view message, std::string_view extra_headers = {}) {
  const std::string body = nlohmann::json{{"error", message}}.dump() + "\n";
  return make_response(status, "application/json", body, extra_headers);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

struct Request {
  std::string method, target, path;
  bool http10 = false;
  std::optional<size_t> content_length;
  bool chunked = false;
  std::optional<std::string> host, origin, content_type;
  size_t header_bytes = 0;  // up to and including the blank line
};

struct ParseError {
  int status;
  std::string message;
};

enum class Parse { incomplete, headers_done };

// Parses the request line and headers from `in`. Returns incomplete until the blank line arrives;
// throws ParseError for anything malformed or too large.
Parse parse_head(std::string_view in, Request& req) {
  const size_t line_end = in.find("\r\n");
  if (line_end == std::string_view::npos) {
    if (in.size() > kMaxHeaderBytes) throw ParseError{400, "request line too long"};
    // Reject obvious garbage early: a request line holds printable ASCII only.
    for (char c : in)
      if (c != '\r' && (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e))
        throw ParseError{400, "malformed request line"};
    return Parse::incomplete;
  }
  // Request line: METHOD SP TARGET SP HTTP/1.x
  const std::string_view line = in.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    throw ParseError{400, "malformed request line"};
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || method.size() > 16 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    throw ParseError{400, "malformed request method"};
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(),
                   [](char c) { return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f; }))
    throw ParseError{400, "malformed request target"};
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7])))
    throw ParseError{400, "malformed HTTP version"};
  if (version[5] != '1') throw ParseError{505, "only HTTP/1.x is supported"};

  const size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (in.size() > kMaxHeaderBytes) throw ParseError{431, "request headers exceed 16 KB"};
    return Parse::incomplete;
  }
  if (end + 4 > kMaxHeaderBytes) throw ParseError{431, "request headers exceed 16 KB"};

  req.method = std::string(method);
  req.target = std::string(target);
  req.path = req.target.substr(0, req.target.find('?'));
  req.http10 = version[7] == '0';
  req.header_bytes = end + 4;

  size_t pos = line_end + 2;
  while (pos < end + 2) {
    const size_t eol = in.find("\r\n", pos);
    const std::string_view header = in.substr(pos, eol - pos);
    pos = eol + 2;
    if (header.empty()) break;
    if (header.front() == ' ' || header.front() == '\t') throw ParseError{400, "folded header lines are not supported"};
    const size_t colon = header.find(':');
    if (colon == std::string_view::npos || colon == 0) throw ParseError{400, "malformed header line"};
    const std::string_view name = header.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) throw ParseError{400, "malformed header name"};
    const std::string_view value = trim(header.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        throw ParseError{400, "control character in a header value"};
    if (iequals(name, "Content-Length")) {
      if (value.empty() || value.size() > 12 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw ParseError{400, "invalid Content-Length"};
      const size_t length = std::stoull(std::string(value));
      if (req.content_length && *req.content_length != length) throw ParseError{400, "conflicting Content-Length headers"};
      req.content_length = length;
    } else if (iequals(name, "Transfer-Encoding")) {
      req.chunked = true;
    } else if (iequals(name, "Host")) {
      if (req.host) throw ParseError{400, "more than one Host header"};
      req.host = std::string(value);
    } else if (iequals(name, "Origin")) {
      req.origin = std::string(value);
    } else if (iequals(name, "Content-Type")) {
      req.content_type = std::string(value);
    }
  }
  if (req.chunked) throw ParseError{411, "Transfer-Encoding is not supported; send a Content-Length"};
  if (req.content_length && *req.content_length > kMaxBodyBytes) throw ParseError{413, "request body exceeds 64 KB"};
  return Parse::headers_done;
}

// The host name part of a Host header value ("localhost:8080" → "localhost", "[::1]:80" → "[::1]").
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

bool is_loopback_name(std::string_view name) {
  return iequals(name, "localhost") || name == "[::1]" || name.substr(0, 4) == "127.";
}

// Integer-factor box downscale to at most max_width pixels wide (a plain packed copy at factor 1).
void downscale(const uint8_t* rgb, int w, int h, ptrdiff_t stride, int max_width, std::vector<uint8_t>& out,
               std::vector<uint32_t>& acc, int& out_w, int& out_h) {
  const int f = max_width > 0 ? std::max(1, (w + max_width - 1) / max_width) : 1;
  out_w = std::max(1, w / f);
  out_h = std::max(1, h / f);
  out.resize(static_cast<size_t>(out_w) * static_cast<size_t>(out_h) * 3);
  const size_t row_bytes = static_cast<size_t>(out_w) * 3;
  if (f == 1) {
    for (int y = 0; y < out_h; ++y) std::memcpy(out.data() + static_cast<size_t>(y) * row_bytes, rgb + y * stride, row_bytes);
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
    for (size_t i = 0; i < row_bytes; ++i) dst[i] = static_cast<uint8_t>((acc[i] + count / 2) / count);
  }
}

extern const char kPreviewPage[];

}  // namespace

struct PreviewServer::Impl {
  struct Connection {
    int fd = -1;
    enum class State { reading, writing, streaming, draining } state = State::reading;
    std::string in;
    // Output: head, then body (a shared JPEG), then tail.
    std::string head;
    size_t head_pos = 0;
    std::shared_ptr<const std::vector<uint8_t>> body;
    size_t body_pos = 0;
    std::string tail;
    size_t tail_pos = 0;
    int64_t deadline_ns = 0;       // reading: the request's; draining: when to close
    int64_t last_progress_ns = 0;  // output
    uint64_t sent_seq = 0;         // streaming: the last frame sent (or the one current at connect)
    size_t drained = 0;
    bool closed = false;

    bool pending() const {
      return head_pos < head.size() || (body && body_pos < body->size()) || tail_pos < tail.size();
    }
  };

  SettingsStore& settings;
  StatsCallback stats_json;
  PreviewServerOptions options;
  int listen_fd = -1;
  int wake_fd = -1;
  int bound_port = 0;
  std::string display_address;
  bool loopback = false;

  std::thread thread;
  std::mutex stop_mutex;
  std::atomic<bool> stopping{false};
  std::atomic<int> viewer_count{0};
  std::atomic<uint64_t> encoded{0};

  // Producer side (publish_frame).
  std::mutex producer_mutex;
  std::vector<uint8_t> staging;
  std::vector<uint32_t> staging_acc;
  int64_t last_publish_ns = 0;
  // Hand-over to the server thread.
  std::mutex frame_mutex;
  std::vector<uint8_t> pending;
  int pending_w = 0, pending_h = 0;
  bool pending_new = false;

  // Server thread only.
  std::vector<uint8_t> encode_src;
  JpegEncoder encoder;
  std::shared_ptr<std::vector<uint8_t>> latest, spare;
  uint64_t seq = 0;
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<pollfd> pollfds;

  Impl(SettingsStore& s, StatsCallback stats, PreviewServerOptions o)
      : settings(s), stats_json(std::move(stats)), options(std::move(o)) {}

  ~Impl() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void listen_on() {
    if (options.port < 0 || options.port > 65535)
      throw Error(fmt::format("preview server: invalid port {}", options.port));
    const std::string where = options.bind_address.find(':') != std::string::npos
                                  ? fmt::format("[{}]:{}", options.bind_address, options.port)
                                  : fmt::format("{}:{}", options.bind_address, options.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port_text = std::to_string(options.port);
    if (const int rc = ::getaddrinfo(options.bind_address.c_str(), port_text.c_str(), &hints, &found); rc != 0)
      throw Error(fmt::format("preview server: cannot listen on {}: {}", where, ::gai_strerror(rc)));
    std::string failure = "no usable address";
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
      const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        failure = std::strerror(errno);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
        failure = std::strerror(errno);
        ::close(fd);
        continue;
      }
      listen_fd = fd;
      char name[INET6_ADDRSTRLEN] = "";
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      if (addr.ss_family == AF_INET) {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(&addr);
        bound_port = ntohs(in4->sin_port);
        ::inet_ntop(AF_INET, &in4->sin_addr, name, sizeof(name));
        display_address = name;
        loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
      } else {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        bound_port = ntohs(in6->sin6_port);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, name, sizeof(name));
        display_address = fmt::format("[{}]", name);
        loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
      }
      break;
    }
    ::freeaddrinfo(found);
    if (listen_fd < 0) throw Error(fmt::format("preview server: cannot listen on {}: {}", where, failure));
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) throw Error(fmt::format("preview server: eventfd: {}", std::strerror(errno)));
  }

  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof(one));
  }

  // --- the server thread ---

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      pollfds.clear();
      pollfds.push_back({wake_fd, POLLIN, 0});
      pollfds.push_back({listen_fd, POLLIN, 0});  // always accepted: beyond the limit, a 503
      int64_t next_deadline = now_ns() + 1'000'000'000;
      for (const auto& c : connections) {
        short events = 0;
        switch (c->state) {
          case Connection::State::reading:
          case Connection::State::draining:
            events = POLLIN;
            next_deadline = std::min(next_deadline, c->deadline_ns);
            break;
          case Connection::State::writing:
          case Connection::State::streaming:
            events = static_cast<short>(c->state == Connection::State::streaming ? POLLIN : 0);
            if (c->pending()) {
              events |= POLLOUT;
              next_deadline = std::min(next_deadline, c->last_progress_ns + int64_t{options.send_timeout_ms} * 1'000'000);
            }
            break;
        }
        pollfds.push_back({c->fd, events, 0});
      }
      const int64_t wait_ns = std::max<int64_t>(0, next_deadline - now_ns());
      const int rc = ::poll(pollfds.data(), pollfds.size(), static_cast<int>((wait_ns + 999'999) / 1'000'000));
      if (rc < 0 && errno != EINTR) break;
      if (stopping.load(std::memory_order_acquire)) break;

      if (pollfds[0].revents & POLLIN) {
        uint64_t count = 0;
        [[maybe_unused]] const ssize_t n = ::read(wake_fd, &count, sizeof(count));
        encode_pending();
      }
      // Connections first (their pollfds are in order), then new ones.
      const int64_t now = now_ns();
      for (size_t i = 0; i < connections.size(); ++i) {
        Connection& c = *connections[i];
        const short revents = pollfds[i + 2].revents;
        if (revents & POLLNVAL) {
          c.closed = true;
          continue;
        }
        service(c, revents, now);
      }
      if (pollfds[1].revents & POLLIN) accept_all();
      feed_streams();
      reap();
    }
    for (auto& c : connections) ::close(c->fd);
    connections.clear();
    viewer_count.store(0, std::memory_order_release);
    ::close(listen_fd);
    listen_fd = -1;
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: retried at the next poll
      if (static_cast<int>(connections.size()) >= options.max_connections) {
        const std::string busy = error_response(503, "too many connections");
        [[maybe_unused]] const ssize_t n = ::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->deadline_ns = now_ns() + int64_t{options.request_timeout_ms} * 1'000'000;
      connections.push_back(std::move(c));
    }
  }

  void service(Connection& c, short revents, int64_t now) {
    using State = Connection::State;
    if (c.state == State::reading || c.state == State::draining || c.state == State::streaming) {
      if (revents & (POLLIN | POLLHUP | POLLERR)) read_from(c, now);
      if (c.closed) return;
    }
    if ((c.state == State::writing || c.state == State::streaming) && (revents & (POLLOUT | POLLERR | POLLHUP)))
      write_to(c, now);
    if (c.closed) return;
    // Timeouts.
    if (c.state == State::reading && now >= c.deadline_ns) {
      respond(c, error_response(408, "request not received in time"), now);
    } else if (c.state == State::draining && now >= c.deadline_ns) {
      c.closed = true;
    } else if ((c.state == State::writing || c.state == State::streaming) && c.pending() &&
               now - c.last_progress_ns >= int64_t{options.send_timeout_ms} * 1'000'000) {
      c.closed = true;
    }
  }

  void read_from(Connection& c, int64_t now) {
    using State = Connection::State;
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
      if (n == 0) {  // the client is done sending
        if (c.state == State::reading && !c.in.empty()) {
          // A half-closed client still gets its answer if the request is complete.
          handle_request(c, now, /*eof=*/true);
          if (c.state == State::reading) c.closed = true;
        } else if (c.state != State::writing) {
          c.closed = true;
        }
        return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.closed = true;
        return;
      }
      if (c.state == State::reading) {
        c.in.append(buffer, static_cast<size_t>(n));
        handle_request(c, now, false);
        if (c.state != State::reading) return;  // answered: what follows is not read
      } else {
        c.drained += static_cast<size_t>(n);   // draining / streaming: discarded
        if (c.drained > kMaxDrainBytes) {
          c.closed = true;
          return;
        }
      }
    }
  }

  void handle_request(Connection& c, int64_t now, bool eof) {
    Request req;
    try {
      if (parse_head(c.in, req) == Parse::incomplete) {
        if (eof) respond(c, error_response(400, "incomplete request"), now);
        return;
      }
    } catch (const ParseError& e) {
      respond(c, error_response(e.status, e.message), now);
      return;
    }
    const size_t length = req.content_length.value_or(0);
    if (c.in.size() < req.header_bytes + length) {
      if (eof) respond(c, error_response(400, "incomplete request body"), now);
      return;
    }
    const std::string_view body = std::string_view(c.in).substr(req.header_bytes, length);
    try {
      route(c, req, body, now);
    } catch (const std::exception& e) {  // out of memory and the like: never the server thread
      respond(c, error_response(500, e.what()), now);
    }
  }

  void route(Connection& c, const Request& req, std::string_view body, int64_t now) {
    if (!req.http10 && !req.host) return respond(c, error_response(400, "missing Host header"), now);
    if (loopback && req.host && !is_loopback_name(host_name(*req.host)))
      return respond(c, error_response(403, fmt::format("host '{}' is not this server", *req.host)), now);
    const bool get = req.method == "GET";
    const bool head = req.method == "HEAD";
    if (req.path == "/" || req.path == "/index.html") {
      if (!get && !head) return respond(c, error_response(405, "use GET", "Allow: GET, HEAD\r\n"), now);
      return respond(c, make_response(200, "text/html; charset=utf-8", kPreviewPage, {}, head), now);
    }
    if (req.path == "/stream.mjpg") {
      if (!get) return respond(c, error_response(405, "use GET", "Allow: GET\r\n"), now);
      return start_stream(c, now);
    }
    if (req.path == "/stats") {
      if (!get && !head) return respond(c, error_response(405, "use GET", "Allow: GET, HEAD\r\n"), now);
      std::string json = "{}";
      try {
        if (stats_json) json = stats_json();
      } catch (const std::exception& e) {
        return respond(c, error_response(500, fmt::format("stats: {}", e.what())), now);
      }
      return respond(c, make_response(200, "application/json", json, {}, head), now);
    }
    if (req.path == "/settings") {
      if (!get && !head) return respond(c, error_response(405, "use GET", "Allow: GET, HEAD\r\n"), now);
      return respond(c, make_response(200, "application/json", settings.to_json(), {}, head), now);
    }
    if (req.path == "/control") {
      if (req.method != "POST") return respond(c, error_response(405, "use POST", "Allow: POST\r\n"), now);
      // A JSON content type keeps other sites' pages from posting here (it needs a CORS
      // preflight, which this server does not grant); a foreign Origin is refused outright.
      if (!req.content_type || !iequals(trim(std::string_view(*req.content_type).substr(0, req.content_type->find(';'))),
                                        "application/json"))
        return respond(c, error_response(415, "send the settings as Content-Type: application/json"), now);
      if (req.origin && (!req.host || *req.origin != "http://" + *req.host))
        return respond(c, error_response(403, fmt::format("origin '{}' may not change settings", *req.origin)), now);
      if (!req.content_length) return respond(c, error_response(411, "POST needs a Content-Length"), now);
      const SettingsUpdate update = settings.apply_json(body);
      if (!update.ok) return respond(c, error_response(400, update.error), now);
      return respond(c, make_response(200, "application/json", update.settings_json), now);
    }
    return respond(c, error_response(404, fmt::format("no such page: {}", req.path)), now);
  }

  void respond(Connection& c, std::string response, int64_t now) {
    c.state = Connection::State::writing;
    c.head = std::move(response);
    c.head_pos = 0;
    c.last_progress_ns = now;
    c.in.clear();
    c.in.shrink_to_fit();
    write_to(c, now);
  }

  void start_stream(Connection& c, int64_t now) {
    c.state = Connection::State::streaming;
    c.head = fmt::format(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary={0}\r\n"
        "Cache-Control: no-store, no-cache, must-revalidate\r\nPragma: no-cache\r\n"
        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n--{0}\r\n",
        kBoundary);
    c.head_pos = 0;
    c.sent_seq = seq;  // only frames published from now on
    c.last_progress_ns = now;
    c.in.clear();
    c.in.shrink_to_fit();
    viewer_count.fetch_add(1, std::memory_order_acq_rel);
    write_to(c, now);
  }

  void write_to(Connection& c, int64_t now) {
    while (c.pending()) {
      iovec iov[3];
      int count = 0;
      if (c.head_pos < c.head.size()) iov[count++] = {c.head.data() + c.head_pos, c.head.size() - c.head_pos};
      if (c.body && c.body_pos < c.body->size())
        iov[count++] = {const_cast<uint8_t*>(c.body->data()) + c.body_pos, c.body->size() - c.body_pos};
      if (c.tail_pos < c.tail.size()) iov[count++] = {c.tail.data() + c.tail_pos, c.tail.size() - c.tail_pos};
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      const ssize_t sent = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.closed = true;
        return;
      }
      c.last_progress_ns = now;
      size_t left = static_cast<size_t>(sent);
      auto advance = [&left](size_t& pos, size_t size) {
        const size_t step = std::min(left, size - std::min(pos, size));
        pos += step;
        left -= step;
      };
      advance(c.head_pos, c.head.size());
      if (c.body) advance(c.body_pos, c.body->size());
      advance(c.tail_pos, c.tail.size());
    }
    if (c.state == Connection::State::writing) {
      // Done: half-close and read what the client still sends, so that closing does not reset
      // the connection before it has read the response.
      ::shutdown(c.fd, SHUT_WR);
      c.state = Connection::State::draining;
      c.deadline_ns = now + kDrainNs;
      c.head.clear();
      c.head.shrink_to_fit();
    } else if (c.state == Connection::State::streaming) {
      c.body.reset();  // release the JPEG it was sending
    }
  }

  // Takes the frame publish_frame() handed over, if any, and encodes it.
  void encode_pending() {
    int w = 0, h = 0;
    {
      std::lock_guard lock(frame_mutex);
      if (!pending_new) return;
      pending_new = false;
      std::swap(pending, encode_src);
      w = pending_w;
      h = pending_h;
    }
    if (viewer_count.load(std::memory_order_acquire) == 0) return;
    if (!spare || spare.use_count() != 1) spare = std::make_shared<std::vector<uint8_t>>();
    try {
      encoder.encode(encode_src.data(), w, h, static_cast<ptrdiff_t>(w) * 3, options.jpeg_quality, *spare);
    } catch (const std::exception&) {
      return;  // a broken frame is skipped; the stream goes on with the next
    }
    std::swap(latest, spare);
    ++seq;
    encoded.fetch_add(1, std::memory_order_relaxed);
  }

  // Starts the newest frame on every stream connection that is ready for one.
  void feed_streams() {
    if (!latest) return;
    const int64_t now = now_ns();
    for (auto& cp : connections) {
      Connection& c = *cp;
      if (c.closed || c.state != Connection::State::streaming || c.pending() || c.sent_seq >= seq) continue;
      c.head = fmt::format("Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", latest->size());
      c.head_pos = 0;
      c.body = latest;
      c.body_pos = 0;
      c.tail = fmt::format("\r\n--{}\r\n", kBoundary);
      c.tail_pos = 0;
      c.sent_seq = seq;
      c.last_progress_ns = now;
      write_to(c, now);
    }
  }

  void reap() {
    const auto dead = std::partition(connections.begin(), connections.end(), [](const auto& c) { return !c->closed; });
    for (auto it = dead; it != connections.end(); ++it) {
      if ((*it)->state == Connection::State::streaming) viewer_count.fetch_sub(1, std::memory_order_acq_rel);
      ::close((*it)->fd);
    }
    connections.erase(dead, connections.end());
  }
};

PreviewServer::PreviewServer(SettingsStore& settings, StatsCallback stats_json, PreviewServerOptions options)
    : impl_(std::make_unique<Impl>(settings, std::move(stats_json), std::move(options))) {
  impl_->listen_on();
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

PreviewServer::~PreviewServer() { stop(); }

int PreviewServer::port() const { return impl_->bound_port; }

std::string PreviewServer::url() const {
  return fmt::format("http://{}:{}/", impl_->display_address, impl_->bound_port);
}

int PreviewServer::viewers() const { return impl_->viewer_count.load(std::memory_order_acquire); }

uint64_t PreviewServer::frames_encoded() const { return impl_->encoded.load(std::memory_order_relaxed); }

void PreviewServer::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (!impl_->thread.joinable()) return;
  impl_->stopping.store(true, std::memory_order_release);
  impl_->wake();
  impl_->thread.join();
}

void PreviewServer::publish_frame(const uint8_t* rgb, int width, int height, ptrdiff_t stride) {
  Impl& im = *impl_;
  if (im.viewer_count.load(std::memory_order_relaxed) == 0 || im.stopping.load(std::memory_order_relaxed)) return;
  if (!rgb || width <= 0 || height <= 0 || stride < static_cast<ptrdiff_t>(width) * 3) return;
  std::unique_lock producer(im.producer_mutex, std::try_to_lock);
  if (!producer.owns_lock()) return;
  const int64_t now = now_ns();
  const double interval_ns = im.options.max_fps > 0 ? 1e9 / im.options.max_fps : 0.0;
  // 10% slack: a 30 fps source gives every second frame at 15 fps despite jitter.
  if (im.last_publish_ns != 0 && static_cast<double>(now - im.last_publish_ns) < 0.9 * interval_ns) return;
  im.last_publish_ns = now;
  int w = 0, h = 0;
  downscale(rgb, width, height, stride, im.options.max_width, im.staging, im.staging_acc, w, h);
  {
    std::lock_guard lock(im.frame_mutex);
    std::swap(im.staging, im.pending);
    im.pending_w = w;
    im.pending_h = h;
    im.pending_new = true;
  }
  im.wake();
}

namespace {

// The preview page: no external resources.
const char kPreviewPage[] = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mattecast preview</title>
<style>
  body { margin: 0; padding: 16px; background: #15171a; color: #d8dadd; font: 14px system-ui, sans-serif;
         display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
  main { flex: 1 1 560px; }
  #stream { display: block; width: 100%; max-width: 960px; background: #222; border-radius: 6px; }
  aside { flex: 0 1 340px; }
  h1 { font-size: 16px; margin: 0 0 12px; }
  fieldset { border: 1px solid #33373c; border-radius: 6px; margin: 0 0 12px; padding: 8px 12px; }
  legend { color: #9aa0a6; }
  label { display: flex; align-items: center; gap: 8px; margin: 6px 0; }
  label > span { width: 104px; }
  input[type=range] { flex: 1; }
  input[type=text] { flex: 1; min-width: 0; }
  input[type=text], select, button { background: #22252a; color: inherit; border: 1px solid #444a50;
                                     border-radius: 4px; padding: 4px 6px; font: inherit; }
  output { width: 40px; text-align: right; font-variant-numeric: tabular-nums; }
  #error { color: #ff7b72; min-height: 1.3em; margin: 0 0 12px; }
  #stats { margin: 0; font: 12px ui-monospace, monospace; white-space: pre; }
</style>
</head>
<body>
<main><img id="stream" src="/stream.mjpg" alt="live preview"></main>
<aside>
<h1>mattecast</h1>
<form id="controls" action="/control" method="post">
  <fieldset><legend>Background</legend>
    <label><span>Kind</span>
      <select id="background">
        <option value="blur">blur</option><option value="green">green</option><option value="blue">blue</option>
        <option value="black">black</option><option value="white">white</option><option value="gray">gray</option>
        <option value="custom">colour or file&hellip;</option>
      </select></label>
    <label><input type="text" id="background_custom" placeholder="#336699 or /path/to/picture.jpg">
      <button type="button" id="background_set">Set</button></label>
    <label><span>Blur strength</span><input type="range" id="blur_strength" min="1" max="100" step="1"><output></output></label>
  </fieldset>
  <fieldset><legend>Matte</legend>
    <label><span>Mirror</span><input type="checkbox" id="mirror"></label>
    <label><span>Feather (px)</span><input type="range" id="feather_px" min="0" max="50" step="0.5"><output></output></label>
    <label><span>Edge low</span><input type="range" id="edge_low" min="0" max="1" step="0.01"><output></output></label>
    <label><span>Edge high</span><input type="range" id="edge_high" min="0" max="1" step="0.01"><output></output></label>
    <label><span>Temporal</span><input type="range" id="temporal" min="0" max="0.95" step="0.01"><output></output></label>
  </fieldset>
  <div id="error" role="alert"></div>
</form>
<fieldset><legend>Stats</legend><pre id="stats">&hellip;</pre></fieldset>
</aside>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const ranges = ["blur_strength", "feather_px", "edge_low", "edge_high", "temporal"];
const presets = ["blur", "green", "blue", "black", "white", "gray"];

function show(s) {
  for (const k of ranges) { $(k).value = s[k]; $(k).nextElementSibling.value = s[k]; }
  $("mirror").checked = !!s.mirror;
  const bg = String(s.background);
  if (presets.includes(bg.toLowerCase())) $("background").value = bg.toLowerCase();
  else { $("background").value = "custom"; $("background_custom").value = bg; }
}
async function load() {
  try { const r = await fetch("/settings", {cache: "no-store"}); if (r.ok) show(await r.json()); } catch (e) {}
}
async function send(change) {
  try {
    const r = await fetch("/control", {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(change)});
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { $("error").textContent = j.error || ("HTTP " + r.status); load(); return; }
    $("error").textContent = "";
    show(j);
  } catch (e) { $("error").textContent = "server unreachable: " + e; }
}
for (const k of ranges) {
  $(k).addEventListener("input", (e) => { e.target.nextElementSibling.value = e.target.value; });
  $(k).addEventListener("change", (e) => send({[k]: parseFloat(e.target.value)}));
}
$("mirror").addEventListener("change", (e) => send({mirror: e.target.checked}));
$("background").addEventListener("change", (e) => {
  if (e.target.value !== "custom") send({background: e.target.value}); else $("background_custom").focus();
});
const setCustom = () => { const v = $("background_custom").value.trim(); if (v) send({background: v}); };
$("background_set").addEventListener("click", setCustom);
$("background_custom").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); setCustom(); } });
$("controls").addEventListener("submit", (e) => e.preventDefault());
$("stream").addEventListener("error", () => {
  setTimeout(() => { $("stream").src = "/stream.mjpg?t=" + Date.now(); }, 1000);
});

const num = (x, d = 1) => (typeof x === "number" && isFinite(x)) ? x.toFixed(d) : "-";
async function stats() {
  try {
    const r = await fetch("/stats", {cache: "no-store"});
    const s = await r.json();
    const w = s.last_second || s;
    let t = "input    " + num(w.input_fps) + " fps\n" +
            "output   " + num(w.output_fps) + " fps\n" +
            "dropped  " + (s.dropped ?? "-") + "\n" +
            "latency  p50 " + num(w.latency_ms_p50) + "  p95 " + num(w.latency_ms_p95) +
            "  max " + num(w.latency_ms_max) + " ms\n" +
            "cpu      " + num(w.cpu_percent, 0) + " %\n" +
            "memory   " + num(s.rss_mb, 0) + " MB";
    for (const [k, v] of Object.entries(w.stages || {}))
      t += "\n" + k.padEnd(9) + num(typeof v === "number" ? v : v.ms, 2) + " ms";
    $("stats").textContent = t;
  } catch (e) { $("stats").textContent = "stats unavailable"; }
}
load();
stats();
setInterval(stats, 1000);
</script>
</body>
</html>
)HTML";

}  // namespace

}  // namespace mattecast
