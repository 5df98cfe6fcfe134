#include "models/weights.h"

#include <fmt/format.h>

#include "mattecast/mattecast.h"

namespace mattecast {

int64_t WeightTensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

void WeightMap::add(const std::string& name, WeightTensor tensor) {
  if (int64_t(tensor.values.size()) != tensor.numel())
    throw Error(fmt::format("{}: tensor '{}' has {} values for shape {}", source_, name,
                            tensor.values.size(), shape_string(tensor.shape)));
  if (!tensors_.emplace(name, std::move(tensor)).second)
    throw Error(fmt::format("{}: tensor '{}' appears twice", source_, name));
}

const WeightTensor& WeightMap::get(const std::string& name,
                                   const std::vector<int64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw Error(fmt::format("{}: missing tensor '{}' (expected shape {})", source_, name,
                            shape_string(shape)));
  if (it->second.shape != shape)
    throw Error(fmt::format("{}: tensor '{}' has shape {}, expected {}", source_, name,
                            shape_string(it->second.shape), shape_string(shape)));
  return it->second;
}

size_t WeightMap::parameter_count() const {
  size_t count = 0;
  for (const auto& [name, tensor] : tensors_) count += tensor.values.size();
  return count;
}

}  // namespace mattecast
