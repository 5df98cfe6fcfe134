// libFuzzer target: a request head, as cpp-httplib would hand it over, into the preview server's
// request policy. Input: "METHOD TARGET VERSION\n" then "Name:value\n" lines; the first byte's low
// bit says whether the server listens on loopback. Any head must end in a route or a 4xx refusal
// (405 naming the allowed methods); crashes, sanitizer reports and exceptions are bugs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "live/preview/request_policy.h"

namespace {

std::string_view next_line(std::string_view& text) {
  const size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  return line;
}

std::string_view next_word(std::string_view& line) {
  const size_t end = line.find(' ');
  const std::string_view word = line.substr(0, end);
  line = end == std::string_view::npos ? std::string_view() : line.substr(end + 1);
  return word;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool loopback_only = (data[0] & 1) != 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  mattecast::PreviewRequestHead head;
  std::string_view request_line = next_line(text);
  head.method = next_word(request_line);
  head.target = next_word(request_line);
  head.version = request_line;
  head.path = head.target.substr(0, head.target.find('?'));
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      head.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  const auto refusal = mattecast::refuse_preview_request(head, loopback_only);
  if (refusal && (refusal->status < 400 || refusal->status > 499 || refusal->message.empty()))
    std::abort();
  if (refusal && refusal->status == 405 && refusal->allow.empty()) std::abort();
  return 0;
}
