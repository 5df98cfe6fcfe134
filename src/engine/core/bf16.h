// bfloat16 storage type: the upper 16 bits of an IEEE float, rounded to nearest even.
#pragma once

#include <cstdint>
#include <cstring>

namespace mattecast {

struct bf16 {
  uint16_t bits = 0;

  bf16() = default;
  explicit bf16(float value) : bits(round(value)) {}
  explicit operator float() const {
    const uint32_t word = uint32_t(bits) << 16;
    float value;
    std::memcpy(&value, &word, sizeof value);
    return value;
  }

  static uint16_t round(float value) {
    uint32_t word;
    std::memcpy(&word, &value, sizeof word);
    if ((word & 0x7fffffffu) > 0x7f800000u) return uint16_t((word >> 16) | 0x40);  // quiet NaN
    word += 0x7fffu + ((word >> 16) & 1u);
    return uint16_t(word >> 16);
  }
};
static_assert(sizeof(bf16) == 2);

// Bulk conversions, vectorised where the CPU allows.
void to_bf16(const float* src, bf16* dst, size_t count);
void to_float(const bf16* src, float* dst, size_t count);

}  // namespace mattecast
