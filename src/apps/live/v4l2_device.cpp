// V4L2 devices: pixel format names, what a node is, the device listing and the choice of a camera
// format. The camera is in v4l2_capture.cpp, the virtual webcam in v4l2_loopback.cpp.
#include "live/v4l2_device.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/videodev2.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <utility>

#include "live/v4l2_node.h"

namespace mattecast {

using v4l2_detail::device_label;
using v4l2_detail::enumerate_capture_formats;
using v4l2_detail::errno_text;
using v4l2_detail::info_from_querycap;
using v4l2_detail::is_character_device;
using v4l2_detail::kGroupHint;
using v4l2_detail::kLoopbackDriver;
using v4l2_detail::xioctl;

static_assert(kFourccMjpg == V4L2_PIX_FMT_MJPEG && kFourccJpeg == V4L2_PIX_FMT_JPEG &&
              kFourccYuyv == V4L2_PIX_FMT_YUYV && kFourccNv12 == V4L2_PIX_FMT_NV12 &&
              kFourccYu12 == V4L2_PIX_FMT_YUV420);

namespace {

int format_rank(uint32_t fourcc) {
  switch (fourcc) {
    case kFourccYuyv:
    case kFourccNv12:
      return 0;
    case kFourccMjpg:
      return 1;
    case kFourccJpeg:
      return 2;
    case kFourccYu12:
      return 2;
    default:
      return 3;
  }
}

}  // namespace

// ---- formats and listing ----

std::string fourcc_to_string(uint32_t fourcc) {
  const bool big_endian = fourcc & (1u << 31);
  const uint32_t code = fourcc & ~(1u << 31);
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const char c = char((code >> (8 * i)) & 0xff);
    if (!std::isprint(static_cast<unsigned char>(c))) return fmt::format("0x{:08x}", fourcc);
    text += c;
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();  // "Y16 " -> "Y16"
  if (big_endian) text += "-BE";
  return text;
}

uint32_t parse_pixel_format(const std::string& text) {
  std::string lower;
  for (char c : text) lower += char(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "auto") return 0;
  if (lower == "mjpg" || lower == "mjpeg") return kFourccMjpg;
  if (lower == "jpeg") return kFourccJpeg;
  if (lower == "yuyv" || lower == "yuy2") return kFourccYuyv;
  if (lower == "nv12") return kFourccNv12;
  if (lower == "yu12" || lower == "i420") return kFourccYu12;
  throw Error(fmt::format("unknown pixel format '{}' (use auto, mjpg, yuyv, nv12 or yu12)", text));
}

bool is_supported_capture_fourcc(uint32_t fourcc) {
  return fourcc == kFourccMjpg || fourcc == kFourccJpeg || fourcc == kFourccYuyv ||
         fourcc == kFourccNv12 || fourcc == kFourccYu12;
}

DeviceInfo make_device_info(const std::string& path, const std::string& driver,
                            const std::string& card, const std::string& bus,
                            uint32_t capabilities) {
  DeviceInfo info;
  info.path = path;
  info.driver = driver;
  info.card = card;
  info.bus = bus;
  info.capabilities = capabilities;
  info.capture = capabilities & V4L2_CAP_VIDEO_CAPTURE;
  info.output = capabilities & (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_MPLANE);
  info.loopback = driver == kLoopbackDriver;
  info.streaming = capabilities & V4L2_CAP_STREAMING;
  info.metadata = (capabilities & (V4L2_CAP_META_CAPTURE | V4L2_CAP_META_OUTPUT)) &&
                  !(capabilities & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE |
                                    V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_MPLANE));
  return info;
}

std::string DeviceInfo::kind() const {
  if (!error.empty()) return "unavailable";
  // With exclusive_caps=1 a v4l2loopback node is an output until a program writes to it, then a
  // capture device for the programs that read it.
  if (loopback && output) return "virtual webcam output (v4l2loopback)";
  if (loopback && capture) return "virtual webcam (v4l2loopback), fed by another program";
  if (capabilities & V4L2_CAP_VIDEO_M2M || capabilities & V4L2_CAP_VIDEO_M2M_MPLANE) {
    return "memory-to-memory codec (no camera)";
  }
  if (capture) return "camera";
  if (capabilities & V4L2_CAP_VIDEO_CAPTURE_MPLANE) return "multi-planar capture (not supported)";
  if (metadata) return "metadata (no video)";
  if (output) return "video output";
  return "other";
}

std::vector<DeviceInfo> list_devices(const std::string& directory) {
  namespace fs = std::filesystem;
  std::vector<std::pair<long, std::string>> nodes;
  std::error_code error;
  fs::directory_iterator it(directory, error);
  if (error) return {};
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const std::string name = it->path().filename().string();
    if (name.size() <= 5 || name.compare(0, 5, "video") != 0) continue;
    const std::string digits = name.substr(5);
    if (digits.size() > 6 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    nodes.emplace_back(std::stol(digits), it->path().string());
  }
  std::sort(nodes.begin(), nodes.end());

  std::vector<DeviceInfo> devices;
  for (const auto& [number, path] : nodes) {
    if (!is_character_device(path)) continue;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      const int error_number = errno;
      DeviceInfo info;
      info.path = path;
      info.error = (error_number == EACCES || error_number == EPERM)
                       ? fmt::format("permission denied: {}", kGroupHint)
                       : errno_text(error_number);
      devices.push_back(std::move(info));
      continue;
    }
    v4l2_capability cap{};
    if (xioctl(fd.get(), VIDIOC_QUERYCAP, &cap) != 0) {
      DeviceInfo info;
      info.path = path;
      info.error = fmt::format("not a V4L2 device ({})", errno_text(errno));
      devices.push_back(std::move(info));
      continue;
    }
    DeviceInfo info = info_from_querycap(path, cap);
    if (info.capture) info.formats = enumerate_capture_formats(fd.get());
    devices.push_back(std::move(info));
  }
  return devices;
}

std::string format_fps(double fps) {
  std::string text = fmt::format("{:.2f}", fps);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string format_device_list(const std::vector<DeviceInfo>& devices,
                               const std::string& directory) {
  std::string out;
  if (devices.empty()) {
    out += fmt::format("No video devices in {}.\n", directory);
    out += "  Cameras appear as /dev/videoN once connected (USB webcams need no setup).\n";
  }
  bool any_loopback_output = false;
  for (const DeviceInfo& device : devices) {
    if (!device.error.empty()) {
      out += fmt::format("{}: {}\n", device.path, device.error);
      continue;
    }
    any_loopback_output |= device.loopback && device.output;
    out += fmt::format("{}: {} [{}", device.path, device_label(device), device.driver);
    if (!device.bus.empty()) out += ", " + device.bus;
    out += fmt::format("] - {}\n", device.kind());
    if (!device.capture) continue;
    if (device.formats.empty()) out += "    (no pixel formats listed)\n";
    // Grouped by pixel format: "MJPG  Motion-JPEG", then one line per size.
    for (size_t i = 0; i < device.formats.size();) {
      const FormatOption& first = device.formats[i];
      out += fmt::format("    {:<5} {}{}\n", fourcc_to_string(first.fourcc), first.description,
                         is_supported_capture_fourcc(first.fourcc) ? "" : " (not supported)");
      for (; i < device.formats.size() && device.formats[i].fourcc == first.fourcc; ++i) {
        const FormatOption& option = device.formats[i];
        if (option.width == 0) {
          out += "        sizes not listed by the driver\n";
          continue;
        }
        std::string rates;
        for (const FrameInterval& interval : option.intervals) {
          rates += (rates.empty() ? "" : ", ") + format_fps(interval.fps());
        }
        out += fmt::format("        {}x{}{}\n", option.width, option.height,
                           rates.empty() ? "" : " @ " + rates + " fps");
      }
    }
  }
  if (!any_loopback_output) {
    out += fmt::format("No virtual webcam output (v4l2loopback). Create one with:\n  {}\n",
                       kLoopbackModprobe);
  }
  return out;
}

// ---- choosing a format ----

std::string CaptureFormat::describe() const {
  std::string text = fmt::format("{} {}x{}", fourcc_to_string(fourcc), width, height);
  if (interval.known()) text += fmt::format(" {} fps", format_fps(interval.fps()));
  return text;
}

std::optional<CaptureFormat> choose_capture_format(const std::vector<FormatOption>& options,
                                                   const CaptureRequest& want) {
  double target_w = 1280, target_h = 720;
  if (want.width > 0 && want.height > 0) {
    target_w = want.width;
    target_h = want.height;
  } else if (want.width > 0) {
    target_w = want.width;
    target_h = std::round(want.width * 9.0 / 16.0);
  } else if (want.height > 0) {
    target_h = want.height;
    target_w = std::round(want.height * 16.0 / 9.0);
  }
  const double target_fps = want.fps > 0 ? want.fps : 30.0;
  const bool preference_offered =
      want.fourcc != 0 && std::any_of(options.begin(), options.end(), [&](const FormatOption& o) {
        return o.fourcc == want.fourcc && is_supported_capture_fourcc(o.fourcc);
      });

  const auto side_cost = [](double have, double target) {
    const double cost = std::abs(std::log(have / target));
    return have < target ? 2 * cost : cost;  // upscaling loses detail: smaller sizes cost more
  };
  const auto fps_cost = [&](double fps) {
    return fps >= target_fps ? 0.1 * (fps - target_fps) / target_fps
                             : (target_fps - fps) / target_fps;
  };

  std::optional<CaptureFormat> best;
  double best_cost = 0;
  int best_rank = 0;
  for (const FormatOption& option : options) {
    if (!is_supported_capture_fourcc(option.fourcc)) continue;
    if (preference_offered && option.fourcc != want.fourcc) continue;
    CaptureFormat candidate{option.fourcc, option.width, option.height, {}};
    double cost = 0;
    if (option.width > 0 && option.height > 0) {
      cost += side_cost(option.width, target_w) + side_cost(option.height, target_h);
    } else {
      // Sizes not listed: ask for the target and let the driver adjust.
      candidate.width = int(target_w);
      candidate.height = int(target_h);
      cost += 0.5;
    }
    if (option.intervals.empty()) {
      cost += 0.5;
    } else {
      double best_interval_cost = 0;
      for (const FrameInterval& interval : option.intervals) {
        const double c = fps_cost(interval.fps());
        if (!candidate.interval.known() || c < best_interval_cost) {
          candidate.interval = interval;
          best_interval_cost = c;
        }
      }
      cost += best_interval_cost;
    }
    const int rank = format_rank(option.fourcc);
    constexpr double kSame = 1e-9;
    if (!best || cost < best_cost - kSame || (cost <= best_cost + kSame && rank < best_rank)) {
      best = candidate;
      best_cost = cost;
      best_rank = rank;
    }
  }
  return best;
}

}  // namespace mattecast
