// The opcode machine of the restricted unpickler (see pickle.h): reads the byte stream and runs
// the stack, the marks and the memo; the objects it builds live in pickle_objects.cpp.
#include "models/pickle.h"

#include <fmt/format.h>

#include <cstring>
#include <unordered_map>

#include "models/pickle_objects.h"

namespace mattecast {
namespace {

using namespace pickle_detail;

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

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& source)
      : bytes_(bytes), context_{source}, objects_(context_) {}

  std::vector<PickledTensor> run() {
    while (pos_ < bytes_.size()) {
      context_.opcode_pos = pos_;
      const uint8_t opcode = bytes_[pos_++];
      if (opcode == kStop) return finish();
      step(opcode);
    }
    fail("pickle ends without STOP opcode (truncated?)");
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { context_.fail(problem); }

  // --- reading the byte stream ---

  std::span<const uint8_t> take(size_t count) {
    if (count > bytes_.size() - pos_)
      fail(fmt::format("opcode 0x{:02x} needs {} bytes but only {} remain (truncated?)",
                       bytes_[context_.opcode_pos], count, bytes_.size() - pos_));
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

  // --- the stack ---

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
        push(objects_.none());
        break;
      case kNewTrue:
        push(objects_.boolean(true));
        break;
      case kNewFalse:
        push(objects_.boolean(false));
        break;
      case kBinInt:
        push(objects_.make_integer(int32_t(uint32_t(read_uint(4)))));
        break;
      case kBinInt1:
        push(objects_.make_integer(int64_t(read_uint(1))));
        break;
      case kBinInt2:
        push(objects_.make_integer(int64_t(read_uint(2))));
        break;
      case kLong1: {
        const auto width = size_t(read_uint(1));
        if (width > 8) fail(fmt::format("LONG1 integer of {} bytes is wider than 64 bits", width));
        uint64_t bits = read_uint(width);
        if (width > 0 && width < 8 && (bits >> (8 * width - 1)) != 0)
          bits |= ~uint64_t(0) << (8 * width);  // sign-extend two's complement
        push(objects_.make_integer(int64_t(bits)));
        break;
      }
      case kBinFloat: {
        const auto raw = take(8);
        uint64_t bits = 0;
        for (uint8_t byte : raw) bits = (bits << 8) | byte;  // big-endian
        double number;
        std::memcpy(&number, &bits, sizeof number);
        push(objects_.make_floating(number));
        break;
      }
      case kBinUnicode:
        push(objects_.make_text(Kind::string, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinUnicode:
        push(objects_.make_text(Kind::string, read_text(size_t(read_uint(1)))));
        break;
      case kBinString:
        push(objects_.make_text(Kind::string, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinString:
        push(objects_.make_text(Kind::string, read_text(size_t(read_uint(1)))));
        break;
      case kBinBytes:
        push(objects_.make_text(Kind::bytes, read_text(size_t(read_uint(4)))));
        break;
      case kShortBinBytes:
        push(objects_.make_text(Kind::bytes, read_text(size_t(read_uint(1)))));
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
        push(objects_.make_tuple({}));
        break;
      case kTuple:
        push(objects_.make_tuple(pop_to_mark()));
        break;
      case kTuple1: {
        const ValueId a = pop();
        push(objects_.make_tuple({a}));
        break;
      }
      case kTuple2: {
        const ValueId b = pop(), a = pop();
        push(objects_.make_tuple({a, b}));
        break;
      }
      case kTuple3: {
        const ValueId c = pop(), b = pop(), a = pop();
        push(objects_.make_tuple({a, b, c}));
        break;
      }
      case kEmptyList:
        push(objects_.make(Kind::list));
        break;
      case kEmptyDict:
        push(objects_.make(Kind::dict));
        break;
      case kAppend: {
        const ValueId item = pop();
        Value& list = objects_.container(top(), Kind::list, "APPEND");
        list.items.push_back(item);
        break;
      }
      case kAppends: {
        const auto items = pop_to_mark();
        Value& list = objects_.container(top(), Kind::list, "APPENDS");
        list.items.insert(list.items.end(), items.begin(), items.end());
        break;
      }
      case kSetItem: {
        const ValueId item = pop(), key = pop();
        Value& dict = objects_.container(top(), Kind::dict, "SETITEM");
        dict.items.push_back(key);
        dict.items.push_back(item);
        break;
      }
      case kSetItems: {
        const auto items = pop_to_mark();
        if (items.size() % 2 != 0) fail("SETITEMS has a key without a value");
        Value& dict = objects_.container(top(), Kind::dict, "SETITEMS");
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
        push(objects_.global(module + "." + name));
        break;
      }
      case kStackGlobal: {
        const ValueId name = pop(), module = pop();
        push(objects_.global(objects_.expect(module, Kind::string, "STACK_GLOBAL module").text +
                             "." + objects_.expect(name, Kind::string, "STACK_GLOBAL name").text));
        break;
      }
      case kBinPersId:
        push(objects_.persistent_storage(pop()));
        break;
      case kReduce: {
        const ValueId args = pop(), callable = pop();
        push(objects_.reduce(callable, args));
        break;
      }
      case kBuild: {
        // Only OrderedDict.__reduce__ emits BUILD here, with the instance __dict__ (holding
        // `_metadata`, the module versions) as state; attributes carry no tensors, so ignore it.
        const Kind state = objects_.at(pop()).kind;
        if (state != Kind::dict && state != Kind::none)
          fail(fmt::format("BUILD state is a {}, expected a dict", kind_name(state)));
        objects_.container(top(), Kind::dict, "BUILD");
        break;
      }
      default: {
        const bool printable = opcode >= 0x20 && opcode < 0x7f;
        fail(fmt::format("unsupported pickle opcode 0x{:02x}{}", opcode,
                         printable ? fmt::format(" ('{}')", char(opcode)) : ""));
      }
    }
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

  std::vector<PickledTensor> finish() {
    if (!marks_.empty()) fail("STOP with an unclosed MARK");
    if (stack_.size() != 1)
      fail(fmt::format("STOP with {} objects on the stack, expected 1", stack_.size()));
    return objects_.state_dict(stack_.back());
  }

  std::span<const uint8_t> bytes_;
  ParseContext context_;
  Objects objects_;
  size_t pos_ = 0;
  std::vector<ValueId> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint32_t, ValueId> memo_;
};

}  // namespace

std::vector<PickledTensor> parse_state_dict_pickle(std::span<const uint8_t> bytes,
                                                   const std::string& source) {
  return Parser(bytes, source).run();
}

}  // namespace mattecast
