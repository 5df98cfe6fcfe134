// libFuzzer target for the restricted state-dict pickle reader: any input must either parse or
// raise mattecast::Error; crashes, sanitizer reports, hangs and huge allocations are bugs.
#include <cstddef>
#include <cstdint>
#include <span>

#include "mattecast/mattecast.h"
#include "models/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mattecast::parse_state_dict_pickle(std::span(data, size), "fuzz.pth");
  } catch (const mattecast::Error&) {
  }
  return 0;
}
