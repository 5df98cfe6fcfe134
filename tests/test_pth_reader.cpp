// The .pth reader: the real RVM state dicts, hand-built archives for each storage dtype and view,
// and hostile inputs (truncated, random, disallowed globals, opcode abuse) that must raise Error.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zip.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/pickle.h"
#include "models/pth_reader.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const std::string kModels = std::string(MATTECAST_SHARED_DIR) + "/models/";
const std::string kBasePth = kModels + "rvm_mobilenetv3_from_tfjs.pth";
const std::string kDgfPth = kModels + "rvm_mobilenetv3_from_tfjs_dgf_seed0.pth";

std::string temp_path(const std::string& name) {
  const fs::path folder = fs::path(MATTECAST_TEST_TMP) / "pth_reader";
  fs::create_directories(folder);
  return (folder / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), std::streamsize(bytes.size()));
}

// Writes a zip archive with stored (uncompressed) entries, as torch.save does.
void write_zip(const std::string& path, const std::map<std::string, std::string>& entries) {
  fs::remove(path);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr) << "libzip error " << error;
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    ASSERT_NE(source, nullptr);
    const zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(archive);
    zip_set_file_compression(archive, zip_uint64_t(index), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0);  // `entries` must outlive this: libzip reads them here
}

std::string read_zip_entry(const std::string& path, const std::string& name) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  EXPECT_NE(archive, nullptr);
  if (!archive) return {};
  zip_stat_t stat;
  zip_stat(archive, name.c_str(), 0, &stat);
  std::string bytes(stat.size, '\0');
  zip_file_t* file = zip_fopen(archive, name.c_str(), 0);
  EXPECT_EQ(zip_fread(file, bytes.data(), bytes.size()), zip_int64_t(bytes.size()));
  zip_fclose(file);
  zip_discard(archive);
  return bytes;
}

// Runs `action` and checks it throws mattecast::Error whose message holds every `fragment`.
void expect_error(const std::function<void()>& action, const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "no Error thrown; expected one mentioning '" << fragments.front() << "'";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message: " << message << "\nlacks: " << fragment;
  }
}

std::vector<PickledTensor> parse(const std::string& pickle, const std::string& source = "bad.pth") {
  return parse_state_dict_pickle(
      std::span(reinterpret_cast<const uint8_t*>(pickle.data()), pickle.size()), source);
}

void expect_pickle_error(const std::string& pickle, const std::string& fragment) {
  expect_error([&] { parse(pickle); }, {"bad.pth", fragment});
}

// Emits pickle opcodes the way CPython's protocol-2 pickler does.
class PickleWriter {
 public:
  PickleWriter& op(uint8_t code) {
    bytes_ += char(code);
    return *this;
  }
  PickleWriter& raw(const std::string& text) {
    bytes_ += text;
    return *this;
  }
  PickleWriter& uint(uint64_t value, int width) {  // little-endian
    for (int i = 0; i < width; ++i) bytes_ += char((value >> (8 * i)) & 0xff);
    return *this;
  }
  PickleWriter& proto() { return op(0x80).uint(2, 1); }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& str(const std::string& text) { return op('X').uint(text.size(), 4).raw(text); }
  PickleWriter& integer(int64_t value) {
    if (value >= 0 && value < 256) return op('K').uint(uint64_t(value), 1);
    if (value >= 0 && value < 65536) return op('M').uint(uint64_t(value), 2);
    if (value >= INT32_MIN && value <= INT32_MAX) return op('J').uint(uint32_t(value), 4);
    return op(0x8a).uint(8, 1).uint(uint64_t(value), 8);
  }
  PickleWriter& int_tuple(const std::vector<int64_t>& values) {
    op('(');
    for (int64_t value : values) integer(value);
    return op('t');
  }
  PickleWriter& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  PickleWriter& storage(const std::string& type, const std::string& key, int64_t numel) {
    op('(').str("storage").global("torch", type).str(key).str("cpu").integer(numel).op('t');
    return op('Q');  // BINPERSID
  }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& type, const std::string& key, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    storage(type, key, numel).integer(offset).int_tuple(shape).int_tuple(stride);
    return op(0x89).ordered_dict().op('t').op('R');
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

struct TensorSpec {
  std::string name;
  std::string storage_type;
  std::string key;
  int64_t storage_numel;
  int64_t offset;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// An OrderedDict state dict, laid out as torch.save writes it.
std::string state_dict_pickle(const std::vector<TensorSpec>& specs) {
  PickleWriter pickle;
  pickle.proto().ordered_dict().op('(');
  for (const TensorSpec& spec : specs)
    pickle.str(spec.name).tensor(spec.storage_type, spec.key, spec.storage_numel, spec.offset,
                                 spec.shape, spec.stride);
  return pickle.op('u').op('.').bytes();
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// --- the real files ---

TEST(PthReader, ReadsRvmStateDict) {
  const WeightMap weights = read_pth(kBasePth);
  EXPECT_EQ(weights.source(), kBasePth);
  EXPECT_EQ(weights.size(), 311u);  // 363 entries less 52 integer num_batches_tracked
  EXPECT_EQ(weights.parameter_count(), 3772832u);
  EXPECT_FALSE(weights.contains("backbone.features.0.1.num_batches_tracked"));
  EXPECT_FALSE(weights.contains("refiner.conv.6.bias"));

  EXPECT_EQ(weights.get("backbone.features.0.0.weight", {16, 3, 3, 3}).values.size(), 432u);
  // Folded BatchNorm: weight 1, running_var 1 - eps (1e-3 in the backbone).
  for (float value : weights.get("backbone.features.0.1.weight", {16}).values)
    EXPECT_EQ(value, 1.0f);
  for (float value : weights.get("backbone.features.0.1.running_var", {16}).values)
    EXPECT_FLOAT_EQ(value, 1.0f - 1e-3f);
}

TEST(PthReader, ReadsDeepGuidedFilterRefiner) {
  const WeightMap weights = read_pth(kDgfPth);
  EXPECT_EQ(weights.size(), 324u);
  EXPECT_EQ(weights.parameter_count(), 3773704u);
  EXPECT_EQ(weights.get("backbone.features.0.0.weight", {16, 3, 3, 3}).values.size(), 432u);

  const std::vector<float> bias = weights.get("refiner.conv.6.bias", {4}).values;
  const std::vector<float> expected_bias = {-0.19837683f, 0.01522979f, 0.19821090f, -0.07074600f};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(bias[i], expected_bias[i], 1e-7f) << i;

  for (float value : weights.get("refiner.box_filter.weight", {4, 1, 3, 3}).values)
    EXPECT_EQ(std::bit_cast<uint32_t>(value), 0x3DE38E39u);

  const auto sum = [&](const std::string& name, const std::vector<int64_t>& shape) {
    double total = 0;
    for (float value : weights.get(name, shape).values) total += value;
    return total;
  };
  EXPECT_NEAR(sum("refiner.conv.0.weight", {16, 24, 1, 1}), 0.6137463, 1e-5);
  EXPECT_NEAR(sum("refiner.conv.3.weight", {16, 16, 1, 1}), -0.8128123, 1e-5);
  EXPECT_NEAR(sum("refiner.conv.6.weight", {4, 16, 1, 1}), 0.1070715, 1e-5);
  for (float value : weights.get("refiner.conv.4.running_var", {16}).values) EXPECT_EQ(value, 1.0f);

  // The file is the base state dict plus the refiner, all shared tensors unchanged.
  const WeightMap base = read_pth(kBasePth);
  for (const auto& [name, tensor] : base.tensors()) {
    const WeightTensor& other = weights.get(name, tensor.shape);
    EXPECT_EQ(other.values, tensor.values) << name;
  }
}

TEST(PickleParser, DescribesRealPickle) {
  const std::string pickle =
      read_zip_entry(kDgfPth, "rvm_mobilenetv3_from_tfjs_dgf_seed0/data.pkl");
  const auto tensors = parse(pickle, kDgfPth);
  ASSERT_EQ(tensors.size(), 378u);
  const PickledTensor& first = tensors.front();
  EXPECT_EQ(first.name, "backbone.features.0.0.weight");
  EXPECT_EQ(first.dtype, StorageDtype::float32);
  EXPECT_EQ(first.storage_key, "0");
  EXPECT_EQ(first.storage_numel, 432);
  EXPECT_EQ(first.storage_offset, 0);
  EXPECT_EQ(first.shape, (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(first.stride, (std::vector<int64_t>{27, 9, 3, 1}));
  EXPECT_EQ(tensors.back().name, "refiner.conv.6.bias");
  size_t integer_tensors = 0;
  for (const auto& tensor : tensors) integer_tensors += tensor.dtype == StorageDtype::int64;
  EXPECT_EQ(integer_tensors, 54u);
}

// --- hand-built archives ---

TEST(PthReader, ConvertsHalfBfloat16AndDouble) {
  // float16: 1, -2.5, 65504 (max), 2^-24 (smallest subnormal), 0x3555 (~1/3), -inf.
  const std::vector<uint16_t> half = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x3555, 0xfc00};
  const std::vector<uint16_t> bfloat = {0x3f80, 0xc020, 0x4049};  // 1, -2.5, 3.140625
  const std::vector<double> wide = {0.1, -1e300, 3.0};
  const std::string pickle = state_dict_pickle({
      {"half", "HalfStorage", "0", 6, 0, {2, 3}, {3, 1}},
      {"bfloat", "BFloat16Storage", "1", 3, 0, {3}, {1}},
      {"double", "DoubleStorage", "2", 3, 0, {3}, {1}},
  });
  const std::string path = temp_path("dtypes.pth");
  write_zip(path, {{"odd-name/data.pkl", pickle},
                   {"odd-name/version", "3\n"},
                   {"odd-name/byteorder", "little"},
                   {"odd-name/data/0", raw_bytes(half)},
                   {"odd-name/data/1", raw_bytes(bfloat)},
                   {"odd-name/data/2", raw_bytes(wide)}});
  const WeightMap weights = read_pth(path);
  EXPECT_EQ(
      weights.get("half", {2, 3}).values,
      (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24), 0.33325195f, -INFINITY}));
  EXPECT_EQ(weights.get("bfloat", {3}).values, (std::vector<float>{1.0f, -2.5f, 3.140625f}));
  EXPECT_EQ(weights.get("double", {3}).values, (std::vector<float>{0.1f, -INFINITY, 3.0f}));
}

TEST(PthReader, GathersStridedViewsOfSharedStorage) {
  std::vector<float> storage(12);
  for (size_t i = 0; i < storage.size(); ++i) storage[i] = float(i);
  const std::string pickle = state_dict_pickle({
      {"transposed", "FloatStorage", "0", 12, 0, {3, 4}, {1, 3}},  // a 4x3 matrix, transposed
      {"offset_row", "FloatStorage", "0", 12, 8, {1, 4}, {4, 1}},
      {"expanded", "FloatStorage", "0", 12, 5, {2, 3}, {0, 1}},  // stride 0 repeats the row
      {"scalar", "FloatStorage", "0", 12, 11, {}, {}},
      {"empty", "FloatStorage", "0", 12, 12, {0, 5}, {5, 1}},
  });
  const std::string path = temp_path("views.pth");
  write_zip(path, {{"archive/data.pkl", pickle}, {"archive/data/0", raw_bytes(storage)}});
  const WeightMap weights = read_pth(path);
  EXPECT_EQ(weights.get("transposed", {3, 4}).values,
            (std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
  EXPECT_EQ(weights.get("offset_row", {1, 4}).values, (std::vector<float>{8, 9, 10, 11}));
  EXPECT_EQ(weights.get("expanded", {2, 3}).values, (std::vector<float>{5, 6, 7, 5, 6, 7}));
  EXPECT_EQ(weights.get("scalar", {}).values, (std::vector<float>{11}));
  EXPECT_TRUE(weights.get("empty", {0, 5}).values.empty());
}

TEST(PthReader, SkipsIntegerTensorsAndAcceptsParameters) {
  // A Parameter pickles as _rebuild_parameter(tensor, requires_grad, hooks).
  PickleWriter pickle;
  pickle.proto().op('}').op('(');
  pickle.str("weight").global("torch._utils", "_rebuild_parameter").op('(');
  pickle.tensor("FloatStorage", "0", 2, 0, {2}, {1}).op(0x88).ordered_dict().op('t').op('R');
  pickle.str("count").tensor("LongStorage", "1", 1, 0, {}, {});
  pickle.op('u').op('.');
  const std::string path = temp_path("parameter.pth");
  // The integer storage is absent: skipped tensors are never read.
  write_zip(path, {{"p/data.pkl", pickle.bytes()},
                   {"p/data/0", raw_bytes(std::vector<float>{0.5f, 2.0f})}});
  const WeightMap weights = read_pth(path);
  EXPECT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights.get("weight", {2}).values, (std::vector<float>{0.5f, 2.0f}));
}

TEST(PickleParser, AcceptsProtocol4Opcodes) {
  // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, a dtype spelled as torch.float16, and the
  // OrderedDict BUILD state holding _metadata.
  PickleWriter pickle;
  pickle.op(0x80).uint(4, 1).op(0x95).uint(0, 8);
  pickle.op(0x8c).uint(11, 1).raw("collections").op(0x94);
  pickle.op(0x8c).uint(11, 1).raw("OrderedDict").op(0x94).op(0x93).op(0x94).op(')').op('R');
  pickle.op(0x8c).uint(1, 1).raw("w").global("torch._utils", "_rebuild_tensor_v2").op('(');
  pickle.op('(').str("storage").global("torch", "float16").str("k").str("cpu").integer(4);
  pickle.op('t').op('Q').integer(1).int_tuple({3}).int_tuple({1}).op(0x89).op('h').uint(2, 1);
  pickle.op(')').op('R').op('N').op('t').op('R').op('s');
  pickle.op('}').str("_metadata").op('h').uint(2, 1).op(')').op('R').op('s').op('b').op('.');
  const auto tensors = parse(pickle.bytes());
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].name, "w");
  EXPECT_EQ(tensors[0].dtype, StorageDtype::float16);
  EXPECT_EQ(tensors[0].storage_offset, 1);
  EXPECT_EQ(tensors[0].shape, (std::vector<int64_t>{3}));
}

// --- hostile archives ---

TEST(PthReader, RejectsTruncatedFiles) {
  const std::string original = read_file(kBasePth);
  ASSERT_EQ(original.size(), 15224085u);
  const std::string path = temp_path("truncated.pth");
  for (size_t length : {size_t(0), size_t(1), size_t(4), size_t(100), size_t(70000),
                        original.size() / 2, original.size() - 23, original.size() - 1}) {
    SCOPED_TRACE(length);
    write_file(path, original.substr(0, length));
    expect_error([&] { read_pth(path); }, {path});
  }
}

TEST(PthReader, RejectsCorruptedStorageBytes) {
  std::string bytes = read_file(kBasePth);
  bytes[bytes.size() / 2] ^= 0x5a;  // inside a storage: only the CRC notices
  const std::string path = temp_path("corrupted.pth");
  write_file(path, bytes);
  expect_error([&] { read_pth(path); }, {path, "CRC"});
}

TEST(PthReader, RejectsRandomBytesAndMissingFiles) {
  std::mt19937 random(1234);
  const std::string path = temp_path("random.pth");
  for (const std::string& start : {std::string(), std::string("PK\x03\x04")}) {
    std::string bytes = start;
    while (bytes.size() < 4096) bytes += char(random());
    write_file(path, bytes);
    expect_error([&] { read_pth(path); }, {path});
  }
  const std::string missing = temp_path("does-not-exist.pth");
  expect_error([&] { read_pth(missing); }, {missing});
}

TEST(PthReader, RejectsLegacyFormat) {
  // Pre-1.6 torch.save: pickled magic number 0x1950a86a20f9469cfc6c, protocol version, ...
  const std::string path = temp_path("legacy.pth");
  write_file(path, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  expect_error([&] { read_pth(path); }, {path, "legacy", "re-save"});
}

TEST(PthReader, RejectsArchiveWithoutOneDataPkl) {
  const std::string path = temp_path("no_pickle.pth");
  write_zip(path, {{"archive/version", "3\n"}, {"data.pkl", "."}, {"a/b/data.pkl", "."}});
  expect_error([&] { read_pth(path); }, {path, "data.pkl"});
  write_zip(path, {{"a/data.pkl", "."}, {"b/data.pkl", "."}});
  expect_error([&] { read_pth(path); }, {path, "2 data.pkl"});
}

TEST(PthReader, RejectsStorageShorterThanDeclared) {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {6}, {1}}});
  const std::string path = temp_path("short_storage.pth");
  write_zip(path, {{"a/data.pkl", pickle}, {"a/data/0", std::string(20, '\0')}});
  expect_error([&] { read_pth(path); }, {path, "a/data/0", "holds 20 bytes", "24 bytes"});

  write_zip(path, {{"a/data.pkl", pickle}});
  expect_error([&] { read_pth(path); }, {path, "missing", "'w'"});
}

TEST(PthReader, RejectsBigEndianStorages) {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 1, 0, {1}, {1}}});
  const std::string path = temp_path("big_endian.pth");
  write_zip(path,
            {{"a/data.pkl", pickle}, {"a/byteorder", "big"}, {"a/data/0", std::string(4, '\0')}});
  expect_error([&] { read_pth(path); }, {path, "big"});
}

TEST(PthReader, RejectsHugeExpandedTensor) {
  // Stride 0 lets one stored float describe 2^40 values; the reader must refuse to allocate them.
  const std::string pickle =
      state_dict_pickle({{"w", "FloatStorage", "0", 1, 0, {int64_t(1) << 40}, {0}}});
  const std::string path = temp_path("expanded.pth");
  write_zip(path, {{"a/data.pkl", pickle}, {"a/data/0", std::string(4, '\0')}});
  expect_error([&] { read_pth(path); }, {path, "'w'"});
}

TEST(PthReader, ReportsPickleErrorsWithThePath) {
  const std::string path = temp_path("evil.pth");
  write_zip(path, {{"a/data.pkl",
                    "\x80\x02"
                    "cos\nsystem\n(X\x02\x00\x00\x00lstR."s}});
  expect_error([&] { read_pth(path); }, {path, "disallowed global 'os.system'", "byte 2"});
}

// --- hostile pickles ---

TEST(PickleParser, RejectsDisallowedGlobals) {
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"os", "system"},
           {"builtins", "eval"},
           {"__builtin__", "getattr"},
           {"torch", "load"},
           {"torch._utils", "_rebuild_device_tensor_from_numpy"},
           {"collections", "OrderedDict\x01"}}) {
    const std::string pickle = PickleWriter().proto().global(module, name).bytes();
    expect_pickle_error(pickle, "disallowed global '" + module + ".");
  }
  // A storage type is not callable, and a callable is not a storage type.
  expect_pickle_error(
      PickleWriter().proto().global("torch", "FloatStorage").op(')').op('R').bytes(),
      "REDUCE callable is a storage type");
  expect_pickle_error(PickleWriter()
                          .proto()
                          .op('(')
                          .str("storage")
                          .global("collections", "OrderedDict")
                          .str("0")
                          .str("cpu")
                          .integer(1)
                          .op('t')
                          .op('Q')
                          .bytes(),
                      "storage type is a function");
}

TEST(PickleParser, RejectsUnsupportedOpcodes) {
  // INST, OBJ, NEWOBJ, EXT1, PERSID, STRING, INT, DUP, POP, LONG4, BINUNICODE8, NEXT_BUFFER.
  const std::initializer_list<int> opcodes = {'i', 'o', 0x81, 0x82, 'P',  'S',
                                              'I', '2', '0',  0x8b, 0x8d, 0x97};
  for (const int opcode : opcodes) {
    const std::string pickle = "\x80\x02"s + char(opcode) + std::string(16, '\0');
    expect_pickle_error(pickle, "unsupported pickle opcode");
  }
  expect_pickle_error("\x80\x06.", "unsupported pickle protocol 6");
}

TEST(PickleParser, RejectsMemoAndStackAbuse) {
  expect_pickle_error("\x80\x02h\x05.", "memo index 5 was never stored");
  expect_pickle_error("\x80\x02j\xff\xff\xff\xff.", "memo index 4294967295");
  expect_pickle_error("\x80\x02q\x00."s, "stack underflow");
  expect_pickle_error("\x80\x02s.", "stack underflow");
  expect_pickle_error("\x80\x02R.", "stack underflow");
  expect_pickle_error("\x80\x02\x85.", "stack underflow");
  expect_pickle_error("\x80\x02t.", "needs a MARK");
  expect_pickle_error("\x80\x02}(a.", "stack underflow");  // APPEND cannot reach below a MARK
  expect_pickle_error("\x80\x02](q\x00."s, "stack underflow");
  expect_pickle_error(
      "\x80\x02}K\x01"
      "a.",
      "APPEND applied to a dict");
  expect_pickle_error("\x80\x02}(K\x01u.", "key without a value");
  expect_pickle_error("\x80\x02}}.", "2 objects on the stack");
  expect_pickle_error("\x80\x02}(.", "unclosed MARK");
  expect_pickle_error("\x80\x02.", "0 objects");
  expect_pickle_error("\x80\x02}", "without STOP");
  expect_pickle_error("", "without STOP");
  expect_pickle_error("\x80\x02}K\x01\x85\x62.", "BUILD state is a tuple");
}

TEST(PickleParser, SurvivesDeepNestingAndCycles) {
  // A million nested lists, built without recursion; the top object is a list, not a dict.
  std::string nested = "\x80\x02";
  nested.append(1'000'000, ']');
  nested.append(999'999, 'a');
  expect_pickle_error(nested + ".", "is a list, expected a state dict");

  std::string marks = "\x80\x02}";
  marks.append(1'000'000, '(');
  expect_pickle_error(marks + ".", "unclosed MARK");

  // A list that contains itself, and a dict that is its own key and value.
  expect_pickle_error(
      "\x80\x02]q\x00h\x00h\x00"
      "ae."s,
      "needs a MARK");
  expect_pickle_error(
      "\x80\x02]q\x00h\x00"
      "a."s,
      "is a list");
  expect_pickle_error("\x80\x02}q\x00h\x00h\x00s."s, "key #0 is a dict");

  // Each EMPTY_LIST allocates; the object budget stops unbounded growth.
  std::string lists = "\x80\x02";
  lists.append(3'000'000, ']');
  expect_pickle_error(lists, "more than");
  // MEMOIZE stores without allocating an object; the memo has its own budget.
  std::string memos = "\x80\x04]";
  memos.append(3'000'000, '\x94');
  expect_pickle_error(memos, "memo exceeds");
}

TEST(PickleParser, RejectsHugeDeclaredLengths) {
  expect_pickle_error(
      "\x80\x02X\xff\xff\xff\xff"
      "abc",
      "needs 4294967295 bytes but only 3");
  expect_pickle_error(
      "\x80\x02\x8c\xff"
      "abc",
      "needs 255 bytes");
  expect_pickle_error(
      "\x80\x02"
      "C\x10"
      "abc",
      "needs 16 bytes");
  expect_pickle_error(
      "\x80\x02\x8a\x09"
      "123456789.",
      "wider than 64 bits");
  expect_pickle_error("\x80\x02J\x01\x02", "truncated");
  expect_pickle_error(
      "\x80\x02"
      "ctorch\nFloatSt",
      "not terminated");
  expect_pickle_error("\x80\x02\x95\x01\x00"s, "truncated");
}

TEST(PickleParser, RejectsBadTensorViews) {
  const auto one = [](std::vector<int64_t> shape, std::vector<int64_t> stride, int64_t offset,
                      int64_t numel) {
    return state_dict_pickle({{"w", "FloatStorage", "0", numel, offset, shape, stride}});
  };
  expect_pickle_error(one({5}, {1}, 0, 4), "reaches past its storage");
  expect_pickle_error(one({2, 2}, {2, 1}, 1, 4), "reaches past its storage");
  expect_pickle_error(one({0}, {1}, 5, 4), "reaches past its storage");
  expect_pickle_error(one({2}, {1}, -1, 4), "offset is negative");
  expect_pickle_error(one({-1}, {1}, 0, 4), "tensor size is negative");
  expect_pickle_error(one({2}, {-1}, 0, 4), "tensor stride is negative");
  expect_pickle_error(one({2}, {1, 1}, 0, 4), "1 sizes but 2 strides");
  expect_pickle_error(one({int64_t(1) << 62, 8}, {0, 0}, 0, 4), "overflows");
  expect_pickle_error(one({3}, {int64_t(1) << 62}, 0, 4), "overflows");
  expect_pickle_error(one({1}, {1}, 0, int64_t(1) << 62), "too many to address");
  expect_pickle_error(one(std::vector<int64_t>(65, 1), std::vector<int64_t>(65, 1), 0, 4),
                      "65 dimensions");
  expect_pickle_error(state_dict_pickle({{"a", "FloatStorage", "0", 4, 0, {4}, {1}},
                                         {"b", "HalfStorage", "0", 4, 0, {4}, {1}}}),
                      "storage '0' is declared as 4 x float32 and as 4 x float16");
  expect_pickle_error(state_dict_pickle({{"a", "FloatStorage", "0", 4, 0, {4}, {1}},
                                         {"a", "FloatStorage", "1", 4, 0, {4}, {1}}}),
                      "key 'a' appears twice");
}

TEST(PickleParser, RejectsNonStateDicts) {
  expect_pickle_error("\x80\x02].", "is a list, expected a state dict");
  expect_pickle_error("\x80\x02}K\x01K\x02s.", "key #0 is a int");
  expect_pickle_error(
      "\x80\x02}X\x01\x00\x00\x00"
      "aK\x02s."s,
      "entry 'a' is a int, expected a tensor");
  expect_pickle_error(
      "\x80\x02}X\x01\x00\x00\x00"
      "a(X\x03\x00\x00\x00"
      "abcK\x01t"
      "Qs."s,
      "persistent id has 2 elements");
  // _rebuild_tensor_v2 with the wrong arity, and OrderedDict called with arguments.
  expect_pickle_error(
      PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").op(')').op('R').bytes(),
      "takes 6 or 7 arguments, got 0");
  expect_pickle_error(
      PickleWriter().proto().global("collections", "OrderedDict").op(']').op(0x85).op('R').bytes(),
      "OrderedDict called with arguments");
}

TEST(PickleParser, RejectsEveryTruncationOfRealPickle) {
  const std::string pickle = read_zip_entry(kBasePth, "rvm_mobilenetv3_from_tfjs/data.pkl");
  ASSERT_GT(pickle.size(), 1000u);
  for (size_t length = 0; length < pickle.size(); length += 61) {
    SCOPED_TRACE(length);
    expect_pickle_error(pickle.substr(0, length), "bad.pth");
  }
}

}  // namespace
}  // namespace mattecast
