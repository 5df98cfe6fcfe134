// Per-target building blocks of the kernels, on Google Highway: float lanes loaded from and stored
// to float or bf16 memory (whole vectors, or the first n lanes without touching memory past them),
// exact divisions, sigmoid and tanh, and 8-bit RGB pixels as float planes. Each kernels_*.cpp
// includes this once per target (hwy/foreach_target.h), hence the toggling include guard.
//
// Everything rounds each operation as the reference kernels do (no MulAdd where they multiply and
// add), except sigmoid and tanh, which approximate exp within the tests' tolerance.
#if defined(MATTECAST_NN_KERNELS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MATTECAST_NN_KERNELS_SIMD_INL_H_
#undef MATTECAST_NN_KERNELS_SIMD_INL_H_
#else
#define MATTECAST_NN_KERNELS_SIMD_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/bf16.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The dispatch tag: kernels_dispatch.h reaches each target's entry points through it (by ADL).
struct Target {};

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using D4 = hn::CappedTag<float, 4>;  // one pixel of 4 channels
using VF4 = hn::Vec<D4>;

// Masked loads and stores that never touch memory outside the mask: AVX-512 has them for every
// lane size, AVX2 for 32-bit lanes only. Other partial vectors go through a buffer.
#if HWY_TARGET <= HWY_AVX3
constexpr bool kMaskedFloat = true, kMaskedBf16 = true;
#elif HWY_TARGET <= HWY_AVX2
constexpr bool kMaskedFloat = true, kMaskedBf16 = false;
#else
constexpr bool kMaskedFloat = false, kMaskedBf16 = false;
#endif

inline const uint16_t* bits_of(const bf16* p) { return reinterpret_cast<const uint16_t*>(p); }
inline uint16_t* bits_of(bf16* p) { return reinterpret_cast<uint16_t*>(p); }

template <class D>
HWY_INLINE hn::Vec<D> Widen(D d, hn::Vec<hn::Rebind<uint16_t, D>> bits) {
  return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(hn::RebindToUnsigned<D>(), bits)));
}

// bf16::round on every lane: nearest even, NaNs made quiet. The arithmetic is unsigned (wrapping);
// both sides of the NaN comparison are below 2^31, so a signed comparison serves.
template <class D>
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, D>> RoundToBf16(D, hn::Vec<D> v) {
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
  const auto rounded = hn::Add(bits, hn::Add(lsb, hn::Set(du, 0x7fffu)));
  const auto magnitude = hn::BitCast(di, hn::And(bits, hn::Set(du, 0x7fffffffu)));
  const auto nan = hn::RebindMask(du, hn::Gt(magnitude, hn::Set(di, 0x7f800000)));
  const auto word = hn::IfThenElse(nan, hn::Or(bits, hn::Set(du, 0x00400000u)), rounded);
  return hn::DemoteTo(hn::Rebind<uint16_t, D>(), hn::BitCast(di, hn::ShiftRight<16>(word)));
}

// Lanes(d) elements at p as floats.
template <class D>
HWY_INLINE hn::Vec<D> LoadF(D d, const float* p) {
  return hn::LoadU(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF(D d, const bf16* p) {
  return Widen(d, hn::LoadU(hn::Rebind<uint16_t, D>(), bits_of(p)));
}

template <class D>
HWY_INLINE void StoreF(D d, hn::Vec<D> v, float* p) {
  hn::StoreU(v, d, p);
}
template <class D>
HWY_INLINE void StoreF(D d, hn::Vec<D> v, bf16* p) {
  hn::StoreU(RoundToBf16(d, v), hn::Rebind<uint16_t, D>(), bits_of(p));
}

// The first n <= Lanes(d) elements at p as floats, zero in the other lanes.
template <class D, typename T>
HWY_INLINE hn::Vec<D> LoadFN(D d, const T* p, size_t n) {
  if (n >= hn::Lanes(d)) return LoadF(d, p);
  if constexpr (std::is_same_v<T, float> && kMaskedFloat) {
    return hn::MaskedLoad(hn::FirstN(d, n), d, p);
  } else if constexpr (std::is_same_v<T, bf16> && kMaskedBf16) {
    const hn::Rebind<uint16_t, D> d16;
    return Widen(d, hn::MaskedLoad(hn::FirstN(d16, n), d16, bits_of(p)));
  } else {
    T buffer[hn::MaxLanes(D())] = {};
    std::memcpy(buffer, p, n * sizeof(T));
    return LoadF(d, buffer);
  }
}

// Stores the first n <= Lanes(d) lanes of v at p.
template <class D, typename T>
HWY_INLINE void StoreFN(D d, hn::Vec<D> v, T* p, size_t n) {
  if (n >= hn::Lanes(d)) return StoreF(d, v, p);
  if constexpr (std::is_same_v<T, float> && kMaskedFloat) {
    hn::BlendedStore(v, hn::FirstN(d, n), d, p);
  } else if constexpr (std::is_same_v<T, bf16> && kMaskedBf16) {
    const hn::Rebind<uint16_t, D> d16;
    hn::BlendedStore(RoundToBf16(d, v), hn::FirstN(d16, n), d16, bits_of(p));
  } else {
    T buffer[hn::MaxLanes(D())];
    StoreF(d, v, buffer);
    std::memcpy(p, buffer, n * sizeof(T));
  }
}

// Calls op(i, n) over [0, count) in steps of Lanes(d): n = Lanes(d), but less in the last step
// (one loop body: the loads and stores check n). The op is taken by value: capturing by value too
// lets its state live in registers (intrinsic stores may alias any memory, which would force
// reloads of captured references after each of them).
template <class D, class Op>
HWY_INLINE void ForEachVector(D d, size_t count, Op op) {
  const size_t lanes = hn::Lanes(d);
  for (size_t i = 0; i < count; i += lanes) op(i, count - i < lanes ? count - i : lanes);
}

// dst[i] = src[i] converted, for n elements.
template <class D, typename T, typename U>
HWY_INLINE void ConvertN(D d, const T* src, U* dst, size_t n) {
  ForEachVector(d, n, [=](size_t i, size_t count) HWY_ATTR {
    StoreFN(d, LoadFN(d, src + i, count), dst + i, count);
  });
}

template <class D>
HWY_INLINE hn::Vec<D> Clamp01(D d, hn::Vec<D> v) {
  return hn::Min(hn::Max(v, hn::Zero(d)), hn::Set(d, 1.0f));
}

// x / divisor, correctly rounded. With FMA: the product with the reciprocal and one exact
// correction, checked to equal the division for every byte / 255 and (r + g + b) / 3 of them.
template <class D>
HWY_INLINE hn::Vec<D> Divide(D d, hn::Vec<D> x, float divisor) {
#if HWY_TARGET <= HWY_AVX2
  const auto reciprocal = hn::Set(d, 1.0f / divisor);
  const auto quotient = hn::Mul(x, reciprocal);
  const auto residual = hn::NegMulAdd(quotient, hn::Set(d, divisor), x);  // exact
  return hn::MulAdd(residual, reciprocal, quotient);
#else
  return hn::Div(x, hn::Set(d, divisor));
#endif
}

// Bytes as floats byte / 255, as uint8 tensor / 255 in PyTorch.
template <class D>
HWY_INLINE hn::Vec<D> UnitFromBytes(D d, hn::Vec<hn::Rebind<uint8_t, D>> bytes) {
  return Divide(d, hn::ConvertTo(d, hn::PromoteTo(hn::Rebind<int32_t, D>(), bytes)), 255.0f);
}

template <class D>
struct Rgb {
  hn::Vec<D> red, green, blue;
};

// Lanes(d) RGB pixels as three planes of byte / 255.
template <class D>
HWY_INLINE Rgb<D> LoadRgb(D d, const uint8_t* pixels) {
  const hn::Rebind<uint8_t, D> d8;
  hn::Vec<decltype(d8)> red, green, blue;
  hn::LoadInterleaved3(d8, pixels, red, green, blue);
  return {UnitFromBytes(d, red), UnitFromBytes(d, green), UnitFromBytes(d, blue)};
}

// n <= Lanes(d) RGB pixels, without reading past them; zero in the other lanes.
template <class D>
HWY_INLINE Rgb<D> LoadRgbN(D d, const uint8_t* pixels, size_t n) {
  if (n >= hn::Lanes(d)) return LoadRgb(d, pixels);
  uint8_t buffer[3 * hn::MaxLanes(D())] = {};
  std::memcpy(buffer, pixels, 3 * n);
  return LoadRgb(d, buffer);
}

// Writes n <= Lanes(d) pixels of three planes interleaved (3n floats).
template <class D>
HWY_INLINE void StoreRgbN(D d, const Rgb<D>& rgb, float* out, size_t n) {
  if (n >= hn::Lanes(d)) return hn::StoreInterleaved3(rgb.red, rgb.green, rgb.blue, d, out);
  float buffer[3 * hn::MaxLanes(D())];
  hn::StoreInterleaved3(rgb.red, rgb.green, rgb.blue, d, buffer);
  std::memcpy(out, buffer, 3 * n * sizeof(float));
}

// n <= Lanes(d) dense pixels of 3 floats as 3 planes (zero past n).
template <class D>
HWY_INLINE void LoadTriples(D d, const float* pixels, size_t n, hn::Vec<D> (&planes)[3]) {
  if (n < hn::Lanes(d)) {
    float buffer[3 * hn::MaxLanes(D())] = {};
    std::memcpy(buffer, pixels, 3 * n * sizeof(float));
    return LoadTriples(d, buffer, hn::Lanes(d), planes);
  }
  hn::LoadInterleaved3(d, pixels, planes[0], planes[1], planes[2]);
}

#if HWY_TARGET != HWY_SCALAR  // vectors of one lane have no blocks: see LoadQuads and StoreQuads

// 4x4 transposes within each 128-bit block, between 4 planes (one channel of Lanes(d) pixels
// each) and pixel quads: block b of quads[m] holds the 4 channels of pixel 4b + m. Its own inverse.
template <class D>
HWY_INLINE void Transpose4(D d, const hn::Vec<D> (&in)[4], hn::Vec<D> (&out)[4]) {
  const hn::Repartition<uint64_t, D> d64;
  const auto pairs = [&](hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D>& lower,
                         hn::Vec<D>& upper) HWY_ATTR {
    lower = hn::BitCast(d, hn::InterleaveLower(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
    upper = hn::BitCast(d, hn::InterleaveUpper(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
  };
  pairs(hn::InterleaveLower(d, in[0], in[1]), hn::InterleaveLower(d, in[2], in[3]), out[0], out[1]);
  pairs(hn::InterleaveUpper(d, in[0], in[1]), hn::InterleaveUpper(d, in[2], in[3]), out[2], out[3]);
}

// Blocks [0, count) of v (4 lanes each) to out + b * step.
template <class D>
HWY_INLINE void StoreBlocks(D d, hn::Vec<D> v, float* out, ptrdiff_t step, size_t count) {
  if constexpr (hn::MaxLanes(D()) == 4) {
    if (count > 0) hn::StoreU(v, d, out);
  } else {
    const hn::Half<D> dh;
    constexpr size_t kHalf = hn::MaxLanes(D()) / 8;  // blocks in a half
    StoreBlocks(dh, hn::LowerHalf(dh, v), out, step, count);
    if (count > kHalf)
      StoreBlocks(dh, hn::UpperHalf(dh, v), out + ptrdiff_t(kHalf) * step, step, count - kHalf);
  }
}

// Blocks [0, count) of a vector from in + b * step (4 elements each, as floats), zero past count.
template <class D, typename T>
HWY_INLINE hn::Vec<D> LoadBlocks(D d, const T* in, ptrdiff_t step, size_t count) {
  if constexpr (hn::MaxLanes(D()) == 4) {
    return count > 0 ? LoadF(d, in) : hn::Zero(d);
  } else {
    const hn::Half<D> dh;
    constexpr size_t kHalf = hn::MaxLanes(D()) / 8;
    const auto lower = LoadBlocks(dh, in, step, count);
    if (count <= kHalf) return hn::ZeroExtendVector(d, lower);
    return hn::Combine(d, LoadBlocks(dh, in + ptrdiff_t(kHalf) * step, step, count - kHalf), lower);
  }
}

#endif  // HWY_TARGET != HWY_SCALAR

// n <= Lanes(d) pixels of 4 channels (float or bf16), `stride` elements apart, as 4 planes (zero
// past n).
template <class D, typename T>
HWY_INLINE void LoadQuads(D d, const T* pixels, ptrdiff_t stride, size_t n,
                          hn::Vec<D> (&planes)[4]) {
#if HWY_TARGET == HWY_SCALAR  // one pixel, channel by channel
  for (size_t k = 0; k < 4; ++k) planes[k] = n > 0 ? LoadF(d, pixels + k) : hn::Zero(d);
#else
  if (stride == 4 && n == hn::Lanes(d)) {
    if constexpr (std::is_same_v<T, float>) {
      hn::LoadInterleaved4(d, pixels, planes[0], planes[1], planes[2], planes[3]);
    } else {
      const hn::Rebind<uint16_t, D> d16;
      hn::Vec<decltype(d16)> bits[4];
      hn::LoadInterleaved4(d16, bits_of(pixels), bits[0], bits[1], bits[2], bits[3]);
      for (int k = 0; k < 4; ++k) planes[k] = Widen(d, bits[k]);
    }
  } else {
    hn::Vec<D> quads[4];
    for (size_t m = 0; m < 4; ++m)
      quads[m] = LoadBlocks(d, pixels + ptrdiff_t(m) * stride, 4 * stride, (n + 3 - m) / 4);
    Transpose4(d, quads, planes);
  }
#endif
}

// Writes n <= Lanes(d) pixels of 4 channels, `stride` elements apart, from 4 planes.
template <class D>
HWY_INLINE void StoreQuads(D d, const hn::Vec<D> (&planes)[4], float* pixels, ptrdiff_t stride,
                           size_t n) {
#if HWY_TARGET == HWY_SCALAR
  if (n > 0)
    for (size_t k = 0; k < 4; ++k) hn::StoreU(planes[k], d, pixels + k);
#else
  if (stride == 4 && n == hn::Lanes(d)) {
    hn::StoreInterleaved4(planes[0], planes[1], planes[2], planes[3], d, pixels);
  } else {
    hn::Vec<D> quads[4];
    Transpose4(d, planes, quads);
    for (size_t m = 0; m < 4; ++m)
      StoreBlocks(d, quads[m], pixels + ptrdiff_t(m) * stride, 4 * stride, (n + 3 - m) / 4);
  }
#endif
}

// ---------------------------------------------------------------------------------------------
// Sigmoid and tanh from e^x = 2^n e^r, x = n ln2 + r, |r| <= ln2 / 2

constexpr float kLog2e = 1.44269504f;
constexpr float kLn2High = 0.693359375f;    // few mantissa bits: n * kLn2High is exact
constexpr float kLn2Low = -2.12194440e-4f;  // ln2 - kLn2High
// Taylor coefficients of (e^r - 1) / r up to r^6: truncation error of e^r below 6e-9.
constexpr float kExpTaylor[7] = {1.0f,       1.0f / 2,   1.0f / 6,   1.0f / 24,
                                 1.0f / 120, 1.0f / 720, 1.0f / 5040};

template <class D>
struct ExpParts {
  hn::Vec<D> scale;    // 2^n
  hn::Vec<D> r_expm1;  // e^r - 1, accurate also for small r
};

// For x in [-87, 88], where 2^n stays a normal float (the callers limit x). n is rounded to the
// nearest integer by adding 1.5 * 2^23, which pushes the fraction bits out: n + 127 is then in
// the low bits.
template <class D>
HWY_INLINE ExpParts<D> SplitExp(D d, hn::Vec<D> x) {
  const hn::RebindToSigned<D> di;
  const auto shifter = hn::Set(d, 12582912.0f);
  const auto shifted = hn::Add(hn::Mul(x, hn::Set(d, kLog2e)), shifter);
  const auto n = hn::Sub(shifted, shifter);
  const auto r = hn::NegMulAdd(n, hn::Set(d, kLn2Low), hn::NegMulAdd(n, hn::Set(d, kLn2High), x));
  auto q = hn::Set(d, kExpTaylor[6]);
  for (int i = 5; i >= 0; --i) q = hn::MulAdd(q, r, hn::Set(d, kExpTaylor[i]));
  // The bits of `shifted` are those of 1.5 * 2^23 plus n; minus theirs plus 127: the exponent.
  const auto exponent = hn::Sub(hn::BitCast(di, shifted), hn::Set(di, 0x4b400000 - 127));
  return {hn::BitCast(d, hn::ShiftLeft<23>(exponent)), hn::Mul(r, q)};
}

// 1 / x to about 1 ulp: the estimate and one Newton step (x normal, 1 / x not subnormal).
template <class D>
HWY_INLINE hn::Vec<D> Reciprocal(D d, hn::Vec<D> x) {
  const auto estimate = hn::ApproximateReciprocal(x);
  return hn::Mul(estimate, hn::NegMulAdd(x, estimate, hn::Set(d, 2.0f)));
}

template <class D>
HWY_INLINE hn::Vec<D> Sigmoid(D d, hn::Vec<D> x) {
  // Below -80 the result is under 2e-35 anyway; the limit keeps 1 / (1 + e^-x) a normal float.
  // Above 87 e^-x is no normal float: 1 / (1 + e^-87) is 1 already.
  const auto limited = hn::Min(hn::Max(x, hn::Set(d, -80.0f)), hn::Set(d, 87.0f));
  const ExpParts<D> e = SplitExp(d, hn::Neg(limited));
  return Reciprocal(d, hn::Add(hn::Set(d, 1.0f), hn::MulAdd(e.scale, e.r_expm1, e.scale)));
}

// tanh|x| = (e^2|x| - 1) / (e^2|x| + 1), with e^2|x| - 1 computed without cancellation near 0.
template <class D>
HWY_INLINE hn::Vec<D> Tanh(D d, hn::Vec<D> x) {
  const auto sign = hn::And(x, hn::Set(d, -0.0f));
  // tanh(10) rounds to 1; the limit keeps 1 / (e^2|x| + 1) a normal float.
  const auto magnitude = hn::Min(hn::Abs(x), hn::Set(d, 10.0f));
  const ExpParts<D> e = SplitExp(d, hn::Add(magnitude, magnitude));
  const auto expm1 = hn::MulAdd(e.scale, e.r_expm1, hn::Sub(e.scale, hn::Set(d, 1.0f)));
  return hn::Or(hn::Mul(expm1, Reciprocal(d, hn::Add(expm1, hn::Set(d, 2.0f)))), sign);
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
