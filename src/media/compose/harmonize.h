// Colour harmonisation (--harmonize S): the person's colours moved towards the new background's,
// after Reinhard, Ashikhmin, Gooch & Shirley, "Color Transfer between Images" (2001): per-channel
// mean and standard deviation matched in the decorrelated lαβ space.
#pragma once

#include <array>
#include <memory>

#include "mattecast/mattecast.h"

namespace mattecast {

// The lαβ space used here: RGB (0..1, as stored: no gamma removed, as in the paper) to LMS by the
// paper's matrix, then log2(LMS + kLabOffset) (log2, not log10: the transfer is the same up to
// scale; the offset keeps black finite), then the paper's decorrelating matrix.
constexpr float kLabOffset = 1.0f / 256;
std::array<float, 3> rgb_to_lab(const std::array<float, 3>& rgb);  // exact, for reference use

// Mean and standard deviation of each lαβ channel.
struct ColourStatistics {
  std::array<double, 3> mean{};
  std::array<double, 3> deviation{};
};

class ColourHarmonizer {
 public:
  ColourHarmonizer();
  ~ColourHarmonizer();
  ColourHarmonizer(ColourHarmonizer&&) noexcept;
  ColourHarmonizer& operator=(ColourHarmonizer&&) noexcept;

  // Recolours the matte's foreground towards `background` with strength S in [0, 1]: in lαβ,
  // each channel becomes (v - person mean) * (1 + S * (background dev / person dev - 1)) +
  // person mean + S * (background mean - person mean), then back to RGB, clamped to [0, 1]
  // (pixels in runs of zero alpha, which no output shows, may be left as they were).
  // Person statistics are weighted by alpha, the background's by 1 - alpha, on a grid of about
  // 16k samples (every pixel of small frames); each is an exponential moving average over frames
  // (weight `kKeep` for the previous value) so video does not flicker; the first frame after a
  // reset or a size change takes its own. An alpha-only matte gets its foreground from `source`
  // first. Strength 0 returns at once, touching nothing. Throws Error for a strength outside
  // [0, 1] or mismatched sizes. No allocation once sized; threads: as in composite.h.
  static constexpr double kKeep = 0.8;
  void apply(float strength, Matte& matte, const RgbImage& source, const RgbImage& background,
             int threads = 1);
  void reset();

  // The statistics of the last apply() (smoothed): the person's and the background's.
  const ColourStatistics& person() const;
  const ColourStatistics& background() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
