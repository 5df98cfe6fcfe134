// libFuzzer target for the TFLite flatbuffer reader: any input must either parse or raise
// mattecast::Error; crashes, sanitizer reports, hangs and huge allocations are bugs.
#include <cstddef>
#include <cstdint>
#include <span>

#include "mattecast/mattecast.h"
#include "models/tflite_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mattecast::tflite::parse_tflite(std::span(data, size), "fuzz.tflite");
  } catch (const mattecast::Error&) {
  }
  return 0;
}
