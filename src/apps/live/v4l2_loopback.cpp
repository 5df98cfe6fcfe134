// The virtual webcam: frames converted to YUYV or YU12 and written to a v4l2loopback device (the
// V4l2LoopbackOutput of v4l2_device.h).
#include "live/v4l2_device.h"

#include <fmt/format.h>
#include <linux/videodev2.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "live/v4l2_node.h"

namespace mattecast {

using v4l2_detail::device_label;
using v4l2_detail::errno_text;
using v4l2_detail::kListHint;
using v4l2_detail::not_loopback_message;
using v4l2_detail::open_node;
using v4l2_detail::Role;
using v4l2_detail::xioctl;

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
