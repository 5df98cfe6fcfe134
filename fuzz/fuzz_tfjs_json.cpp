// libFuzzer target: model.json text straight into the TF.js manifest parser. Any input must end in
// a parsed manifest or a mattecast::Error; crashes, hangs, sanitizer reports and other exceptions
// are bugs. Seed with /work/shared/models/rvm_mobilenetv3_tfjs_int8/model.json.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mattecast/mattecast.h"
#include "models/tfjs_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mattecast::parse_tfjs_manifest(std::string_view(reinterpret_cast<const char*>(data), size),
                                   "fuzz-input");
  } catch (const mattecast::Error&) {
    // Rejecting a malformed model.json is the expected outcome.
  }
  return 0;
}
