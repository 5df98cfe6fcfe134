#include "models/pickle_objects.h"

#include <fmt/format.h>

#include <limits>
#include <unordered_set>

#include "mattecast/mattecast.h"

namespace mattecast {

const char* to_string(StorageDtype dtype) {
  switch (dtype) {
    case StorageDtype::float32:
      return "float32";
    case StorageDtype::float64:
      return "float64";
    case StorageDtype::float16:
      return "float16";
    case StorageDtype::bfloat16:
      return "bfloat16";
    case StorageDtype::int64:
      return "int64";
    case StorageDtype::int32:
      return "int32";
    case StorageDtype::int16:
      return "int16";
    case StorageDtype::int8:
      return "int8";
    case StorageDtype::uint8:
      return "uint8";
    case StorageDtype::boolean:
      return "bool";
  }
  return "?";
}

size_t element_size(StorageDtype dtype) {
  switch (dtype) {
    case StorageDtype::float64:
    case StorageDtype::int64:
      return 8;
    case StorageDtype::float32:
    case StorageDtype::int32:
      return 4;
    case StorageDtype::float16:
    case StorageDtype::bfloat16:
    case StorageDtype::int16:
      return 2;
    case StorageDtype::int8:
    case StorageDtype::uint8:
    case StorageDtype::boolean:
      return 1;
  }
  return 1;
}

bool is_floating(StorageDtype dtype) {
  return dtype == StorageDtype::float32 || dtype == StorageDtype::float64 ||
         dtype == StorageDtype::float16 || dtype == StorageDtype::bfloat16;
}

namespace pickle_detail {
namespace {

struct AllowedGlobal {
  std::string_view name;  // "module.qualname"
  bool is_callable;
  Callable callable;
  StorageDtype dtype;  // for storage types
};

// Storage types appear as the second element of a storage's persistent id. Old torch names the
// typed storage class; the dtype spellings cover writers that name the element type instead.
constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections.OrderedDict", true, Callable::ordered_dict, {}},
    {"torch._utils._rebuild_tensor_v2", true, Callable::rebuild_tensor_v2, {}},
    {"torch._utils._rebuild_parameter", true, Callable::rebuild_parameter, {}},
    {"torch.FloatStorage", false, {}, StorageDtype::float32},
    {"torch.DoubleStorage", false, {}, StorageDtype::float64},
    {"torch.HalfStorage", false, {}, StorageDtype::float16},
    {"torch.BFloat16Storage", false, {}, StorageDtype::bfloat16},
    {"torch.LongStorage", false, {}, StorageDtype::int64},
    {"torch.IntStorage", false, {}, StorageDtype::int32},
    {"torch.ShortStorage", false, {}, StorageDtype::int16},
    {"torch.CharStorage", false, {}, StorageDtype::int8},
    {"torch.ByteStorage", false, {}, StorageDtype::uint8},
    {"torch.BoolStorage", false, {}, StorageDtype::boolean},
    {"torch.UntypedStorage", false, {}, StorageDtype::uint8},  // bytes
    {"torch.float32", false, {}, StorageDtype::float32},
    {"torch.float", false, {}, StorageDtype::float32},
    {"torch.float64", false, {}, StorageDtype::float64},
    {"torch.double", false, {}, StorageDtype::float64},
    {"torch.float16", false, {}, StorageDtype::float16},
    {"torch.half", false, {}, StorageDtype::float16},
    {"torch.bfloat16", false, {}, StorageDtype::bfloat16},
    {"torch.int64", false, {}, StorageDtype::int64},
    {"torch.long", false, {}, StorageDtype::int64},
    {"torch.int32", false, {}, StorageDtype::int32},
    {"torch.int", false, {}, StorageDtype::int32},
    {"torch.int16", false, {}, StorageDtype::int16},
    {"torch.short", false, {}, StorageDtype::int16},
    {"torch.int8", false, {}, StorageDtype::int8},
    {"torch.uint8", false, {}, StorageDtype::uint8},
    {"torch.bool", false, {}, StorageDtype::boolean},
};

constexpr size_t kMaxRank = 64;  // torch's own limit on tensor dimensions

std::string shape_text(const PickledTensor& tensor) {
  return fmt::format("[{}]", fmt::join(tensor.shape, ","));
}

}  // namespace

void ParseContext::fail(const std::string& problem) const {
  throw Error(fmt::format("{}: {} at pickle byte {}", source, problem, opcode_pos));
}

std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = uint8_t(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\'' && byte != '\\')
      out += char(byte);
    else
      out += fmt::format("\\x{:02x}", byte);
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::tuple:
      return "tuple";
    case Kind::list:
      return "list";
    case Kind::dict:
      return "dict";
    case Kind::callable:
      return "function";
    case Kind::storage_type:
      return "storage type";
    case Kind::storage:
      return "storage";
    case Kind::tensor:
      return "tensor";
  }
  return "?";
}

Objects::Objects(const ParseContext& context) : context_(context) {
  none_ = make(Kind::none);
  true_ = make(Kind::boolean);
  values_[true_].integer = 1;
  false_ = make(Kind::boolean);
  empty_tuple_ = make(Kind::tuple);
}

ValueId Objects::make(Kind kind) {
  if (values_.size() >= kMaxValues)
    context_.fail(fmt::format("pickle creates more than {} objects; not a state dict", kMaxValues));
  values_.emplace_back().kind = kind;
  return ValueId(values_.size() - 1);
}

ValueId Objects::make_integer(int64_t number) {
  const ValueId id = make(Kind::integer);
  values_[id].integer = number;
  return id;
}

ValueId Objects::make_floating(double number) {
  const ValueId id = make(Kind::floating);
  values_[id].floating = number;
  return id;
}

ValueId Objects::make_text(Kind kind, std::string text) {
  const ValueId id = make(kind);
  values_[id].text = std::move(text);
  return id;
}

ValueId Objects::make_tuple(std::vector<ValueId> items) {
  if (items.empty()) return empty_tuple_;
  const ValueId id = make(Kind::tuple);
  values_[id].items = std::move(items);
  return id;
}

const Value& Objects::expect(ValueId id, Kind kind, std::string_view what) {
  const Value& value = values_[id];
  if (value.kind != kind)
    context_.fail(
        fmt::format("{} is a {}, expected a {}", what, kind_name(value.kind), kind_name(kind)));
  return value;
}

int64_t Objects::expect_non_negative(ValueId id, std::string_view what) {
  const int64_t number = expect(id, Kind::integer, what).integer;
  if (number < 0) context_.fail(fmt::format("{} is negative ({})", what, number));
  return number;
}

Value& Objects::container(ValueId id, Kind kind, std::string_view opcode) {
  Value& value = values_[id];
  if (value.kind != kind)
    context_.fail(fmt::format("{} applied to a {}, expected a {}", opcode, kind_name(value.kind),
                              kind_name(kind)));
  return value;
}

ValueId Objects::global(const std::string& name) {
  for (const AllowedGlobal& allowed : kAllowedGlobals) {
    if (allowed.name != name) continue;
    const ValueId id = make(allowed.is_callable ? Kind::callable : Kind::storage_type);
    values_[id].callable = allowed.callable;
    values_[id].dtype = allowed.dtype;
    return id;
  }
  context_.fail(fmt::format("pickle references disallowed global {}", quoted(name)));
}

// torch.save stores each storage out of line: ('storage', storage_type, key, location, numel).
ValueId Objects::persistent_storage(ValueId pid_id) {
  const Value& pid = expect(pid_id, Kind::tuple, "persistent id");
  if (pid.items.size() != 5)
    context_.fail(fmt::format("persistent id has {} elements, expected 5", pid.items.size()));
  const std::vector<ValueId> fields = pid.items;  // `make` below may reallocate the arena
  const std::string& tag = expect(fields[0], Kind::string, "persistent id tag").text;
  if (tag != "storage")
    context_.fail(fmt::format("persistent id tag is {}, expected 'storage'", quoted(tag)));
  const StorageDtype dtype = expect(fields[1], Kind::storage_type, "storage type").dtype;
  std::string key = expect(fields[2], Kind::string, "storage key").text;
  expect(fields[3], Kind::string, "storage location");
  const int64_t numel = expect_non_negative(fields[4], "storage size");
  if (uint64_t(numel) > uint64_t(std::numeric_limits<int64_t>::max()) / element_size(dtype))
    context_.fail(
        fmt::format("storage {} declares {} elements, too many to address", quoted(key), numel));

  // One storage may back several tensors; they must agree on what it holds.
  const auto [it, inserted] = storages_.try_emplace(key, dtype, numel);
  if (!inserted && (it->second.first != dtype || it->second.second != numel))
    context_.fail(fmt::format("storage {} is declared as {} x {} and as {} x {}", quoted(key),
                              it->second.second, to_string(it->second.first), numel,
                              to_string(dtype)));

  const ValueId id = make(Kind::storage);
  values_[id].text = std::move(key);
  values_[id].dtype = dtype;
  values_[id].integer = numel;
  return id;
}

ValueId Objects::reduce(ValueId callable_id, ValueId args_id) {
  const Callable callable = expect(callable_id, Kind::callable, "REDUCE callable").callable;
  const std::vector<ValueId> args = expect(args_id, Kind::tuple, "REDUCE arguments").items;
  switch (callable) {
    case Callable::ordered_dict:
      if (!args.empty()) context_.fail("OrderedDict called with arguments; torch.save passes none");
      return make(Kind::dict);
    case Callable::rebuild_tensor_v2:
      return rebuild_tensor(args);
    case Callable::rebuild_parameter:
      // (data, requires_grad, backward_hooks): a Parameter is its data tensor here.
      if (args.size() != 3)
        context_.fail(fmt::format("_rebuild_parameter takes 3 arguments, got {}", args.size()));
      expect(args[0], Kind::tensor, "_rebuild_parameter data");
      expect(args[1], Kind::boolean, "_rebuild_parameter requires_grad");
      expect(args[2], Kind::dict, "_rebuild_parameter backward_hooks");
      return args[0];
  }
  context_.fail("unknown callable");
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
// [, metadata]). Validates the view so that readers can index the storage without checks.
ValueId Objects::rebuild_tensor(const std::vector<ValueId>& args) {
  if (args.size() != 6 && args.size() != 7)
    context_.fail(fmt::format("_rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.size()));
  const Value& storage = expect(args[0], Kind::storage, "tensor storage");
  PickledTensor tensor;
  tensor.dtype = storage.dtype;
  tensor.storage_key = storage.text;
  tensor.storage_numel = storage.integer;
  tensor.storage_offset = expect_non_negative(args[1], "tensor storage offset");
  tensor.shape = int_tuple(args[2], "tensor size");
  tensor.stride = int_tuple(args[3], "tensor stride");
  expect(args[4], Kind::boolean, "tensor requires_grad");
  expect(args[5], Kind::dict, "tensor backward_hooks");
  if (args.size() == 7 && at(args[6]).kind != Kind::dict && at(args[6]).kind != Kind::none)
    context_.fail(
        fmt::format("tensor metadata is a {}, expected a dict", kind_name(at(args[6]).kind)));
  if (tensor.shape.size() != tensor.stride.size())
    context_.fail(fmt::format("tensor has {} sizes but {} strides", tensor.shape.size(),
                              tensor.stride.size()));

  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  // The product of the non-zero sizes must fit too, so readers may multiply sizes freely.
  int64_t product = 1;
  bool empty = false;
  for (int64_t size : tensor.shape) {
    if (size == 0) {
      empty = true;
      continue;
    }
    if (product > kMax / size)
      context_.fail(fmt::format("tensor size {} overflows", shape_text(tensor)));
    product *= size;
  }
  int64_t last = tensor.storage_offset;  // element index of the view's last element
  for (size_t dim = 0; dim < tensor.shape.size() && !empty; ++dim) {
    const int64_t size = tensor.shape[dim];
    const int64_t stride = tensor.stride[dim];
    if (stride != 0 && (size - 1 > (kMax - last) / stride))
      context_.fail(fmt::format("tensor view {} overflows", shape_text(tensor)));
    last += (size - 1) * stride;
  }
  const bool fits =
      empty ? tensor.storage_offset <= tensor.storage_numel : last < tensor.storage_numel;
  if (!fits)
    context_.fail(
        fmt::format("tensor of size {}, stride {}, offset {} reaches past its storage {} of {} "
                    "elements",
                    shape_text(tensor), fmt::join(tensor.stride, ","), tensor.storage_offset,
                    quoted(tensor.storage_key), tensor.storage_numel));

  const ValueId id = make(Kind::tensor);
  values_[id].integer = int64_t(tensors_.size());
  tensors_.push_back(std::move(tensor));
  return id;
}

std::vector<int64_t> Objects::int_tuple(ValueId id, std::string_view what) {
  const Value& tuple = expect(id, Kind::tuple, what);
  if (tuple.items.size() > kMaxRank)
    context_.fail(
        fmt::format("{} has {} dimensions, more than {}", what, tuple.items.size(), kMaxRank));
  std::vector<int64_t> numbers;
  for (ValueId item : tuple.items) numbers.push_back(expect_non_negative(item, what));
  return numbers;
}

std::vector<PickledTensor> Objects::state_dict(ValueId top_level_id) {
  const Value& top_level = values_[top_level_id];
  if (top_level.kind != Kind::dict)
    context_.fail(fmt::format("the pickled object is a {}, expected a state dict",
                              kind_name(top_level.kind)));

  std::vector<PickledTensor> tensors;
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < top_level.items.size(); i += 2) {
    const Value& key = values_[top_level.items[i]];
    const Value& value = values_[top_level.items[i + 1]];
    if (key.kind != Kind::string)
      context_.fail(
          fmt::format("state dict key #{} is a {}, expected a str", i / 2, kind_name(key.kind)));
    if (value.kind != Kind::tensor)
      context_.fail(
          fmt::format("state dict entry {} is a {}, expected a tensor (a training checkpoint "
                      "rather than a state_dict?)",
                      quoted(key.text), kind_name(value.kind)));
    if (!names.insert(key.text).second)
      context_.fail(fmt::format("state dict key {} appears twice", quoted(key.text)));
    tensors.push_back(tensors_[size_t(value.integer)]);
    tensors.back().name = key.text;
  }
  return tensors;
}

}  // namespace pickle_detail
}  // namespace mattecast
