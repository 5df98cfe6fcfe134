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

struct BackgroundSpec {
  enum class Kind { colour, image, video, blur, transparent };
  Kind kind = Kind::colour;
  Rgb8 colour = kDefaultGreen;  // Kind::colour
  std::string path;             // Kind::image / Kind::video
  float blur_strength = 0;      // Kind::blur: Gaussian sigma in pixels of a 720-line frame
                                // (scaled with the frame height)
};

// "green" (RVM's green), a colour name ("black", "white", "blue", ...), "#RRGGBB", "blur",
// "blur:STRENGTH", "transparent" or "none", else a path: an image (JPEG, PNG, WebP, ...) or a
// video (anything FFmpeg reads), told apart by probing the file. Throws Error naming the text or
// the file when it is none of these.
BackgroundSpec parse_background(std::string_view text);

class Background {
 public:
  // Opens and scales the image or video for frames of width x height ("cover": scaled to fill,
  // centred, the overflow cropped). Throws Error naming the file when it cannot be read.
  Background(const BackgroundSpec& spec, int width, int height, int threads = 1);
  ~Background();
  Background(Background&&) noexcept;
  Background& operator=(Background&&) noexcept;

  const BackgroundSpec& spec() const;
  bool transparent() const;
  // Blur and video backgrounds change from frame to frame; the others are rendered once.
  bool dynamic() const;

  // The background for the input frame shown at `seconds` (a video background loops and follows
  // the input's timestamps, not the frame count). `source` and `alpha` (width x height, 0..1) are
  // read only by the blur: it averages the pixels weighted by (1 - alpha) so the person's colour
  // never bleeds into it. The returned view is valid until the next call. Must not be called
  // for a transparent background.
  RgbImage render(double seconds, const RgbImage& source, const float* alpha);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
