// mattecast: Robust Video Matting on the CPU.
//
// Load a model once, open one Session per video stream, feed frames in order:
//
//   auto model = mattecast::Model::load(mattecast::find_model(""));
//   mattecast::Session session(model, {.threads = 2});
//   mattecast::Matte matte;
//   for (each frame) session.process({rgb, width, height, stride}, matte);
//
// The session carries the network's recurrent state from frame to frame; call reset() at a cut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mattecast {

// Every failure is reported as an Error whose message names the file, tensor or frame involved.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// int8: the decoder's convolutions in 8 bits, with input ranges from a calibration (built in
// for the official weights; `mattecast calibrate` makes one for others).
enum class Precision { fp32, bf16, int8 };

// Instruction-set tiers, lowest first: x86-64 with SSE4.1; AVX2 + FMA; AVX-512 (F/BW/VL/DQ);
// AVX-512 bf16 with AMX.
enum class CpuTier { baseline, avx2, avx512, amx };
const char* to_string(CpuTier tier);
// The CPU's own tier, and the tier mattecast runs at: the CPU's, or lower where $MATTECAST_ISA
// (baseline, avx2, avx512 or amx) caps it, for mattecast's kernels and oneDNN's alike. cpu_tier()
// throws Error for an unknown name or a cap above the CPU's tier.
CpuTier detected_cpu_tier();
CpuTier cpu_tier();
// Whether this process computes `precision` natively (bf16: AVX512-BF16 or AMX, and a tier cap
// that allows them).
bool precision_supported(Precision precision);
// "mattecast X.Y.Z (oneDNN X.Y.Z, CPU tier T)".
std::string version_string();

// What `mattecast info --cpu` shows.
struct CpuInfo {
  std::string model_name;  // from /proc/cpuinfo ("" if unknown)
  CpuTier detected = CpuTier::baseline;
  CpuTier active = CpuTier::baseline;  // after $MATTECAST_ISA
  std::vector<std::string> flags;  // the tier-deciding features the CPU has ("avx2", "amx_bf16")
  std::string onednn_version;      // "2.6.3"
  std::string onednn_isa;          // what oneDNN runs here after the cap ("avx2", ...)
};
CpuInfo cpu_info();

enum class RefinerKind { fast_guided_filter, deep_guided_filter };

const char* to_string(Precision precision);
const char* to_string(RefinerKind refiner);
// bf16 where the CPU computes it natively (precision_supported), else fp32. bf16 alpha differs
// from fp32 by less than 0.1/255 on average (see the README's quality table).
Precision default_precision();
// "fp32" | "bf16" | "int8" | "auto" (default_precision()). Throws Error for another name, and for a
// precision this CPU does not compute (naming the CPU's tier).
Precision parse_precision(const std::string& text);
class Model;
// The fastest precision proven on quality for `model` here: bf16 where native; else int8 from AVX2
// on, where the weights have a built-in int8 calibration (alpha within 0.1/255 of fp32 on average,
// ground-truth error within 1.2 %: see the README); else fp32.
Precision default_precision(const Model& model);
// Throws that Error when this CPU does not compute `precision`.
void check_precision_supported(Precision precision);

struct ModelInfo {
  std::string path;
  // "pth" (PyTorch state_dict) or "tfjs" (TF.js graph model): RVM; "tflite": a light
  // segmentation network (a person mask per frame, no memory, no foreground colour)
  std::string format;
  size_t tensor_count = 0;
  size_t parameter_count = 0;
  RefinerKind refiner = RefinerKind::fast_guided_filter;
  // tflite: the short name of a known file ("selfie"; "" for an unknown one), its input size, and
  // how it is fed ("unit,rgb,person=0,probability": see Model::load).
  std::string short_name;
  int input_width = 0, input_height = 0;
  std::string input_convention;
  bool convention_known = false;  // from the table of known files, not assumed
};

// Validated network weights. Immutable, so one Model can serve any number of sessions.
class Model {
 public:
  // Format from the path: a `.pth` file, a TF.js `model.json` (or the folder holding it), or a
  // `.tflite` light segmentation network. The known .tflite files (by SHA-256) bring their input
  // convention; `input_convention` overrides it (comma-separated: unit | symmetric | byte | caffe for
  // [0,1], [-1,1], [0,255], or caffe: ImageNet means subtracted, x 0.017; rgb | bgr; person=0|1,
  // the person's channel of a two-channel output; logits | probability; prior: a fourth input
  // channel fed its own last mask); an unknown file without one is fed RGB in [0, 1].
  static std::shared_ptr<const Model> load(const std::string& path,
                                           const std::string& input_convention = "");
  ~Model();
  const ModelInfo& info() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Resolves the weights to use: `explicit_path` if given (a file, or the short name of a shipped
// light model: selfie, selfie-landscape, mnv3, prisma, slim, munet, portrait-video, found in the
// search path's folders), else the first place of model_search_path() that holds a known RVM model file.
// Throws, listing the places, if none does.
std::string find_model(const std::string& explicit_path);
// Where weights are looked for, in order: $MATTECAST_MODELS (a file or folder), the user's
// $XDG_DATA_HOME/mattecast/models (~/.local/share/mattecast/models), ~/.cache/mattecast, the
// system's /usr/local/share/mattecast/models and /usr/share/mattecast/models, then a source
// checkout's ../shared/models (beside the checkout holding the running program, and from the
// working directory).
std::vector<std::string> model_search_path();

// Call first in main(). How long idle OpenMP threads spin before they sleep: libgomp's default
// spin (300000 rounds) makes the network 10 to 40 times slower as soon as anything else wants a
// core (2 cores, 720p: 22 ms alone, 850 ms beside one busy process); sleeping at once costs a
// wake-up per parallel region (1.2 ms of a 21 ms 1080p frame); 1000 rounds (tens of microseconds)
// span the gaps between the network's regions. libgomp reads this once, when it is loaded: unless
// OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, this sets GOMP_SPINCOUNT=1000 and executes the program
// again. Returns only when nothing had to change or exec failed.
void prefer_short_openmp_spins(char** argv);

// Network input size for a frame: the official rule keeps the longer side at 512 px.
float auto_downsample_ratio(int width, int height);

struct SessionParams {
  int threads = 0;  // 0: one per available core
  Precision precision = default_precision();
  float downsample_ratio = 0.0f;    // 0: auto_downsample_ratio(); 1: no refiner
  bool alpha_only = false;          // skip the foreground colour (faster)
  std::string int8_calibration;     // int8: a calibration file; "" uses the built-in one
  bool record_int8_ranges = false;  // fp32 calibration run: see Session::int8_calibration()
  // Light (tflite) models, which run in fp32 whatever `precision` says: their low-resolution
  // mask brought to the frame's size by a guided filter (edges follow the frame) or bilinearly,
  // and smoothed over time against flicker (the previous frame's weight; they have no memory).
  bool guided_upsampling = true;
  float mask_smoothing = 0.5f;
};

// A read-only view of 8-bit interleaved RGB pixels; rows are `stride` bytes apart.
struct RgbImage {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  ptrdiff_t stride = 0;
};

// The network's outputs at the frame's full resolution, values in 0..1.
// Reuse one Matte across frames: its buffers are sized on the first frame and then kept.
struct Matte {
  int width = 0;
  int height = 0;
  std::vector<float> alpha;       // height x width
  std::vector<float> foreground;  // height x width x 3 (RGB); empty in alpha-only mode
};

// Recurrent state of one ConvGRU level, NHWC at the network's internal resolution.
struct StateView {
  const float* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
};

// Where the last frame's time went, in milliseconds.
struct StageTimings {
  double input_ms = 0;    // resize to the network's size, normalisation, image pyramid
  double encoder_ms = 0;  // MobileNetV3 + LR-ASPP
  double decoder_ms = 0;  // recurrent decoder and projection
  double refiner_ms = 0;  // guided filter up to full resolution, output planes
};

// One stream of frames. Owns the recurrent state and the compiled kernels for the current size.
// Not thread-safe: use one Session per thread.
class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Mattes the next frame of the stream. A frame of another size starts a new stream.
  void process(const RgbImage& frame, Matte& out);
  // Forgets the recurrent state: the next frame is treated as the first of a new shot.
  void reset();
  // Changes the network's input scale (0: automatic) from the next frame on: the kernels are
  // planned again for the new size and the recurrent state restarts. For live streams that
  // trade detail for speed.
  void set_downsample_ratio(float ratio);

  const SessionParams& params() const;
  // The ratio used for a frame of this size (the explicit one, or the automatic rule).
  float downsample_ratio_for(int width, int height) const;
  const StageTimings& last_timings() const;
  // Levels 1..4, after the last processed frame (for verification).
  StateView recurrent_state(int level) const;
  // With record_int8_ranges: the int8 calibration (JSON) of the frames processed so far.
  std::string int8_calibration() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
