// The activations fused into convolutions.
#pragma once

namespace mattecast {

enum class Activation { none, relu, hardswish };

}  // namespace mattecast
