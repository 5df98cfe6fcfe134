// The objects a state-dict pickle builds (private to the unpickler, see pickle.h): one arena of
// values, the allowed globals, torch's persistent storage ids, what REDUCE makes of the allowed
// callables, and the state dict read off the final object. The opcode machine is in pickle.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/pickle.h"

namespace mattecast::pickle_detail {

// Bounds the parser's memory on hostile input: a real state dict needs about ten objects, memo
// entries and stack slots per tensor, so these allow some 100k tensors and cap memory near 200 MB.
constexpr size_t kMaxValues = size_t(1) << 20;

// Where the parser stands, for errors: each names the source and the current opcode's offset.
struct ParseContext {
  const std::string& source;
  size_t opcode_pos = 0;

  [[noreturn]] void fail(const std::string& problem) const;
};

// Quotes untrusted text for an error message: escapes control and non-ASCII bytes, truncates.
std::string quoted(std::string_view text);

using ValueId = uint32_t;

enum class Kind : uint8_t {
  none,
  boolean,
  integer,
  floating,
  string,
  bytes,
  tuple,
  list,
  dict,
  callable,
  storage_type,
  storage,
  tensor
};

const char* kind_name(Kind kind);

enum class Callable { ordered_dict, rebuild_tensor_v2, rebuild_parameter };

// Values live in one arena and refer to each other by index, so shared and self-referencing
// containers (which the memo makes possible) need no ownership graph and nothing recurses.
struct Value {
  Kind kind = Kind::none;
  int64_t integer = 0;  // boolean, integer, storage numel, tensor index into Objects::tensors_
  double floating = 0;
  std::string text;                            // string, bytes, storage key
  StorageDtype dtype = StorageDtype::float32;  // storage_type, storage
  Callable callable = Callable::ordered_dict;
  std::vector<ValueId> items;  // tuple and list elements; dict keys and values alternating
};

// The arena and the torch objects in it. Every check fails through the context, so errors carry
// the offset of the opcode being run.
class Objects {
 public:
  explicit Objects(const ParseContext& context);

  // Immutable singletons, so the one-byte opcodes that push them allocate nothing.
  ValueId none() const { return none_; }
  ValueId boolean(bool value) const { return value ? true_ : false_; }

  ValueId make(Kind kind);
  ValueId make_integer(int64_t number);
  ValueId make_floating(double number);
  ValueId make_text(Kind kind, std::string text);
  ValueId make_tuple(std::vector<ValueId> items);
  Value& at(ValueId id) { return values_[id]; }

  // Checked access to a value of an expected kind; `what` names it in the error.
  const Value& expect(ValueId id, Kind kind, std::string_view what);
  int64_t expect_non_negative(ValueId id, std::string_view what);
  // The list or dict an opcode fills; `opcode` names it in the error.
  Value& container(ValueId id, Kind kind, std::string_view opcode);

  // GLOBAL and STACK_GLOBAL: only the allowed callables and storage types.
  ValueId global(const std::string& name);
  // BINPERSID: a storage that lives out of line in the archive.
  ValueId persistent_storage(ValueId pid_id);
  ValueId reduce(ValueId callable_id, ValueId args_id);
  // The tensors of the dict that STOP leaves, named by its keys, in pickle order.
  std::vector<PickledTensor> state_dict(ValueId top_level_id);

 private:
  ValueId rebuild_tensor(const std::vector<ValueId>& args);
  std::vector<int64_t> int_tuple(ValueId id, std::string_view what);

  const ParseContext& context_;
  std::vector<Value> values_;
  std::vector<PickledTensor> tensors_;
  std::map<std::string, std::pair<StorageDtype, int64_t>> storages_;  // key -> dtype, numel
  ValueId none_, true_, false_, empty_tuple_;
};

}  // namespace mattecast::pickle_detail
