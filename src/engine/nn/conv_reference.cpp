#include "nn/conv_reference.h"

#include <algorithm>

namespace mattecast::reference {

namespace {

float activate(Activation activation, float x) {
  switch (activation) {
    case Activation::relu:
      return std::max(x, 0.0f);
    case Activation::hardswish:
      return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Activation::none:
      break;
  }
  return x;
}

}  // namespace

void conv2d(const ConvSpec& spec, const ConvWeights& weights, View<const float> src,
            View<float> dst, const float* residual) {
  const int k = spec.kernel;
  const int in_per_group = spec.depthwise ? 1 : spec.in_channels;
  for (int oy = 0; oy < dst.h; ++oy)
    for (int ox = 0; ox < dst.w; ++ox)
      for (int oc = 0; oc < spec.out_channels; ++oc) {
        double sum = weights.bias[oc];
        for (int ky = 0; ky < k; ++ky) {
          const int iy = oy * spec.stride - spec.padding() + ky * spec.dilation;
          if (iy < 0 || iy >= src.h) continue;
          for (int kx = 0; kx < k; ++kx) {
            const int ix = ox * spec.stride - spec.padding() + kx * spec.dilation;
            if (ix < 0 || ix >= src.w) continue;
            const float* pixel = src.pixel(iy, ix);
            for (int i = 0; i < in_per_group; ++i) {
              const int ic = spec.depthwise ? oc : i;
              sum += double(weights.weight[((size_t(oc) * in_per_group + i) * k + ky) * k + kx]) *
                     pixel[ic];
            }
          }
        }
        float value = activate(spec.activation, float(sum));
        const size_t index = (size_t(oy) * dst.w + ox) * spec.out_channels + oc;
        if (residual) value += residual[index];
        dst.pixel(oy, ox)[oc] = value;
      }
}

}  // namespace mattecast::reference
