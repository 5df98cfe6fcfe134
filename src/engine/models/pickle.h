// A restricted reader for the pickle that `torch.save(state_dict)` writes as `data.pkl`.
//
// Unpickling executes whatever the pickle names, so this reader never calls anything: it
// interprets only the opcodes torch.save emits (protocol 2, plus the cheap protocol-4 ones) and
// only the globals a dict of tensors needs (OrderedDict, torch's tensor rebuild functions and
// the storage types). Everything else is rejected with an Error naming the source and the byte
// offset. Work and memory are linear in the input size and nothing is recursive, so hostile
// input (deep nesting, huge declared lengths, self-referencing containers) cannot exhaust them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mattecast {

// Element types of torch storages.
enum class StorageDtype {
  float32,
  float64,
  float16,
  bfloat16,
  int64,
  int32,
  int16,
  int8,
  uint8,
  boolean
};

const char* to_string(StorageDtype dtype);
size_t element_size(StorageDtype dtype);  // bytes
bool is_floating(StorageDtype dtype);

// One entry of the state dict: a strided view into a storage that lives in the archive as
// `<archive>/data/<storage_key>`. Sizes, strides and offsets count elements, not bytes.
struct PickledTensor {
  std::string name;
  StorageDtype dtype = StorageDtype::float32;
  std::string storage_key;
  int64_t storage_numel = 0;  // elements the storage declares
  int64_t storage_offset = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// Parses a state-dict pickle into its tensors, in pickle order. `source` names the file in
// errors. Guarantees on success: every name is a unique string, shape and stride have the same
// rank, all sizes, strides and the offset are non-negative, the element count fits in int64, and
// the strided extent lies within `storage_numel` (the caller checks the storage's real size).
// Tensors that share a storage key declare the same dtype and storage_numel.
std::vector<PickledTensor> parse_state_dict_pickle(std::span<const uint8_t> bytes,
                                                   const std::string& source);

}  // namespace mattecast
