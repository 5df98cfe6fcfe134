#include "io/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "io/atomic_file.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

// .npy data is little-endian ('<' in descr); values are copied as they are.
static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr std::string_view npy_magic = "\x93NUMPY";
// numpy refuses headers over 10000 bytes by default; anything near this bound is not ours.
constexpr size_t max_header_bytes = 1 << 16;

struct FileCloser {
  void operator()(std::FILE* stream) const { std::fclose(stream); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::vector<char> read_whole_file(const std::string& path) {
  const FilePtr stream(std::fopen(path.c_str(), "rb"));
  if (!stream) throw Error(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  std::vector<char> bytes;
  char chunk[1 << 16];
  size_t count;
  while ((count = std::fread(chunk, 1, sizeof chunk, stream.get())) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + count);
  }
  if (std::ferror(stream.get())) {
    throw Error(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  }
  return bytes;
}

struct NpyHeader {
  size_t item_bytes = 0;  // 2, 4 or 8 for '<f2', '<f4', '<f8'
  bool fortran_order = true;
  std::vector<int64_t> shape;
};

// Parses the header text, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (360, 640), }
// Only the subset numpy writes is accepted; the file is untrusted, so every step is checked.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_fortran_order = false, has_shape = false;
    expect('{');
    while (!try_consume('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        mark_seen(has_descr, key);
        header.item_bytes = item_bytes_for(parse_string());
      } else if (key == "fortran_order") {
        mark_seen(has_fortran_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        mark_seen(has_shape, key);
        header.shape = parse_shape();
      } else {
        fail(fmt::format("unexpected key '{}' in the header", key));
      }
      if (!try_consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (position_ != text_.size()) fail("unexpected text after the header dict");
    if (!has_descr || !has_fortran_order || !has_shape) {
      fail("the header lacks one of 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& reason) const {
    throw Error(fmt::format("invalid .npy file '{}': {}", path_, reason));
  }

  void mark_seen(bool& seen, const std::string& key) const {
    if (seen) fail(fmt::format("key '{}' appears twice in the header", key));
    seen = true;
  }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r')) {
      ++position_;
    }
  }

  bool try_consume(char c) {
    skip_space();
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!try_consume(c))
      fail(fmt::format("expected '{}' at offset {} of the header", c, position_));
  }

  std::string parse_string() {
    skip_space();
    if (position_ >= text_.size() || (text_[position_] != '\'' && text_[position_] != '"')) {
      fail(fmt::format("expected a string at offset {} of the header", position_));
    }
    const char quote = text_[position_++];
    const size_t end = text_.find(quote, position_);
    if (end == std::string_view::npos) fail("unterminated string in the header");
    std::string value(text_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }

  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(position_, word.size()) == word) {
        position_ += word.size();
        return value;
      }
    }
    fail(fmt::format("expected True or False at offset {} of the header", position_));
  }

  int64_t parse_dimension() {
    skip_space();
    const size_t start = position_;
    int64_t value = 0;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      const int digit = text_[position_++] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("shape value too large");
      value = value * 10 + digit;
    }
    if (position_ == start)
      fail(fmt::format("expected a number at offset {} of the header", start));
    return value;
  }

  // A Python tuple: "()", "(n,)" or "(a, b, ...)" with an optional trailing comma.
  std::vector<int64_t> parse_shape() {
    expect('(');
    std::vector<int64_t> shape;
    bool trailing_comma = false;
    while (!try_consume(')')) {
      shape.push_back(parse_dimension());
      trailing_comma = try_consume(',');
      if (!trailing_comma) {
        expect(')');
        break;
      }
    }
    // "(5)" is the number 5 in Python, not a tuple.
    if (shape.size() == 1 && !trailing_comma) fail("'shape' is not a tuple");
    return shape;
  }

  size_t item_bytes_for(const std::string& descr) const {
    if (descr == "<f2") return 2;
    if (descr == "<f4") return 4;
    if (descr == "<f8") return 8;
    fail(fmt::format("unsupported dtype '{}' (expected '<f2', '<f4' or '<f8')", descr));
  }

  std::string_view text_;
  const std::string& path_;
  size_t position_ = 0;
};

// IEEE 754 binary16 to binary32; every half value, subnormals, infinities and NaNs included,
// is exactly representable as a float.
float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float arithmetic.
    const float magnitude = float(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

// Number of elements of `shape`, or nullopt on a negative dimension or overflow.
std::optional<size_t> element_count(const std::vector<int64_t>& shape) {
  size_t count = 1;
  for (const int64_t dimension : shape) {
    if (dimension < 0 || __builtin_mul_overflow(count, uint64_t(dimension), &count)) {
      return std::nullopt;
    }
  }
  return count;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  const std::vector<char> bytes = read_whole_file(path);
  const auto fail = [&](const std::string& reason) {
    throw Error(fmt::format("invalid .npy file '{}': {}", path, reason));
  };
  if (bytes.size() < 10 || std::string_view(bytes.data(), npy_magic.size()) != npy_magic) {
    fail("no NumPy magic string");
  }
  const auto major = uint8_t(bytes[6]), minor = uint8_t(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0) {
    fail(fmt::format("unsupported format version {}.{}", major, minor));
  }
  // Version 1 has a 2-byte header length, version 2 a 4-byte one, both little-endian.
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = 8 + length_bytes;
  if (bytes.size() < header_start) fail("file too short for its header length");
  size_t header_bytes = 0;
  for (size_t i = 0; i < length_bytes; ++i)
    header_bytes |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
  if (header_bytes > max_header_bytes) fail(fmt::format("header of {} bytes", header_bytes));
  if (bytes.size() - header_start < header_bytes) fail("file ends inside the header");

  const NpyHeader header =
      HeaderParser(std::string_view(bytes.data() + header_start, header_bytes), path).parse();
  if (header.fortran_order) fail("Fortran-ordered arrays are not supported");
  const std::optional<size_t> count = element_count(header.shape);
  const size_t data_start = header_start + header_bytes;
  const size_t data_bytes = bytes.size() - data_start;
  if (!count || *count > data_bytes / header.item_bytes ||
      *count * header.item_bytes != data_bytes) {
    fail(
        fmt::format("shape {} needs {} bytes of data, the file has {}", shape_text(header.shape),
                    count ? fmt::format("{}", *count * header.item_bytes) : std::string("too many"),
                    data_bytes));
  }

  NpyArray array;
  array.shape = header.shape;
  array.values.resize(*count);
  const char* data = bytes.data() + data_start;
  switch (header.item_bytes) {
    case 2:
      for (size_t i = 0; i < *count; ++i) {
        uint16_t half;
        std::memcpy(&half, data + 2 * i, 2);
        array.values[i] = half_to_float(half);
      }
      break;
    case 4:
      for (size_t i = 0; i < *count; ++i) std::memcpy(&array.values[i], data + 4 * i, 4);
      break;
    case 8:
      for (size_t i = 0; i < *count; ++i) {
        double value;
        std::memcpy(&value, data + 8 * i, 8);
        array.values[i] = float(value);
      }
      break;
  }
  return array;
}

void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape) {
  const std::optional<size_t> count = element_count(shape);
  if (!count || (*count > 0 && !values)) {
    throw Error(
        fmt::format("cannot write '{}': bad shape {} or no values", path, shape_text(shape)));
  }
  // Version 1.0: magic, 2 version bytes, 2-byte header length, then the header text padded with
  // spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, as numpy does.
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape_text(shape));
  constexpr size_t prefix_bytes = 10, alignment = 64;
  const size_t unpadded = prefix_bytes + header.size() + 1;
  header.append((alignment - unpadded % alignment) % alignment, ' ');
  header += '\n';
  const size_t header_bytes = header.size();
  if (header_bytes > 0xffff)
    throw Error(fmt::format("cannot write '{}': too many dimensions", path));

  std::string prefix(npy_magic);
  prefix += {char(1), char(0), char(header_bytes & 0xff), char(header_bytes >> 8)};
  prefix += header;

  AtomicFile file(path);
  FilePtr stream(std::fopen(file.temp_path().c_str(), "wb"));
  if (!stream) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  const size_t data_bytes = *count * sizeof(float);
  bool written =
      std::fwrite(prefix.data(), 1, prefix.size(), stream.get()) == prefix.size() &&
      (data_bytes == 0 || std::fwrite(values, 1, data_bytes, stream.get()) == data_bytes);
  const int write_errno = errno;
  // fclose() can be the first to report a full disk, so its result counts too.
  const bool closed = std::fclose(stream.release()) == 0;
  if (!written || !closed) {
    throw Error(
        fmt::format("cannot write '{}': {}", path, std::strerror(written ? errno : write_errno)));
  }
  file.commit();
}

}  // namespace mattecast
