// V4L2 nodes: ioctls, capability queries, format enumeration, opening (see v4l2_node.h).
#include "live/v4l2_node.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mattecast {

namespace v4l2_detail {

namespace {

template <size_t N>
std::string fixed_string(const uint8_t (&text)[N]) {
  const char* chars = reinterpret_cast<const char*>(text);
  return std::string(chars, strnlen(chars, N));
}

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

// The capabilities of this node (device_caps when the driver reports them).
uint32_t node_capabilities(const v4l2_capability& cap) {
  return (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
}

std::string missing_message(const std::string& path, Role role) {
  if (role == Role::camera) {
    return fmt::format("no such device '{}' (is the camera connected? {})", path, kListHint);
  }
  return fmt::format(
      "no virtual webcam at '{}': the v4l2loopback module is not loaded, or its device has "
      "another number ({}). Create one with: {}",
      path, kListHint, kLoopbackModprobe);
}

}  // namespace

std::string errno_text(int error_number) { return std::strerror(error_number); }

int xioctl(int fd, unsigned long request, void* argument) {
  int result;
  do {
    result = ::ioctl(fd, request, argument);
  } while (result < 0 && errno == EINTR);
  return result;
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

DeviceInfo info_from_querycap(const std::string& path, const v4l2_capability& cap) {
  return make_device_info(path, fixed_string(cap.driver), fixed_string(cap.card),
                          fixed_string(cap.bus_info), node_capabilities(cap));
}

bool is_character_device(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

std::string not_loopback_message(const std::string& path, const std::string& what) {
  return fmt::format(
      "'{}' is not a v4l2loopback output device ({}); the virtual webcam is made by the "
      "v4l2loopback module: {} ({})",
      path, what, kLoopbackModprobe, kListHint);
}

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

}  // namespace v4l2_detail

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace mattecast
