// Plain-loop convolution with the same contract as Conv2d, for tests.
#pragma once

#include "nn/conv.h"
#include "nn/view.h"

namespace mattecast::reference {

// dst = act(conv(src) + bias) [+ residual]; all float NHWC, dst sized spec.out_size().
void conv2d(const ConvSpec& spec, const ConvWeights& weights, View<const float> src,
            View<float> dst, const float* residual = nullptr);

}  // namespace mattecast::reference
