// Named float tensors as read from a weights file, with PyTorch's key names and layouts
// (convolution weights OIHW). Both file readers produce this; the network consumes only this.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mattecast {

struct WeightTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // C order

  int64_t numel() const;
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[16, 3, 3, 3]"

class WeightMap {
 public:
  explicit WeightMap(std::string source = {}) : source_(std::move(source)) {}

  // The file the tensors came from, named in every error.
  const std::string& source() const { return source_; }

  void add(const std::string& name, WeightTensor tensor);  // throws on a duplicate name
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error naming the file and tensor when it is missing or has another shape.
  const WeightTensor& get(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, WeightTensor>& tensors() const { return tensors_; }
  size_t size() const { return tensors_.size(); }
  size_t parameter_count() const;

 private:
  std::string source_;
  std::map<std::string, WeightTensor> tensors_;
};

}  // namespace mattecast
