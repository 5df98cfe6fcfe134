#include "live/v4l2_device.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace mattecast {

static_assert(kFourccMjpg == V4L2_PIX_FMT_MJPEG && kFourccJpeg == V4L2_PIX_FMT_JPEG &&
              kFourccYuyv == V4L2_PIX_FMT_YUYV && kFourccNv12 == V4L2_PIX_FMT_NV12 &&
              kFourccYu12 == V4L2_PIX_FMT_YUV420);

namespace {

constexpr const char* kLoopbackDriver = "v4l2 loopback";
constexpr const char* kListHint = "see `mattecast webcam --list-devices`";
constexpr const char* kGroupHint =
    "add your user to the `video` group (sudo usermod -aG video $USER) and log in again";

std::string errno_text(int error_number) { return std::strerror(error_number); }

// ioctl, retried when a signal interrupts it.
int xioctl(int fd, unsigned long request, void* argument) {
  int result;
  do {
    result = ::ioctl(fd, request, argument);
  } while (result < 0 && errno == EINTR);
  return result;
}

template <size_t N>
std::string fixed_string(const uint8_t (&text)[N]) {
  const char* chars = reinterpret_cast<const char*>(text);
  return std::string(chars, strnlen(chars, N));
}

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

// ---- enumeration (ioctls) ----

void add_interval(std::vector<FrameInterval>& intervals, FrameInterval interval) {
  if (!interval.known()) return;
  for (const FrameInterval& existing : intervals) {
    // The same rate written differently (1/30 and 2/60) counts once.
    if (uint64_t(existing.numerator) * interval.denominator ==
        uint64_t(interval.numerator) * existing.denominator) {
      return;
    }
  }
  intervals.push_back(interval);
}

std::vector<FrameInterval> enumerate_intervals(int fd, uint32_t fourcc, int width, int height) {
  std::vector<FrameInterval> intervals;
  v4l2_frmivalenum e{};
  e.pixel_format = fourcc;
  e.width = uint32_t(width);
  e.height = uint32_t(height);
  for (e.index = 0; e.index < 256 && xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &e) == 0; ++e.index) {
    if (e.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
      add_interval(intervals, {e.discrete.numerator, e.discrete.denominator});
      continue;
    }
    // Stepwise or continuous: the fastest and slowest rates and the common ones between.
    const FrameInterval fastest{e.stepwise.min.numerator, e.stepwise.min.denominator};
    const FrameInterval slowest{e.stepwise.max.numerator, e.stepwise.max.denominator};
    add_interval(intervals, fastest);
    for (uint32_t fps : {60u, 50u, 30u, 25u, 24u, 20u, 15u, 10u, 5u}) {
      if (fastest.known() && slowest.known() && fps <= fastest.fps() + 1e-9 &&
          fps >= slowest.fps() - 1e-9) {
        add_interval(intervals, {1, fps});
      }
    }
    add_interval(intervals, slowest);
    break;
  }
  std::stable_sort(
      intervals.begin(), intervals.end(),
      [](const FrameInterval& a, const FrameInterval& b) { return a.fps() > b.fps(); });
  return intervals;
}

std::vector<std::pair<int, int>> enumerate_sizes(int fd, uint32_t fourcc) {
  std::vector<std::pair<int, int>> sizes;
  v4l2_frmsizeenum e{};
  e.pixel_format = fourcc;
  for (e.index = 0; e.index < 256 && xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &e) == 0; ++e.index) {
    if (e.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
      sizes.emplace_back(int(e.discrete.width), int(e.discrete.height));
      continue;
    }
    const v4l2_frmsize_stepwise& s = e.stepwise;
    const auto fits = [&](uint32_t w, uint32_t h) {
      const uint32_t step_w = std::max<uint32_t>(s.step_width, 1);
      const uint32_t step_h = std::max<uint32_t>(s.step_height, 1);
      return w >= s.min_width && w <= s.max_width && h >= s.min_height && h <= s.max_height &&
             (w - s.min_width) % step_w == 0 && (h - s.min_height) % step_h == 0;
    };
    for (auto [w, h] : {std::pair{3840u, 2160u},
                        {2560u, 1440u},
                        {1920u, 1080u},
                        {1600u, 1200u},
                        {1280u, 960u},
                        {1280u, 720u},
                        {1024u, 768u},
                        {960u, 540u},
                        {800u, 600u},
                        {640u, 480u},
                        {640u, 360u},
                        {320u, 240u},
                        {160u, 120u}}) {
      if (fits(w, h)) sizes.emplace_back(int(w), int(h));
    }
    if (std::find(sizes.begin(), sizes.end(), std::pair{int(s.max_width), int(s.max_height)}) ==
        sizes.end()) {
      sizes.insert(sizes.begin(), {int(s.max_width), int(s.max_height)});
    }
    break;
  }
  return sizes;
}

std::vector<FormatOption> enumerate_capture_formats(int fd) {
  std::vector<FormatOption> options;
  v4l2_fmtdesc desc{};
  desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  for (desc.index = 0; desc.index < 64 && xioctl(fd, VIDIOC_ENUM_FMT, &desc) == 0; ++desc.index) {
    const std::string description = fixed_string(desc.description);
    const auto sizes = enumerate_sizes(fd, desc.pixelformat);
    if (sizes.empty()) {
      // The driver lists no sizes: one option of "any size" (0x0).
      options.push_back({desc.pixelformat, description, 0, 0, {}});
      continue;
    }
    for (const auto& [w, h] : sizes) {
      options.push_back(
          {desc.pixelformat, description, w, h, enumerate_intervals(fd, desc.pixelformat, w, h)});
    }
  }
  return options;
}

// The capabilities of this node (device_caps when the driver reports them).
uint32_t node_capabilities(const v4l2_capability& cap) {
  return (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
}

DeviceInfo info_from_querycap(const std::string& path, const v4l2_capability& cap) {
  return make_device_info(path, fixed_string(cap.driver), fixed_string(cap.card),
                          fixed_string(cap.bus_info), node_capabilities(cap));
}

bool is_character_device(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

// ---- opening, with the errors a user can act on ----

enum class Role { camera, loopback };

std::string missing_message(const std::string& path, Role role) {
  if (role == Role::camera) {
    return fmt::format("no such device '{}' (is the camera connected? {})", path, kListHint);
  }
  return fmt::format(
      "no virtual webcam at '{}': the v4l2loopback module is not loaded, or its device has "
      "another number ({}). Create one with: {}",
      path, kListHint, kLoopbackModprobe);
}

std::string not_loopback_message(const std::string& path, const std::string& what) {
  return fmt::format(
      "'{}' is not a v4l2loopback output device ({}); the virtual webcam is made by the "
      "v4l2loopback module: {} ({})",
      path, what, kLoopbackModprobe, kListHint);
}

// Opens a V4L2 node and queries it; throws the user-facing Error for every failure.
std::pair<UniqueFd, DeviceInfo> open_node(const std::string& path, Role role) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error_number = errno;
    if (error_number == ENOENT || error_number == ENOTDIR) throw Error(missing_message(path, role));
    throw Error(fmt::format("cannot open '{}': {}", path, errno_text(error_number)));
  }
  if (!S_ISCHR(st.st_mode)) {
    if (role == Role::loopback) {
      throw Error(not_loopback_message(path, "not a device file"));
    }
    throw Error(fmt::format("'{}' is not a video device (not a device file; {})", path, kListHint));
  }
  const int flags = O_RDWR | O_CLOEXEC | (role == Role::camera ? O_NONBLOCK : 0);
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) {
    const int error_number = errno;
    if (error_number == EACCES || error_number == EPERM) {
      throw Error(fmt::format("permission denied opening '{}': {}", path, kGroupHint));
    }
    if (error_number == EBUSY) {
      throw Error(fmt::format("'{}' is busy: another program is using it", path));
    }
    if (error_number == ENOENT || error_number == ENODEV || error_number == ENXIO) {
      throw Error(missing_message(path, role));
    }
    throw Error(fmt::format("cannot open '{}': {}", path, errno_text(error_number)));
  }
  v4l2_capability cap{};
  if (xioctl(fd.get(), VIDIOC_QUERYCAP, &cap) != 0) {
    const int error_number = errno;
    if (role == Role::loopback) {
      throw Error(not_loopback_message(
          path, fmt::format("not a V4L2 device: {}", errno_text(error_number))));
    }
    throw Error(fmt::format("'{}' is not a V4L2 video device (VIDIOC_QUERYCAP: {}; {})", path,
                            errno_text(error_number), kListHint));
  }
  return {std::move(fd), info_from_querycap(path, cap)};
}

std::string device_label(const DeviceInfo& device) {
  return device.card.empty() ? device.driver : device.card;
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

// ---- file descriptors ----

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

// ---- capture ----

V4l2Capture::V4l2Capture(const std::string& path, const CaptureRequest& want) : path_(path) {
  auto [fd, device] = open_node(path, Role::camera);
  fd_ = std::move(fd);
  device_ = std::move(device);
  if (!device_.capture) {
    std::string hint;
    if (device_.loopback) {
      hint = "; it is the virtual webcam, which mattecast writes to, not a camera";
    } else if (device_.metadata) {
      hint = "; cameras often have a second node for metadata, try the other number";
    }
    throw Error(fmt::format("'{}' ({}) is not a video capture device: {}{} ({})", path_,
                            device_label(device_), device_.kind(), hint, kListHint));
  }
  if (!device_.streaming) {
    throw Error(
        fmt::format("'{}' ({}) does not support streaming I/O", path_, device_label(device_)));
  }
  device_.formats = enumerate_capture_formats(fd_.get());

  std::optional<CaptureFormat> choice = choose_capture_format(device_.formats, want);
  if (!choice) {
    std::string offered;
    for (const FormatOption& option : device_.formats) {
      const std::string name = fourcc_to_string(option.fourcc);
      if (offered.find(name) == std::string::npos) offered += (offered.empty() ? "" : ", ") + name;
    }
    if (!offered.empty()) {
      throw Error(fmt::format(
          "'{}' ({}) offers no pixel format mattecast can convert (it offers {}; mattecast reads "
          "MJPG, YUYV, NV12 and YU12)",
          path_, device_label(device_), offered));
    }
    // Nothing enumerated: try the current format at the requested size.
    v4l2_format current{};
    current.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    uint32_t fourcc = want.fourcc ? want.fourcc : kFourccMjpg;
    if (xioctl(fd_.get(), VIDIOC_G_FMT, &current) == 0 &&
        is_supported_capture_fourcc(current.fmt.pix.pixelformat) && !want.fourcc) {
      fourcc = current.fmt.pix.pixelformat;
    }
    choice = CaptureFormat{
        fourcc, want.width > 0 ? want.width : 1280, want.height > 0 ? want.height : 720,
        want.fps > 0 ? FrameInterval{1000, uint32_t(std::lround(want.fps * 1000))}
                     : FrameInterval{1, 30}};
  }

  v4l2_format format{};
  format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  format.fmt.pix.width = uint32_t(choice->width);
  format.fmt.pix.height = uint32_t(choice->height);
  format.fmt.pix.pixelformat = choice->fourcc;
  format.fmt.pix.field = V4L2_FIELD_ANY;
  if (xioctl(fd_.get(), VIDIOC_S_FMT, &format) != 0) {
    const int error_number = errno;
    if (error_number == EBUSY) {
      throw Error(fmt::format("'{}' ({}) is busy: another program is using the camera", path_,
                              device_label(device_)));
    }
    throw_io_error(fmt::format("setting the format {}", choice->describe()).c_str(), error_number);
  }
  const v4l2_pix_format& pix = format.fmt.pix;
  if (!is_supported_capture_fourcc(pix.pixelformat)) {
    throw Error(fmt::format("'{}' answered a request for {} with {}, which mattecast cannot read",
                            path_, choice->describe(), fourcc_to_string(pix.pixelformat)));
  }
  if (pix.width == 0 || pix.height == 0 || pix.width > 16384 || pix.height > 16384) {
    throw Error(
        fmt::format("'{}' reports an unusable frame size {}x{}", path_, pix.width, pix.height));
  }
  format_.fourcc = pix.pixelformat;
  format_.width = int(pix.width);
  format_.height = int(pix.height);
  bytes_per_line_ = ptrdiff_t(pix.bytesperline);
  if (format_.fourcc == kFourccYuyv) {
    bytes_per_line_ = std::max(bytes_per_line_, yuyv_row_bytes(format_.width));
  } else if (format_.fourcc == kFourccNv12 || format_.fourcc == kFourccYu12) {
    bytes_per_line_ = std::max(bytes_per_line_, ptrdiff_t(format_.width));
  }
  uint32_t encoding = pix.ycbcr_enc;
  if (encoding == V4L2_YCBCR_ENC_DEFAULT) encoding = V4L2_MAP_YCBCR_ENC_DEFAULT(pix.colorspace);
  matrix_ = (encoding == V4L2_YCBCR_ENC_709 || encoding == V4L2_YCBCR_ENC_XV709) ? YuvMatrix::bt709
                                                                                 : YuvMatrix::bt601;

  // Frame rate, where the driver lets us choose it.
  v4l2_streamparm parm{};
  parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (xioctl(fd_.get(), VIDIOC_G_PARM, &parm) == 0 &&
      (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
    if (choice->interval.known()) {
      parm.parm.capture.timeperframe.numerator = choice->interval.numerator;
      parm.parm.capture.timeperframe.denominator = choice->interval.denominator;
      xioctl(fd_.get(), VIDIOC_S_PARM, &parm);  // best effort; what it chose is read back below
    }
    v4l2_streamparm actual{};
    actual.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd_.get(), VIDIOC_G_PARM, &actual) == 0) {
      format_.interval = {actual.parm.capture.timeperframe.numerator,
                          actual.parm.capture.timeperframe.denominator};
    }
  } else if (parm.parm.capture.timeperframe.numerator != 0) {
    format_.interval = {parm.parm.capture.timeperframe.numerator,
                        parm.parm.capture.timeperframe.denominator};
  }

  start_streaming();
}

V4l2Capture::~V4l2Capture() { stop_streaming(); }

std::string V4l2Capture::description() const { return path_ + " " + format_.describe(); }

void V4l2Capture::throw_io_error(const char* operation, int error_number) const {
  if (error_number == ENODEV || error_number == EIO || error_number == ENXIO) {
    throw Error(fmt::format("camera '{}' disappeared ({}: {}); is it still connected?", path_,
                            operation, errno_text(error_number)));
  }
  throw Error(
      fmt::format("camera '{}': {} failed: {}", path_, operation, errno_text(error_number)));
}

void V4l2Capture::start_streaming() {
  v4l2_requestbuffers request{};
  request.count = 4;
  request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  request.memory = V4L2_MEMORY_MMAP;
  if (xioctl(fd_.get(), VIDIOC_REQBUFS, &request) != 0) {
    const int error_number = errno;
    if (error_number == EBUSY) {
      throw Error(fmt::format("'{}' ({}) is busy: another program is using the camera", path_,
                              device_label(device_)));
    }
    throw_io_error("requesting capture buffers", error_number);
  }
  if (request.count < 2) {
    throw Error(fmt::format("'{}' gave only {} capture buffer(s)", path_, request.count));
  }
  // From here on the destructor's stop_streaming() releases what was set up, also when this
  // throws part way (the constructor's caller never sees the object, so do it here).
  try {
    for (uint32_t i = 0; i < request.count; ++i) {
      v4l2_buffer buffer{};
      buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      buffer.memory = V4L2_MEMORY_MMAP;
      buffer.index = i;
      if (xioctl(fd_.get(), VIDIOC_QUERYBUF, &buffer) != 0)
        throw_io_error("VIDIOC_QUERYBUF", errno);
      void* data = ::mmap(nullptr, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                          buffer.m.offset);
      if (data == MAP_FAILED) throw_io_error("mapping a capture buffer", errno);
      buffers_.push_back({data, buffer.length});
    }
    for (uint32_t i = 0; i < buffers_.size(); ++i) {
      v4l2_buffer buffer{};
      buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      buffer.memory = V4L2_MEMORY_MMAP;
      buffer.index = i;
      if (xioctl(fd_.get(), VIDIOC_QBUF, &buffer) != 0) throw_io_error("VIDIOC_QBUF", errno);
    }
    v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd_.get(), VIDIOC_STREAMON, &type) != 0) {
      const int error_number = errno;
      if (error_number == ENOSPC) {
        throw Error(fmt::format(
            "'{}': not enough USB bandwidth for {} (another camera on the same bus? try a "
            "smaller size or MJPG)",
            path_, format_.describe()));
      }
      throw_io_error("starting the stream", error_number);
    }
    streaming_ = true;
  } catch (...) {
    stop_streaming();
    throw;
  }
}

void V4l2Capture::stop_streaming() noexcept {
  if (streaming_) {
    v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(fd_.get(), VIDIOC_STREAMOFF, &type);
    streaming_ = false;
  }
  for (const Buffer& buffer : buffers_) ::munmap(buffer.data, buffer.length);
  buffers_.clear();
}

bool V4l2Capture::read(CapturedImage& image, std::chrono::milliseconds timeout) {
  using Steady = std::chrono::steady_clock;
  const Steady::time_point deadline = Steady::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
    pollfd poll_fd{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, int(std::clamp<int64_t>(left, 0, 60'000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_io_error("waiting for a frame", errno);
    }
    if (ready == 0) {
      if (left <= 0) return false;
      continue;
    }
    v4l2_buffer buffer{};
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    if (xioctl(fd_.get(), VIDIOC_DQBUF, &buffer) != 0) {
      const int error_number = errno;
      if (error_number == EAGAIN) {
        if (poll_fd.revents & (POLLERR | POLLHUP | POLLNVAL))
          throw_io_error("reading a frame", ENODEV);
        continue;
      }
      throw_io_error("reading a frame", error_number);
    }
    if (buffer.index >= buffers_.size()) throw_io_error("reading a frame", EINVAL);

    bool converted = false;
    const bool damaged = (buffer.flags & V4L2_BUF_FLAG_ERROR) || buffer.bytesused == 0;
    std::string failure;
    if (!damaged) {
      try {
        converted = convert(buffers_[buffer.index],
                            std::min<size_t>(buffer.bytesused, buffers_[buffer.index].length),
                            buffer.sequence, image);
      } catch (const Error& error) {
        failure = error.what();
      }
    }
    // The buffer goes back to the driver whatever happened to its contents.
    if (xioctl(fd_.get(), VIDIOC_QBUF, &buffer) != 0) throw_io_error("VIDIOC_QBUF", errno);
    if (!converted) {
      ++corrupt_frames_;
      // Cameras send the odd damaged frame (mostly while starting); a long run means trouble.
      if (++consecutive_corrupt_ >= 60) {
        throw Error(fmt::format("camera '{}' sends only damaged frames ({} in a row{}{})", path_,
                                consecutive_corrupt_, failure.empty() ? "" : "; last: ", failure));
      }
      continue;
    }
    consecutive_corrupt_ = 0;
    image.sequence = buffer.sequence;
    image.timestamp_ns =
        (buffer.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC
            ? int64_t(buffer.timestamp.tv_sec) * 1'000'000'000 +
                  int64_t(buffer.timestamp.tv_usec) * 1'000
            : 0;
    return true;
  }
}

bool V4l2Capture::convert(const Buffer& buffer, size_t bytes_used, uint32_t sequence,
                          CapturedImage& image) {
  const auto* data = static_cast<const uint8_t*>(buffer.data);
  const int w = format_.width, h = format_.height;
  const auto resize = [&](int width, int height) {
    image.width = width;
    image.height = height;
    image.stride = ptrdiff_t(width) * 3;
    const size_t bytes = size_t(image.stride) * size_t(height);
    if (image.rgb.size() != bytes) image.rgb.resize(bytes);
  };
  switch (format_.fourcc) {
    case kFourccMjpg:
    case kFourccJpeg: {
      int width = 0, height = 0;
      // The frame's name for an error message, built in place (no allocation per frame).
      frame_name_.assign(path_);
      frame_name_ += " frame ";
      frame_name_ += std::to_string(sequence);
      jpeg_.decode(data, bytes_used, image.rgb, width, height, frame_name_);
      image.width = width;
      image.height = height;
      image.stride = ptrdiff_t(width) * 3;
      return true;
    }
    case kFourccYuyv: {
      if (bytes_used < size_t(bytes_per_line_) * size_t(h - 1) + size_t(yuyv_row_bytes(w))) {
        return false;
      }
      resize(w, h);
      yuyv_to_rgb(data, bytes_per_line_, w, h, image.rgb.data(), image.stride, matrix_);
      return true;
    }
    case kFourccNv12: {
      const size_t luma = size_t(bytes_per_line_) * size_t(h);
      if (bytes_used < luma + size_t(bytes_per_line_) * size_t((h + 1) / 2 - 1) + size_t(w)) {
        return false;
      }
      resize(w, h);
      nv12_to_rgb(data, bytes_per_line_, data + luma, bytes_per_line_, w, h, image.rgb.data(),
                  image.stride, matrix_);
      return true;
    }
    case kFourccYu12: {
      const size_t luma = size_t(bytes_per_line_) * size_t(h);
      const ptrdiff_t chroma_stride = (bytes_per_line_ + 1) / 2;
      const size_t chroma = size_t(chroma_stride) * size_t((h + 1) / 2);
      if (bytes_used < luma + 2 * chroma) return false;
      resize(w, h);
      i420_to_rgb(data, bytes_per_line_, data + luma, chroma_stride, data + luma + chroma,
                  chroma_stride, w, h, image.rgb.data(), image.stride, matrix_);
      return true;
    }
    default:
      return false;
  }
}

// ---- loopback output ----

V4l2LoopbackOutput::V4l2LoopbackOutput(const std::string& path, const LoopbackOptions& options)
    : path_(path) {
  if (options.width <= 0 || options.height <= 0 || options.width % 2 || options.height % 2 ||
      options.width > 16384 || options.height > 16384) {
    throw Error(fmt::format("virtual webcam '{}': the frame size {}x{} must be even", path,
                            options.width, options.height));
  }
  auto [fd, device] = open_node(path, Role::loopback);
  fd_ = std::move(fd);
  device_ = std::move(device);
  if (!device_.loopback) {
    throw Error(not_loopback_message(
        path_, fmt::format("it is {} of driver '{}': {}", device_label(device_), device_.driver,
                           device_.kind())));
  }
  if (!device_.output) {
    throw Error(fmt::format(
        "the virtual webcam '{}' ({}) does not accept output now: another program is already "
        "writing to it (close it, or make a second device: {}; {})",
        path_, device_label(device_),
        "sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback devices=2 exclusive_caps=1 "
        "card_label=mattecast,mattecast2",
        kListHint));
  }

  width_ = options.width;
  height_ = options.height;
  fourcc_ = options.pixel_format == LoopbackPixelFormat::yu12 ? kFourccYu12 : kFourccYuyv;
  matrix_ = options.matrix.value_or(default_yuv_matrix(width_, height_));

  v4l2_format format{};
  format.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
  v4l2_pix_format& pix = format.fmt.pix;
  pix.width = uint32_t(width_);
  pix.height = uint32_t(height_);
  pix.pixelformat = fourcc_;
  pix.field = V4L2_FIELD_NONE;
  if (fourcc_ == kFourccYuyv) {
    pix.bytesperline = uint32_t(yuyv_row_bytes(width_));
    pix.sizeimage = uint32_t(yuyv_frame_bytes(width_, height_));
  } else {
    pix.bytesperline = uint32_t(width_);  // of the Y plane; U and V have half of it
    pix.sizeimage = uint32_t(i420_layout(width_, height_).size);
  }
  // The YCbCr matrix the frames are encoded with: BT.709 (REC709) for HD sizes, BT.601
  // (SMPTE170M, the SD convention and what most webcam readers assume) below; limited range.
  if (matrix_ == YuvMatrix::bt709) {
    pix.colorspace = V4L2_COLORSPACE_REC709;
    pix.ycbcr_enc = V4L2_YCBCR_ENC_709;
  } else {
    pix.colorspace = V4L2_COLORSPACE_SMPTE170M;
    pix.ycbcr_enc = V4L2_YCBCR_ENC_601;
  }
  pix.quantization = V4L2_QUANTIZATION_LIM_RANGE;
  pix.xfer_func = V4L2_XFER_FUNC_DEFAULT;
  if (xioctl(fd_.get(), VIDIOC_S_FMT, &format) != 0) {
    const int error_number = errno;
    throw Error(fmt::format("the virtual webcam '{}' refused the format {} {}x{}: {}{}", path_,
                            fourcc_to_string(fourcc_), width_, height_, errno_text(error_number),
                            error_number == EBUSY ? " (a program is reading it in another format; "
                                                    "close it and start mattecast first)"
                                                  : ""));
  }
  if (int(pix.width) != width_ || int(pix.height) != height_ || pix.pixelformat != fourcc_) {
    throw Error(fmt::format(
        "the virtual webcam '{}' answered a request for {} {}x{} with {} {}x{} (is another program "
        "using it with a fixed format?)",
        path_, fourcc_to_string(fourcc_), width_, height_, fourcc_to_string(pix.pixelformat),
        pix.width, pix.height));
  }
  // The driver's layout where it is at least as large as the packed one.
  const size_t packed = fourcc_ == kFourccYuyv ? yuyv_frame_bytes(width_, height_)
                                               : i420_layout(width_, height_).size;
  const bool driver_layout = fourcc_ == kFourccYuyv &&
                             ptrdiff_t(pix.bytesperline) >= yuyv_row_bytes(width_) &&
                             size_t(pix.sizeimage) >= size_t(pix.bytesperline) * size_t(height_);
  buffer_.assign(driver_layout ? size_t(pix.sizeimage) : packed, 0);
  yuyv_stride_ = driver_layout ? ptrdiff_t(pix.bytesperline) : yuyv_row_bytes(width_);

  if (options.fps > 0) {
    v4l2_streamparm parm{};
    parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    parm.parm.output.timeperframe.numerator = 1000;
    parm.parm.output.timeperframe.denominator = uint32_t(std::lround(options.fps * 1000));
    xioctl(fd_.get(), VIDIOC_S_PARM, &parm);  // informative for readers; not every version has it
  }
}

V4l2LoopbackOutput::~V4l2LoopbackOutput() = default;

std::string V4l2LoopbackOutput::description() const {
  return fmt::format("{} ({}) {} {}x{} {}", path_, device_label(device_), fourcc_to_string(fourcc_),
                     width_, height_, to_string(matrix_));
}

void V4l2LoopbackOutput::write(const RgbImage& frame) {
  if (frame.width != width_ || frame.height != height_ || !frame.data) {
    throw Error(fmt::format("virtual webcam '{}': a {}x{} frame for a {}x{} output", path_,
                            frame.width, frame.height, width_, height_));
  }
  if (fourcc_ == kFourccYuyv) {
    rgb_to_yuyv(frame, buffer_.data(), yuyv_stride_, matrix_);
  } else {
    rgb_to_i420(frame, buffer_.data(), matrix_);
  }
  // One write() is one frame for v4l2loopback (a second call would start the next frame), so the
  // frame goes in a single call; the driver takes at most its frame size.
  ssize_t written;
  do {
    written = ::write(fd_.get(), buffer_.data(), buffer_.size());
  } while (written < 0 && errno == EINTR);
  if (written < 0) {
    const int error_number = errno;
    if (error_number == ENODEV || error_number == EIO || error_number == ENXIO) {
      throw Error(
          fmt::format("the virtual webcam '{}' disappeared ({}; was v4l2loopback unloaded?)", path_,
                      errno_text(error_number)));
    }
    throw Error(fmt::format("writing to the virtual webcam '{}' failed: {}", path_,
                            errno_text(error_number)));
  }
  ++frames_written_;
}

}  // namespace mattecast
