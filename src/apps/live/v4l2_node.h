// V4L2 nodes, shared by the device listing, the camera and the virtual webcam: ioctls retried on
// signals, capability queries, format enumeration, and opening with errors a user can act on.
#pragma once

#include <linux/videodev2.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "live/v4l2_device.h"

namespace mattecast::v4l2_detail {

inline constexpr const char* kLoopbackDriver = "v4l2 loopback";
inline constexpr const char* kListHint = "see `mattecast webcam --list-devices`";
inline constexpr const char* kGroupHint =
    "add your user to the `video` group (sudo usermod -aG video $USER) and log in again";

std::string errno_text(int error_number);

// ioctl, retried when a signal interrupts it.
int xioctl(int fd, unsigned long request, void* argument);

// Every pixel format at every frame size (ranges expanded to the common sizes), with the rates.
std::vector<FormatOption> enumerate_capture_formats(int fd);

DeviceInfo info_from_querycap(const std::string& path, const v4l2_capability& cap);

bool is_character_device(const std::string& path);

enum class Role { camera, loopback };

std::string not_loopback_message(const std::string& path, const std::string& what);

// Opens a V4L2 node and queries it; throws the user-facing Error for every failure.
std::pair<UniqueFd, DeviceInfo> open_node(const std::string& path, Role role);

// The card's name, else the driver's.
std::string device_label(const DeviceInfo& device);

}  // namespace mattecast::v4l2_detail
