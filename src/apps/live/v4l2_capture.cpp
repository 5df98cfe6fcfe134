// The camera: format negotiation, mmap streaming and conversion of each frame to RGB (the
// V4l2Capture of v4l2_device.h).
#include "live/v4l2_device.h"

#include <fmt/format.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <string>

#include "live/v4l2_node.h"

namespace mattecast {

using v4l2_detail::device_label;
using v4l2_detail::enumerate_capture_formats;
using v4l2_detail::errno_text;
using v4l2_detail::kListHint;
using v4l2_detail::open_node;
using v4l2_detail::Role;
using v4l2_detail::xioctl;

namespace {

// For a device that lists no formats: its current pixel format (unless another was asked for) at
// the requested size and rate.
CaptureFormat unlisted_format(int fd, const CaptureRequest& want) {
  v4l2_format current{};
  current.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  uint32_t fourcc = want.fourcc ? want.fourcc : kFourccMjpg;
  if (xioctl(fd, VIDIOC_G_FMT, &current) == 0 &&
      is_supported_capture_fourcc(current.fmt.pix.pixelformat) && !want.fourcc) {
    fourcc = current.fmt.pix.pixelformat;
  }
  return CaptureFormat{fourcc, want.width > 0 ? want.width : 1280,
                       want.height > 0 ? want.height : 720,
                       want.fps > 0 ? FrameInterval{1000, uint32_t(std::lround(want.fps * 1000))}
                                    : FrameInterval{1, 30}};
}

// Asks for `wanted` where the driver lets us choose the frame rate; the period the camera runs at
// (unknown when the driver does not say).
FrameInterval set_frame_interval(int fd, FrameInterval wanted) {
  v4l2_streamparm parm{};
  parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (xioctl(fd, VIDIOC_G_PARM, &parm) == 0 &&
      (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
    if (wanted.known()) {
      parm.parm.capture.timeperframe.numerator = wanted.numerator;
      parm.parm.capture.timeperframe.denominator = wanted.denominator;
      xioctl(fd, VIDIOC_S_PARM, &parm);  // best effort; what it chose is read back below
    }
    v4l2_streamparm actual{};
    actual.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd, VIDIOC_G_PARM, &actual) == 0) {
      return {actual.parm.capture.timeperframe.numerator,
              actual.parm.capture.timeperframe.denominator};
    }
  } else if (parm.parm.capture.timeperframe.numerator != 0) {
    return {parm.parm.capture.timeperframe.numerator, parm.parm.capture.timeperframe.denominator};
  }
  return {};
}

}  // namespace

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
    choice = unlisted_format(fd_.get(), want);  // nothing enumerated: the current format
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

  format_.interval = set_frame_interval(fd_.get(), choice->interval);
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

}  // namespace mattecast
