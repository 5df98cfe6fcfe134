#include "live/preview/request_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace mattecast {

namespace {

struct Route {
  std::string_view path;
  std::string_view allow;  // the methods it takes, as the Allow header lists them
};

constexpr std::array kRoutes = {
    Route{"/", "GET, HEAD"},         Route{"/index.html", "GET, HEAD"},
    Route{"/app.js", "GET, HEAD"},   Route{"/style.css", "GET, HEAD"},
    Route{"/stream.mjpg", "GET"},    Route{"/stats", "GET, HEAD"},
    Route{"/settings", "GET, HEAD"}, Route{"/control", "POST"},
};

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> values_of(const PreviewRequestHead& head, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [header, value] : head.headers)
    if (iequals(header, name)) values.push_back(value);
  return values;
}

// The host part of a Host value: "localhost:8080" → "localhost", "[::1]:80" → "[::1]".
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

// A prefix test would let a rebinding domain such as 127.attacker.example through.
bool is_loopback_name(std::string_view name) {
  if (iequals(name, "localhost") || name == "[::1]") return true;
  in_addr address{};
  const std::string text(name);
  return ::inet_pton(AF_INET, text.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

bool method_allowed(std::string_view method, std::string_view allow) {
  while (!allow.empty()) {
    const size_t comma = allow.find(',');
    if (trim(allow.substr(0, comma)) == method) return true;
    allow = comma == std::string_view::npos ? std::string_view() : allow.substr(comma + 1);
  }
  return false;
}

size_t head_bytes(const PreviewRequestHead& head) {
  size_t bytes = head.method.size() + head.target.size() + head.version.size() + 4;
  for (const auto& [name, value] : head.headers) bytes += name.size() + value.size() + 4;
  return bytes + 2;
}

// The body's declared length (nullopt: none declared), or a refusal for a malformed one.
std::optional<PreviewRefusal> check_content_length(const std::vector<std::string_view>& values,
                                                   std::optional<size_t>& length) {
  for (std::string_view value : values) {
    value = trim(value);
    if (value.empty() || value.size() > 12 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return PreviewRefusal{400, "invalid Content-Length", {}};
    const size_t parsed = std::stoull(std::string(value));
    if (length && *length != parsed)
      return PreviewRefusal{400, "conflicting Content-Length headers", {}};
    length = parsed;
  }
  if (length && *length > kPreviewMaxBodyBytes)
    return PreviewRefusal{413, "request body exceeds 64 KB", {}};
  return std::nullopt;
}

// POST /control changes settings: only the page itself may, with a JSON body of known length.
std::optional<PreviewRefusal> check_control(const PreviewRequestHead& head,
                                            std::optional<std::string_view> host,
                                            std::optional<size_t> content_length) {
  const std::vector<std::string_view> types = values_of(head, "Content-Type");
  // A JSON content type keeps other sites' pages from posting here: it needs a CORS preflight,
  // which this server does not grant.
  if (types.size() != 1 ||
      !iequals(trim(types[0].substr(0, types[0].find(';'))), "application/json"))
    return PreviewRefusal{415, "send the settings as Content-Type: application/json", {}};
  for (std::string_view origin : values_of(head, "Origin"))
    if (!host || origin != "http://" + std::string(*host))
      return PreviewRefusal{
          403, "origin '" + std::string(origin) + "' may not change settings", {}};
  if (!content_length) return PreviewRefusal{411, "POST needs a Content-Length", {}};
  return std::nullopt;
}

}  // namespace

std::optional<PreviewRefusal> refuse_preview_request(const PreviewRequestHead& head,
                                                     bool loopback_only) {
  if (head_bytes(head) > kPreviewMaxHeadBytes)
    return PreviewRefusal{431, "request headers exceed 16 KB", {}};
  if (!values_of(head, "Transfer-Encoding").empty())
    return PreviewRefusal{411, "Transfer-Encoding is not supported; send a Content-Length", {}};
  std::optional<size_t> content_length;
  if (auto refusal = check_content_length(values_of(head, "Content-Length"), content_length))
    return refusal;
  if (head.target.empty() || head.target.front() != '/')
    return PreviewRefusal{400, "malformed request target", {}};

  const std::vector<std::string_view> hosts = values_of(head, "Host");
  if (hosts.size() > 1) return PreviewRefusal{400, "more than one Host header", {}};
  if (hosts.empty() && head.version != "HTTP/1.0")
    return PreviewRefusal{400, "missing Host header", {}};
  const std::optional<std::string_view> host =
      hosts.empty() ? std::nullopt : std::optional(trim(hosts[0]));
  if (loopback_only && host && !is_loopback_name(host_name(*host)))
    return PreviewRefusal{403, "host '" + std::string(*host) + "' is not this server", {}};

  const auto route = std::find_if(kRoutes.begin(), kRoutes.end(),
                                  [&](const Route& r) { return r.path == head.path; });
  if (route == kRoutes.end())
    return PreviewRefusal{404, "no such page: " + std::string(head.path), {}};
  if (!method_allowed(head.method, route->allow)) {
    const std::string_view first = route->allow.substr(0, route->allow.find(','));
    return PreviewRefusal{405, "use " + std::string(first), std::string(route->allow)};
  }
  if (route->path == "/control") return check_control(head, host, content_length);
  return std::nullopt;
}

}  // namespace mattecast
