// Video4Linux2 devices: listing cameras and virtual webcams, capturing RGB frames from a camera,
// and writing frames to a v4l2loopback device (the virtual webcam other programs read).
//
//   for (const DeviceInfo& d : list_devices()) ...;          // or format_device_list(...)
//   V4l2Capture camera("/dev/video0", {.width = 1280, .height = 720, .fps = 30});
//   CapturedImage image;
//   while (...) if (camera.read(image, std::chrono::milliseconds(100))) use(image.view());
//   V4l2LoopbackOutput out("/dev/video4", {.width = 1280, .height = 720});
//   out.write(rgb);
//
// The decisions (what a device is, which format to ask a camera for, how the listing reads) are
// plain functions of plain structs, so they are tested without a device; only the classes and
// list_devices() issue ioctls.
//
// v4l2_device.cpp: names, listing, format choice; v4l2_capture.cpp: the camera;
// v4l2_loopback.cpp: the virtual webcam; v4l2_node.h: what the three share.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "live/pixel_convert.h"
#include "io/jpeg.h"
#include "mattecast/mattecast.h"

namespace mattecast {

// The command that creates the virtual webcam; part of every error about a missing one.
inline constexpr const char* kLoopbackModprobe =
    "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=mattecast";

// ---- pixel format codes ----

constexpr uint32_t make_fourcc(char a, char b, char c, char d) {
  return uint32_t(uint8_t(a)) | uint32_t(uint8_t(b)) << 8 | uint32_t(uint8_t(c)) << 16 |
         uint32_t(uint8_t(d)) << 24;
}
inline constexpr uint32_t kFourccMjpg = make_fourcc('M', 'J', 'P', 'G');  // V4L2_PIX_FMT_MJPEG
inline constexpr uint32_t kFourccJpeg = make_fourcc('J', 'P', 'E', 'G');  // V4L2_PIX_FMT_JPEG
inline constexpr uint32_t kFourccYuyv = make_fourcc('Y', 'U', 'Y', 'V');  // V4L2_PIX_FMT_YUYV
inline constexpr uint32_t kFourccNv12 = make_fourcc('N', 'V', '1', '2');  // V4L2_PIX_FMT_NV12
inline constexpr uint32_t kFourccYu12 = make_fourcc('Y', 'U', '1', '2');  // V4L2_PIX_FMT_YUV420

// "MJPG", "YUYV"; codes with unprintable bytes as "0x3231564e"; a big-endian variant
// (bit 31 set, V4L2_PIX_FMT_FLAG_BE... codes) gets a "-BE" suffix.
std::string fourcc_to_string(uint32_t fourcc);
// "mjpg"/"MJPG"/"mjpeg", "yuyv", "nv12", "yu12"/"i420"; "" or "auto" -> 0 (no preference).
// Throws Error listing the accepted names otherwise.
uint32_t parse_pixel_format(const std::string& text);
// The camera formats V4l2Capture converts: MJPG, JPEG, YUYV, NV12, YU12.
bool is_supported_capture_fourcc(uint32_t fourcc);

// ---- what a device offers ----

// A frame period as V4L2 gives it (seconds per frame = numerator / denominator).
struct FrameInterval {
  uint32_t numerator = 0;
  uint32_t denominator = 0;
  bool known() const { return numerator != 0 && denominator != 0; }
  double fps() const { return known() ? double(denominator) / numerator : 0.0; }
  friend bool operator==(const FrameInterval&, const FrameInterval&) = default;
};

// One pixel format at one frame size, with the frame rates offered there (fastest first; empty
// when the driver does not say). Stepwise / continuous size ranges are expanded to the common
// sizes inside the range plus its largest size.
struct FormatOption {
  uint32_t fourcc = 0;
  std::string description;  // the driver's, e.g. "Motion-JPEG"
  int width = 0;
  int height = 0;
  std::vector<FrameInterval> intervals;
};

struct DeviceInfo {
  std::string path;
  std::string card;           // e.g. "HD Pro Webcam C920", or a loopback's card_label
  std::string driver;         // e.g. "uvcvideo", "v4l2 loopback"
  std::string bus;            // e.g. "usb-0000:00:14.0-1"
  uint32_t capabilities = 0;  // the node's V4L2_CAP_* bits (device_caps when the driver has them)
  bool capture = false;       // single-planar video capture (a camera, or a loopback being fed)
  bool output = false;        // video output
  bool loopback = false;      // the v4l2loopback driver
  bool streaming = false;     // mmap streaming I/O
  bool metadata = false;      // a metadata node (UVC cameras add one per camera), no video
  std::vector<FormatOption> formats;  // capture devices only
  std::string error;  // why the node could not be inspected (e.g. permission denied); else ""

  // "camera", "virtual webcam output (v4l2loopback)", "metadata (no video)", ...
  std::string kind() const;
};

// A DeviceInfo from VIDIOC_QUERYCAP's fields (`capabilities`: device_caps when
// V4L2_CAP_DEVICE_CAPS is set, else capabilities). No ioctl.
DeviceInfo make_device_info(const std::string& path, const std::string& driver,
                            const std::string& card, const std::string& bus, uint32_t capabilities);

// The video nodes `directory`/videoN (N = 0, 1, ... in numeric order; anything else there,
// including entries that are not character devices, is skipped) with their capabilities and,
// for capture devices, their formats. Nodes that cannot be opened are listed with `error` set.
std::vector<DeviceInfo> list_devices(const std::string& directory = "/dev");

// The text of `mattecast webcam --list-devices` (ends with a newline). `directory` is named when
// nothing was found; a hint for creating the virtual webcam is added when there is none.
std::string format_device_list(const std::vector<DeviceInfo>& devices,
                               const std::string& directory = "/dev");
// "30", "7.5", "29.97"
std::string format_fps(double fps);

// ---- choosing a camera format ----

struct CaptureRequest {
  int width = 0;  // 0: 1280x720 (or the other side at 16:9 when only one is given)
  int height = 0;
  double fps = 0;       // 0: 30
  uint32_t fourcc = 0;  // preferred pixel format; 0: automatic. A preference the device does not
                        // offer is ignored.
};

struct CaptureFormat {
  uint32_t fourcc = 0;
  int width = 0;
  int height = 0;
  FrameInterval interval;        // unknown (0/0) when the driver lists no frame rates
  std::string describe() const;  // "MJPG 1280x720 30 fps"
};

// The best supported option for the request: the size closest to the one asked for (a smaller
// size counts double: it would be upscaled), then the frame rate closest to the one asked for (a
// slower rate costs more than a faster one), then YUYV/NV12 over MJPG (cheaper, lossless) over
// YU12. nullopt when no option has a supported pixel format.
std::optional<CaptureFormat> choose_capture_format(const std::vector<FormatOption>& options,
                                                   const CaptureRequest& want);

// ---- devices ----

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// One camera frame converted to packed RGB24.
struct CapturedImage {
  std::vector<uint8_t> rgb;
  int width = 0;
  int height = 0;
  ptrdiff_t stride = 0;
  int64_t timestamp_ns = 0;  // the driver's CLOCK_MONOTONIC capture time; 0 if it has none
  uint32_t sequence = 0;     // the driver's frame counter (gaps: frames the driver dropped)
  RgbImage view() const { return {rgb.data(), width, height, stride}; }
};

// A camera, streaming through ~4 mmap buffers from construction to destruction.
class V4l2Capture {
 public:
  // Opens the device, negotiates the format closest to `want` (see choose_capture_format) and
  // starts streaming. Throws Error: no such device (with a --list-devices hint), permission
  // denied (with the `video` group hint), busy, not a V4L2 device, not a video capture device,
  // or no pixel format mattecast can convert.
  explicit V4l2Capture(const std::string& path, const CaptureRequest& want = {});
  ~V4l2Capture();
  V4l2Capture(const V4l2Capture&) = delete;
  V4l2Capture& operator=(const V4l2Capture&) = delete;

  const std::string& path() const { return path_; }
  const DeviceInfo& device() const { return device_; }
  // What the driver chose (it may differ from the request).
  const CaptureFormat& format() const { return format_; }
  // "/dev/video0 MJPG 1280x720 30 fps"
  std::string description() const;

  // Waits up to `timeout` for the next frame and converts it into `image` (buffers reused).
  // false: no frame in time. Damaged frames are skipped and counted in corrupt_frames(); only
  // a long run of them throws. Throws Error saying the camera disappeared when it is unplugged
  // (ENODEV / EIO).
  bool read(CapturedImage& image, std::chrono::milliseconds timeout);
  int64_t corrupt_frames() const { return corrupt_frames_; }

 private:
  struct Buffer {
    void* data = nullptr;
    size_t length = 0;
  };
  void start_streaming();
  void stop_streaming() noexcept;
  bool convert(const Buffer& buffer, size_t bytes_used, uint32_t sequence, CapturedImage& image);
  [[noreturn]] void throw_io_error(const char* operation, int error_number) const;

  std::string path_;
  UniqueFd fd_;
  DeviceInfo device_;
  CaptureFormat format_;
  ptrdiff_t bytes_per_line_ = 0;
  YuvMatrix matrix_ = YuvMatrix::bt601;
  std::vector<Buffer> buffers_;
  bool streaming_ = false;
  JpegDecoder jpeg_;
  std::string frame_name_;
  int64_t corrupt_frames_ = 0;
  int consecutive_corrupt_ = 0;
};

enum class LoopbackPixelFormat { yuyv, yu12 };

struct LoopbackOptions {
  int width = 0;  // both even
  int height = 0;
  LoopbackPixelFormat pixel_format = LoopbackPixelFormat::yuyv;
  double fps = 30;  // announced to readers (VIDIOC_S_PARM), best effort
  // The YCbCr matrix, announced in the format's colorspace. Default: default_yuv_matrix(), i.e.
  // BT.709 (V4L2_COLORSPACE_REC709) from 1280x720 up, BT.601 (V4L2_COLORSPACE_SMPTE170M) below.
  std::optional<YuvMatrix> matrix;
};

// The virtual webcam: frames written here are what video-call programs read from the device.
class V4l2LoopbackOutput {
 public:
  // Throws Error when the path is missing or is not a v4l2loopback output device; the message
  // shows kLoopbackModprobe. Also when the size is odd or the driver refuses the format.
  V4l2LoopbackOutput(const std::string& path, const LoopbackOptions& options);
  ~V4l2LoopbackOutput();
  V4l2LoopbackOutput(const V4l2LoopbackOutput&) = delete;
  V4l2LoopbackOutput& operator=(const V4l2LoopbackOutput&) = delete;

  // Converts (into a buffer reused from frame to frame) and writes one frame of the configured
  // size; throws Error for another size, or when the device fails.
  void write(const RgbImage& frame);

  const std::string& path() const { return path_; }
  const DeviceInfo& device() const { return device_; }
  int width() const { return width_; }
  int height() const { return height_; }
  uint32_t fourcc() const { return fourcc_; }
  YuvMatrix matrix() const { return matrix_; }
  int64_t frames_written() const { return frames_written_; }
  // "/dev/video4 (mattecast) YUYV 1280x720 BT.709"
  std::string description() const;

 private:
  std::string path_;
  UniqueFd fd_;
  DeviceInfo device_;
  int width_ = 0;
  int height_ = 0;
  uint32_t fourcc_ = 0;
  YuvMatrix matrix_ = YuvMatrix::bt601;
  std::vector<uint8_t> buffer_;  // one frame in the device's layout
  ptrdiff_t yuyv_stride_ = 0;
  int64_t frames_written_ = 0;
};

}  // namespace mattecast
