// NumPy .npy files (format 1.0/2.0, little-endian, C order) for verification data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mattecast {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> values;  // converted from the file's float16/float32/float64
};

NpyArray read_npy(const std::string& path);
// Writes float32 ('<f4'), to a temporary name beside `path`, renamed on success.
void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape);

}  // namespace mattecast
