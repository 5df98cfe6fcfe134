// What goes behind the person: a colour, a picture, a looping video, the blurred input itself,
// or nothing (transparent).
//
//   Background background(parse_background("blur:12"), 1280, 720);
//   RgbImage behind = background.render(frame.seconds(), frame.rgb(), matte.alpha.data());
//
// Every buffer is made for the frame size given at construction; render() allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mattecast/mattecast.h"

namespace mattecast {

struct Rgb8 {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb8&, const Rgb8&) = default;
};

// The composite's default: the green RVM's converter uses (RGB 120, 255, 155).
inline constexpr Rgb8 kDefaultGreen{120, 255, 155};
// "blur" without a strength: a video-call-like blur (Gaussian sigma 12 px at 720 lines).
inline constexpr float kDefaultBlurStrength = 12.0f;
inline constexpr float kMaxBlurStrength = 500.0f;

// The blur's kernel: a Gaussian (a video call's blur) or a flat disc (a lens's bokeh).
enum class BlurShape { gaussian, disc };

struct BackgroundSpec {
  enum class Kind { colour, image, video, blur, transparent };
  Kind kind = Kind::colour;
  Rgb8 colour = kDefaultGreen;  // Kind::colour
  std::string path;             // Kind::image / Kind::video
  float blur_strength = 0;      // Kind::blur: Gaussian sigma in pixels of a 720-line frame
                                // (scaled with the frame height); a disc's radius is twice it
  BlurShape blur_shape = BlurShape::gaussian;
};

// Case-insensitive keywords: "green" (RVM's green, kDefaultGreen), a colour name (black, white,
// gray/grey, red, blue, yellow, cyan, magenta, orange, purple, pink, brown, navy), "#RRGGBB" or
// "#RGB", "blur" (kDefaultBlurStrength), "blur:STRENGTH" (0 < STRENGTH <= kMaxBlurStrength),
// "blur:STRENGTH:disc" or "blur:disc" (a lens blur; ":gaussian" names the default),
// "transparent" or "none". Anything else is a path, probed: a file with a picture extension
// (is_image_path) must decode as a still; any other file is a video when FFmpeg decodes more than
// one frame of it, a still when one. Throws Error naming the text and saying what is wrong (not a
// colour..., bad blur strength, a folder, not an image or video file, an undecodable picture).
// A file is decoded here once to check it; Background decodes it again.
BackgroundSpec parse_background(std::string_view text);

class Background {
 public:
  // Opens and scales the image or video for frames of width x height ("cover": scaled to fill,
  // centred, the overflow cropped; swscale's area filter when shrinking, bicubic when
  // enlarging). Throws Error naming the file when it cannot be read.
  // threads: for the blur, as in composite.h (1: on the calling thread, no OpenMP region; 0: the
  // OpenMP default; n: n row bands); a video background's decoder gets one thread when threads
  // is 1, else FFmpeg's choice. The blur's result does not depend on the thread count.
  Background(const BackgroundSpec& spec, int width, int height, int threads = 1);
  ~Background();
  Background(Background&&) noexcept;
  Background& operator=(Background&&) noexcept;

  const BackgroundSpec& spec() const;
  bool transparent() const;
  // Blur and video backgrounds change from frame to frame; the others are rendered once.
  bool dynamic() const;

  // The background for the input frame shown at `seconds`. A video background follows the
  // input's timestamps, not the frame count: the first call's `seconds` is the input's start,
  // and input time t shows the video frame whose time (from the video's first frame) is the last
  // <= fmod(t - start, the video's duration) (duration = last frame's time + one frame); it
  // loops by reopening the file, copes with any frame rate and size, and scales a frame only when
  // it changes. `source` and `alpha` (width x height, 0..1) are read only by the blur: it
  // averages the pixels weighted by (1 - alpha) so the person's colour never bleeds into it, and
  // where the person covers the whole neighbourhood it falls back smoothly to the plain blur.
  // alpha may be null for the plain blur. The returned view (stride aware) is valid until the
  // next call. Throws Error for a transparent background or a source of the wrong size.
  RgbImage render(double seconds, const RgbImage& source, const float* alpha);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
