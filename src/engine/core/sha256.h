// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex: how model files are recognised (the
// checksum `sha256sum` prints).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace mattecast {

std::string sha256_hex(std::span<const uint8_t> bytes);

}  // namespace mattecast
