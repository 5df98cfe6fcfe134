#include "core/cpu_tier.h"

#include <cpuid.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <utility>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>

namespace mattecast {

namespace {

constexpr std::array<std::pair<CpuTier, const char*>, 4> kTierNames{{
    {CpuTier::baseline, "baseline"},
    {CpuTier::avx2, "avx2"},
    {CpuTier::avx512, "avx512"},
    {CpuTier::amx, "amx"},
}};

// oneDNN's ISA masks (a higher ISA's mask holds every lower one's bits) and their names, as in
// ONEDNN_MAX_CPU_ISA.
constexpr std::array<std::pair<dnnl_cpu_isa_t, const char*>, 10> kOnednnIsas{{
    {dnnl_cpu_isa_sse41, "sse41"},
    {dnnl_cpu_isa_avx, "avx"},
    {dnnl_cpu_isa_avx2, "avx2"},
    {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
    {dnnl_cpu_isa_avx512_mic, "avx512_mic"},
    {dnnl_cpu_isa_avx512_mic_4ops, "avx512_mic_4ops"},
    {dnnl_cpu_isa_avx512_core, "avx512_core"},
    {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
    {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
    {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
}};
constexpr uint32_t kAllIsas = ~0u;

// The most oneDNN may use at each tier: the avx512 tier stands for AVX-512 CPUs without bf16
// (Skylake to Ice Lake servers), so that forcing it shows their speed and precisions.
uint32_t onednn_cap(CpuTier tier) {
  switch (tier) {
    case CpuTier::baseline:
      return dnnl_cpu_isa_sse41;
    case CpuTier::avx2:
      return dnnl_cpu_isa_avx2;
    case CpuTier::avx512:
      return dnnl_cpu_isa_avx512_core_vnni;
    case CpuTier::amx:
      return kAllIsas;
  }
  return kAllIsas;
}

// ONEDNN_MAX_CPU_ISA as a mask (all bits when unset or unknown: oneDNN then ignores it too).
uint32_t onednn_env_cap() {
  const char* env = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (!env || !*env) env = std::getenv("DNNL_MAX_CPU_ISA");
  if (!env) return kAllIsas;
  std::string name(env);
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [isa, isa_name] : kOnednnIsas)
    if (name == isa_name) return isa;
  return kAllIsas;
}

CpuFeatures detect_features() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & bit_OSXSAVE;
  f.sse41 = ecx & bit_SSE4_1;
  f.fma = ecx & bit_FMA;
  // What the OS saves on a context switch: YMM (bits 1-2), ZMM (5-7), AMX tiles (17-18).
  uint64_t saved = 0;
  if (osxsave) {
    uint32_t lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    saved = (uint64_t(hi) << 32) | lo;
  }
  const bool ymm = (saved & 0x6) == 0x6, zmm = ymm && (saved & 0xe0) == 0xe0;
  const bool tiles = (saved & 0x60000) == 0x60000;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2 = ymm && (ebx & bit_AVX2);
  f.fma = f.fma && ymm;
  f.avx512f = zmm && (ebx & bit_AVX512F);
  f.avx512bw = zmm && (ebx & bit_AVX512BW);
  f.avx512vl = zmm && (ebx & bit_AVX512VL);
  f.avx512dq = zmm && (ebx & bit_AVX512DQ);
  f.avx512_vnni = zmm && (ecx & bit_AVX512VNNI);
  f.amx_bf16 = tiles && (edx & (1u << 22));
  f.amx_tile = tiles && (edx & (1u << 24));
  f.amx_int8 = tiles && (edx & (1u << 25));
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) f.avx512_bf16 = zmm && (eax & (1u << 5));
  return f;
}

// The tier in force, decided once; its cap reaches oneDNN before oneDNN reads its own setting.
CpuTier decide_tier() {
  const CpuTier detected = tier_of(cpu_features());
  const std::optional<CpuTier> requested = requested_cpu_tier();
  if (!requested) return detected;
  if (*requested > detected)
    throw Error(
        fmt::format("MATTECAST_ISA={} is above this CPU's tier ({}); the tiers are "
                    "baseline, avx2, avx512 and amx",
                    to_string(*requested), to_string(detected)));
  const uint32_t cap = onednn_cap(*requested) & onednn_env_cap();
  if (cap != kAllIsas && dnnl_set_max_cpu_isa(static_cast<dnnl_cpu_isa_t>(cap)) != dnnl_success)
    throw Error("internal: oneDNN ran before MATTECAST_ISA could cap it");
  return *requested;
}

}  // namespace

const char* to_string(CpuTier tier) {
  for (const auto& [t, name] : kTierNames)
    if (t == tier) return name;
  return "unknown";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_features();
  return features;
}

CpuTier tier_of(const CpuFeatures& f) {
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  if (avx512 && f.avx512_bf16 && f.amx_tile && f.amx_bf16) return CpuTier::amx;
  if (avx512) return CpuTier::avx512;
  if (f.avx2 && f.fma) return CpuTier::avx2;
  return CpuTier::baseline;
}

std::optional<CpuTier> parse_cpu_tier(std::string_view name) {
  for (const auto& [tier, tier_name] : kTierNames)
    if (name == tier_name) return tier;
  return std::nullopt;
}

std::optional<CpuTier> requested_cpu_tier() {
  const char* env = std::getenv("MATTECAST_ISA");
  if (!env || !*env) return std::nullopt;
  if (auto tier = parse_cpu_tier(env)) return tier;
  throw Error(fmt::format("MATTECAST_ISA={} is not a tier (baseline, avx2, avx512 or amx)", env));
}

CpuTier detected_cpu_tier() { return tier_of(cpu_features()); }

CpuTier cpu_tier() {
  static const CpuTier tier = decide_tier();
  return tier;
}

CpuInfo cpu_info() {
  CpuInfo info;
  info.active = cpu_tier();
  info.detected = detected_cpu_tier();
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      info.model_name = line.substr(line.find(':') + 2);
      break;
    }
  const CpuFeatures& f = cpu_features();
  const std::pair<bool, const char*> flags[] = {{f.sse41, "sse4_1"},
                                                {f.avx2, "avx2"},
                                                {f.fma, "fma"},
                                                {f.avx512f, "avx512f"},
                                                {f.avx512bw, "avx512bw"},
                                                {f.avx512vl, "avx512vl"},
                                                {f.avx512dq, "avx512dq"},
                                                {f.avx512_vnni, "avx512_vnni"},
                                                {f.avx512_bf16, "avx512_bf16"},
                                                {f.amx_tile, "amx_tile"},
                                                {f.amx_bf16, "amx_bf16"},
                                                {f.amx_int8, "amx_int8"}};
  for (const auto& [present, name] : flags)
    if (present) info.flags.emplace_back(name);
  const dnnl_version_t* v = dnnl_version();
  info.onednn_version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  const auto isa = static_cast<uint32_t>(dnnl::get_effective_cpu_isa());
  info.onednn_isa = fmt::format("0x{:x}", isa);
  for (const auto& [mask, name] : kOnednnIsas)
    if (uint32_t(mask) == isa) info.onednn_isa = name;
  return info;
}

bool precision_supported(Precision precision) {
  if (precision != Precision::bf16) return true;
  cpu_tier();
  const auto isa = static_cast<uint32_t>(dnnl::get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

std::string version_string() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("mattecast {}.{}.{} (oneDNN {}.{}.{}, CPU tier {})", MATTECAST_VERSION_MAJOR,
                     MATTECAST_VERSION_MINOR, MATTECAST_VERSION_PATCH, v->major, v->minor, v->patch,
                     to_string(cpu_tier()));
}

}  // namespace mattecast
