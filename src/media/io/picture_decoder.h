// Decoding the first picture of a still-image file, shared by read_image() and
// read_alpha_image(). Defined in image.cpp.
#pragma once

#include <string>
#include <string_view>

#include "io/av_handles.h"

namespace mattecast {

// Throws Error("<action> '<path>': <what>: <FFmpeg's error text and logged messages>"), where
// `action` is the caller's phrase, such as "cannot read image".
[[noreturn]] void throw_picture_error(std::string_view action, const std::string& path,
                                      std::string_view what, int error_code);

// Opens `path` with libavformat and decodes the first picture of its first video stream, in the
// decoder's own pixel format (so 16-bit samples and an alpha channel arrive untouched). JPEG
// decoding errors and pictures the decoder marks as corrupt fail rather than being concealed.
// Errors are thrown through throw_picture_error() with `action`. The caller installs FFmpeg's
// log capture (install_av_log_capture()) and clears earlier messages first.
AvFramePtr decode_first_picture(const std::string& path, std::string_view action);

}  // namespace mattecast
