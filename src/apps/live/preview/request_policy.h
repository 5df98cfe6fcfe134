// What the preview server refuses, decided on a request's head as cpp-httplib parsed it, before
// the request is routed or its body read: oversized heads and bodies, a Host that is not this
// server (DNS rebinding), unknown paths and wrong methods, and for POST /control anything but a
// same-origin JSON body of known length.
//
//   PreviewRequestHead head{.method = "GET", .target = "/", .path = "/", .version = "HTTP/1.1",
//                           .headers = {{"Host", "127.0.0.1:8080"}}};
//   if (auto refusal = refuse_preview_request(head, /*loopback_only=*/true)) reply(*refusal);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mattecast {

inline constexpr size_t kPreviewMaxHeadBytes = 16 * 1024;
inline constexpr size_t kPreviewMaxBodyBytes = 64 * 1024;

struct PreviewRequestHead {
  std::string_view method;   // "GET", "POST", ...
  std::string_view target;   // as on the request line
  std::string_view path;     // the target's path, percent-decoded
  std::string_view version;  // "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // name, value; in order
};

struct PreviewRefusal {
  int status = 400;
  std::string message;  // says what is wrong, for the {"error": ...} body
  std::string allow;    // 405: the methods the path takes, for the Allow header
};

// nullopt when the request may be routed. With `loopback_only` (the server listens on a loopback
// address) a Host naming anything but this machine is refused.
std::optional<PreviewRefusal> refuse_preview_request(const PreviewRequestHead& head,
                                                     bool loopback_only);

}  // namespace mattecast
