#include "models/pickle.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>
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

namespace {

// Opcodes (CPython Lib/pickletools.py names). Only these are accepted.
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kEmptyList = ']',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kShortBinUnicode = 0x8c,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

enum class Callable { ordered_dict, rebuild_tensor_v2, rebuild_parameter };

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

// Bounds the parser's memory on hostile input: a real state dict needs about ten objects, memo
// entries and stack slots per tensor, so these allow some 100k tensors and cap memory near 200 MB.
constexpr size_t kMaxValues = size_t(1) << 20;
constexpr size_t kMaxRank = 64;  // torch's own limit on tensor dimensions

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

// Values live in one arena and refer to each other by index, so shared and self-referencing
// containers (which the memo makes possible) need no ownership graph and nothing recurses.
struct Value {
  Kind kind = Kind::none;
  int64_t integer = 0;  // boolean, integer, storage numel, tensor index into Parser::tensors_
  double floating = 0;
  std::string text;                            // string, bytes, storage key
  StorageDtype dtype = StorageDtype::float32;  // storage_type, storage
  Callable callable = Callable::ordered_dict;
  std::vector<ValueId> items;  // tuple and list elements; dict keys and values alternating
};

// Quotes untrusted text for an error message: escapes control and non-ASCII bytes, truncates.
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

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {
    // Immutable singletons, so the one-byte opcodes that push them allocate nothing.
    none_ = make(Kind::none);
    true_ = make(Kind::boolean);
    values_[true_].integer = 1;
    false_ = make(Kind::boolean);
    empty_tuple_ = make(Kind::tuple);
  }

  std::vector<PickledTensor> run() {
    while (pos_ < bytes_.size()) {
      opcode_pos_ = pos_;
      const uint8_t opcode = bytes_[pos_++];
      if (opcode == kStop) return finish();
      step(opcode);
    }
    fail("pickle ends without STOP opcode (truncated?)");
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(fmt::format("{}: {} at pickle byte {}", source_, problem, opcode_pos_));
  }

  // --- reading the byte stream ---

  std::span<const uint8_t> take(size_t count) {
    if (count > bytes_.size() - pos_)
      fail(fmt::format("opcode 0x{:02x} needs {} bytes but only {} remain (truncated?)",
                       bytes_[opcode_pos_], count, bytes_.size() - pos_));
    auto out = bytes_.subspan(pos_, count);
    pos_ += count;
    return out;
  }
  uint64_t read_uint(size_t width) {  // little-endian
    auto raw = take(width);
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint64_t(raw[i]) << (8 * i);
    return value;
  }
  std::string read_text(size_t length) {
    auto raw = take(length);
    return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
  }
  std::string read_line() {  // GLOBAL's newline-terminated module and name
    const uint8_t* start = bytes_.data() + pos_;
    const void* newline = std::memchr(start, '\n', bytes_.size() - pos_);
    if (!newline) fail("GLOBAL name is not terminated by a newline (truncated?)");
    const size_t length = size_t(static_cast<const uint8_t*>(newline) - start);
    std::string line(reinterpret_cast<const char*>(start), length);
    pos_ += length + 1;
    return line;
  }

  // --- values and the stack ---

  ValueId make(Kind kind) {
    if (values_.size() >= kMaxValues)
      fail(fmt::format("pickle creates more than {} objects; not a state dict", kMaxValues));
    values_.emplace_back().kind = kind;
    return ValueId(values_.size() - 1);
  }
  ValueId make_integer(int64_t number) {
    const ValueId id = make(Kind::integer);
    values_[id].integer = number;
    return id;
  }
  ValueId make_text(Kind kind, std::string text) {
    const ValueId id = make(kind);
    values_[id].text = std::move(text);
    return id;
  }
  Value& at(ValueId id) { return values_[id]; }

  void push(ValueId id) {
    if (stack_.size() >= kMaxValues)
      fail(fmt::format("pickle stack exceeds {} objects", kMaxValues));
    stack_.push_back(id);
  }
  ValueId pop() {
    if (stack_.size() <= frame_floor()) fail("stack underflow");
    const ValueId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  ValueId top() {
    if (stack_.size() <= frame_floor()) fail("stack underflow");
    return stack_.back();
  }
  // Items above the innermost MARK may be popped; those below belong to enclosing frames.
  size_t frame_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<ValueId> pop_to_mark() {
    if (marks_.empty()) fail("opcode needs a MARK but none is open");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValueId> items(stack_.begin() + ptrdiff_t(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  ValueId make_tuple(std::vector<ValueId> items) {
    if (items.empty()) return empty_tuple_;
    const ValueId id = make(Kind::tuple);
    values_[id].items = std::move(items);
    return id;
  }

  // Checked access to a value of an expected kind; `what` names it in the error.
  const Value& expect(ValueId id, Kind kind, std::string_view what) {
    const Value& value = values_[id];
    if (value.kind != kind)
      fail(fmt::format("{} is a {}, expected a {}", what, kind_name(value.kind), kind_name(kind)));
    return value;
  }
  int64_t expect_non_negative(ValueId id, std::string_view what) {
    const int64_t number = expect(id, Kind::integer, what).integer;
    if (number < 0) fail(fmt::format("{} is negative ({})", what, number));
    return number;
  }

  // --- opcodes ---

  void step(uint8_t opcode) {
    if (!push_scalar(opcode) && !build_collection(opcode)) step_object(opcode);
  }

  // Protocol framing, marks and plain values; false for any other opcode.
  bool push_scalar(uint8_t opcode) {
    switch (opcode) {
      case kProto: {
        const auto version = read_uint(1);
        if (version > 5) fail(fmt::format("unsupported pickle protocol {}", version));
        break;
      }
      case kFrame:
        take(8);
        break;  // framing only groups opcodes; the length is a hint
      case kMark:
        if (marks_.size() >= kMaxValues)
          fail(fmt::format("pickle nests more than {} MARKs", kMaxValues));
        marks_.push_back(stack_.size());
        break;
      case kNone:
        push(none_);
        break;
      case kNewTrue:
        push(true_);
        break;
      case kNewFalse:
        push(false_);
        break;
      case kBinInt:
        push(make_integer(int32_t(uint32_t(read_uint(4)))));
        break;
      case kBinInt1:
        push(make_integer(int64_t(read_uint(1))));
        break;
      case kBinInt2:
        push(make_integer(int64_t(read_uint(2))));
        break;
      case kLong1: {
        const auto width = size_t(read_uint(1));
        if (width > 8) fail(fmt::format("LONG1 integer of {} bytes is wider than 64 bits", width));
        uint64_t bits = read_uint(width);
        if (width > 0 && width < 8 && (bits >> (8 * width - 1)) != 0)
          bits |= ~uint64_t(0) << (8 * width);  // sign-extend two's complement
        push(make_integer(int64_t(bits)));
        break;
      }
      case kBinFloat: {
        const auto raw = take(8);
        uint64_t bits = 0;
        for (uint8_t byte : raw) bits = (bits << 8) | byte;  // big-endian
        double number;
        std::memcpy(&number, &bits, sizeof number);
        const ValueId id = make(Kind::floating);
        values_[id].floating = number;
        push(id);
        break;
      }
      case kBinUnicode:
        push(make_text(Kind::string, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinUnicode:
        push(make_text(Kind::string, read_text(size_t(read_uint(1)))));
        break;
      case kBinString:
        push(make_text(Kind::string, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinString:
        push(make_text(Kind::string, read_text(size_t(read_uint(1)))));
        break;
      case kBinBytes:
        push(make_text(Kind::bytes, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinBytes:
        push(make_text(Kind::bytes, read_text(size_t(read_uint(1)))));
        break;
      default:
        return false;
    }
    return true;
  }

  // Tuples, lists and dicts and what fills them; false for any other opcode.
  bool build_collection(uint8_t opcode) {
    switch (opcode) {
      case kEmptyTuple:
        push(empty_tuple_);
        break;
      case kTuple:
        push(make_tuple(pop_to_mark()));
        break;
      case kTuple1: {
        const ValueId a = pop();
        push(make_tuple({a}));
        break;
      }
      case kTuple2: {
        const ValueId b = pop(), a = pop();
        push(make_tuple({a, b}));
        break;
      }
      case kTuple3: {
        const ValueId c = pop(), b = pop(), a = pop();
        push(make_tuple({a, b, c}));
        break;
      }
      case kEmptyList:
        push(make(Kind::list));
        break;
      case kEmptyDict:
        push(make(Kind::dict));
        break;
      case kAppend: {
        const ValueId item = pop();
        Value& list = container(top(), Kind::list, "APPEND");
        list.items.push_back(item);
        break;
      }
      case kAppends: {
        const auto items = pop_to_mark();
        Value& list = container(top(), Kind::list, "APPENDS");
        list.items.insert(list.items.end(), items.begin(), items.end());
        break;
      }
      case kSetItem: {
        const ValueId item = pop(), key = pop();
        Value& dict = container(top(), Kind::dict, "SETITEM");
        dict.items.push_back(key);
        dict.items.push_back(item);
        break;
      }
      case kSetItems: {
        const auto items = pop_to_mark();
        if (items.size() % 2 != 0) fail("SETITEMS has a key without a value");
        Value& dict = container(top(), Kind::dict, "SETITEMS");
        dict.items.insert(dict.items.end(), items.begin(), items.end());
        break;
      }
      default:
        return false;
    }
    return true;
  }

  // The memo, globals, persistent ids, REDUCE and BUILD; any other opcode is an error.
  void step_object(uint8_t opcode) {
    switch (opcode) {
      case kBinPut:
        memoize(uint32_t(read_uint(1)));
        break;
      case kLongBinPut:
        memoize(uint32_t(read_uint(4)));
        break;
      case kMemoize:
        memoize(uint32_t(memo_.size()));
        break;
      case kBinGet:
        recall(uint32_t(read_uint(1)));
        break;
      case kLongBinGet:
        recall(uint32_t(read_uint(4)));
        break;
      case kGlobal: {
        std::string module = read_line();
        std::string name = read_line();
        push(global(module + "." + name));
        break;
      }
      case kStackGlobal: {
        const ValueId name = pop(), module = pop();
        push(global(expect(module, Kind::string, "STACK_GLOBAL module").text + "." +
                    expect(name, Kind::string, "STACK_GLOBAL name").text));
        break;
      }
      case kBinPersId:
        push(persistent_storage(pop()));
        break;
      case kReduce: {
        const ValueId args = pop(), callable = pop();
        push(reduce(callable, args));
        break;
      }
      case kBuild: {
        // Only OrderedDict.__reduce__ emits BUILD here, with the instance __dict__ (holding
        // `_metadata`, the module versions) as state; attributes carry no tensors, so ignore it.
        const Kind state = at(pop()).kind;
        if (state != Kind::dict && state != Kind::none)
          fail(fmt::format("BUILD state is a {}, expected a dict", kind_name(state)));
        container(top(), Kind::dict, "BUILD");
        break;
      }
      default: {
        const bool printable = opcode >= 0x20 && opcode < 0x7f;
        fail(fmt::format("unsupported pickle opcode 0x{:02x}{}", opcode,
                         printable ? fmt::format(" ('{}')", char(opcode)) : ""));
      }
    }
  }

  Value& container(ValueId id, Kind kind, std::string_view opcode) {
    Value& value = values_[id];
    if (value.kind != kind)
      fail(fmt::format("{} applied to a {}, expected a {}", opcode, kind_name(value.kind),
                       kind_name(kind)));
    return value;
  }

  void memoize(uint32_t index) {
    if (memo_.size() >= kMaxValues && !memo_.contains(index))
      fail(fmt::format("pickle memo exceeds {} entries", kMaxValues));
    memo_[index] = top();
  }
  void recall(uint32_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail(fmt::format("memo index {} was never stored", index));
    push(it->second);
  }

  ValueId global(const std::string& name) {
    for (const AllowedGlobal& allowed : kAllowedGlobals) {
      if (allowed.name != name) continue;
      const ValueId id = make(allowed.is_callable ? Kind::callable : Kind::storage_type);
      values_[id].callable = allowed.callable;
      values_[id].dtype = allowed.dtype;
      return id;
    }
    fail(fmt::format("pickle references disallowed global {}", quoted(name)));
  }

  // torch.save stores each storage out of line: ('storage', storage_type, key, location, numel).
  ValueId persistent_storage(ValueId pid_id) {
    const Value& pid = expect(pid_id, Kind::tuple, "persistent id");
    if (pid.items.size() != 5)
      fail(fmt::format("persistent id has {} elements, expected 5", pid.items.size()));
    const std::vector<ValueId> fields = pid.items;  // `make` below may reallocate the arena
    const std::string& tag = expect(fields[0], Kind::string, "persistent id tag").text;
    if (tag != "storage")
      fail(fmt::format("persistent id tag is {}, expected 'storage'", quoted(tag)));
    const StorageDtype dtype = expect(fields[1], Kind::storage_type, "storage type").dtype;
    std::string key = expect(fields[2], Kind::string, "storage key").text;
    expect(fields[3], Kind::string, "storage location");
    const int64_t numel = expect_non_negative(fields[4], "storage size");
    if (uint64_t(numel) > uint64_t(std::numeric_limits<int64_t>::max()) / element_size(dtype))
      fail(fmt::format("storage {} declares {} elements, too many to address", quoted(key), numel));

    // One storage may back several tensors; they must agree on what it holds.
    const auto [it, inserted] = storages_.try_emplace(key, dtype, numel);
    if (!inserted && (it->second.first != dtype || it->second.second != numel))
      fail(fmt::format("storage {} is declared as {} x {} and as {} x {}", quoted(key),
                       it->second.second, to_string(it->second.first), numel, to_string(dtype)));

    const ValueId id = make(Kind::storage);
    values_[id].text = std::move(key);
    values_[id].dtype = dtype;
    values_[id].integer = numel;
    return id;
  }

  ValueId reduce(ValueId callable_id, ValueId args_id) {
    const Callable callable = expect(callable_id, Kind::callable, "REDUCE callable").callable;
    const std::vector<ValueId> args = expect(args_id, Kind::tuple, "REDUCE arguments").items;
    switch (callable) {
      case Callable::ordered_dict:
        if (!args.empty()) fail("OrderedDict called with arguments; torch.save passes none");
        return make(Kind::dict);
      case Callable::rebuild_tensor_v2:
        return rebuild_tensor(args);
      case Callable::rebuild_parameter:
        // (data, requires_grad, backward_hooks): a Parameter is its data tensor here.
        if (args.size() != 3)
          fail(fmt::format("_rebuild_parameter takes 3 arguments, got {}", args.size()));
        expect(args[0], Kind::tensor, "_rebuild_parameter data");
        expect(args[1], Kind::boolean, "_rebuild_parameter requires_grad");
        expect(args[2], Kind::dict, "_rebuild_parameter backward_hooks");
        return args[0];
    }
    fail("unknown callable");
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  // [, metadata]). Validates the view so that readers can index the storage without checks.
  ValueId rebuild_tensor(const std::vector<ValueId>& args) {
    if (args.size() != 6 && args.size() != 7)
      fail(fmt::format("_rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.size()));
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
      fail(fmt::format("tensor metadata is a {}, expected a dict", kind_name(at(args[6]).kind)));
    if (tensor.shape.size() != tensor.stride.size())
      fail(fmt::format("tensor has {} sizes but {} strides", tensor.shape.size(),
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
      if (product > kMax / size) fail(fmt::format("tensor size {} overflows", shape_text(tensor)));
      product *= size;
    }
    int64_t last = tensor.storage_offset;  // element index of the view's last element
    for (size_t dim = 0; dim < tensor.shape.size() && !empty; ++dim) {
      const int64_t size = tensor.shape[dim];
      const int64_t stride = tensor.stride[dim];
      if (stride != 0 && (size - 1 > (kMax - last) / stride))
        fail(fmt::format("tensor view {} overflows", shape_text(tensor)));
      last += (size - 1) * stride;
    }
    const bool fits =
        empty ? tensor.storage_offset <= tensor.storage_numel : last < tensor.storage_numel;
    if (!fits)
      fail(
          fmt::format("tensor of size {}, stride {}, offset {} reaches past its storage {} of {} "
                      "elements",
                      shape_text(tensor), fmt::join(tensor.stride, ","), tensor.storage_offset,
                      quoted(tensor.storage_key), tensor.storage_numel));

    const ValueId id = make(Kind::tensor);
    values_[id].integer = int64_t(tensors_.size());
    tensors_.push_back(std::move(tensor));
    return id;
  }

  static std::string shape_text(const PickledTensor& tensor) {
    return fmt::format("[{}]", fmt::join(tensor.shape, ","));
  }

  std::vector<int64_t> int_tuple(ValueId id, std::string_view what) {
    const Value& tuple = expect(id, Kind::tuple, what);
    if (tuple.items.size() > kMaxRank)
      fail(fmt::format("{} has {} dimensions, more than {}", what, tuple.items.size(), kMaxRank));
    std::vector<int64_t> numbers;
    for (ValueId item : tuple.items) numbers.push_back(expect_non_negative(item, what));
    return numbers;
  }

  std::vector<PickledTensor> finish() {
    if (!marks_.empty()) fail("STOP with an unclosed MARK");
    if (stack_.size() != 1)
      fail(fmt::format("STOP with {} objects on the stack, expected 1", stack_.size()));
    const Value& top_level = values_[stack_.back()];
    if (top_level.kind != Kind::dict)
      fail(fmt::format("the pickled object is a {}, expected a state dict",
                       kind_name(top_level.kind)));

    std::vector<PickledTensor> tensors;
    std::unordered_set<std::string> names;
    for (size_t i = 0; i < top_level.items.size(); i += 2) {
      const Value& key = values_[top_level.items[i]];
      const Value& value = values_[top_level.items[i + 1]];
      if (key.kind != Kind::string)
        fail(fmt::format("state dict key #{} is a {}, expected a str", i / 2, kind_name(key.kind)));
      if (value.kind != Kind::tensor)
        fail(
            fmt::format("state dict entry {} is a {}, expected a tensor (a training checkpoint "
                        "rather than a state_dict?)",
                        quoted(key.text), kind_name(value.kind)));
      if (!names.insert(key.text).second)
        fail(fmt::format("state dict key {} appears twice", quoted(key.text)));
      tensors.push_back(tensors_[size_t(value.integer)]);
      tensors.back().name = key.text;
    }
    return tensors;
  }

  std::span<const uint8_t> bytes_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t opcode_pos_ = 0;
  std::vector<Value> values_;
  std::vector<ValueId> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint32_t, ValueId> memo_;
  std::vector<PickledTensor> tensors_;
  std::map<std::string, std::pair<StorageDtype, int64_t>> storages_;  // key -> dtype, numel
  ValueId none_, true_, false_, empty_tuple_;
};

}  // namespace

std::vector<PickledTensor> parse_state_dict_pickle(std::span<const uint8_t> bytes,
                                                   const std::string& source) {
  return Parser(bytes, source).run();
}

}  // namespace mattecast
