#include "models/pth_reader.h"

#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/pickle.h"

namespace mattecast {
namespace {

// Storages are raw little-endian bytes, copied into floats as they are.
static_assert(std::endian::native == std::endian::little,
              "pth_reader assumes a little-endian host");

// A state-dict pickle takes ~170 bytes per tensor; anything near this limit is not a state dict.
constexpr uint64_t kMaxPickleBytes = uint64_t(64) << 20;
// Upper bound on the storages read and on the floats produced, so a small hostile file cannot
// make us allocate without limit (zero strides can expand a tiny storage). RVM needs ~15 MB.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 30;

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path) : path_(path) {
    int error_code = 0;
    archive_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error_code);
    if (archive_) return;
    if (error_code == ZIP_ER_NOZIP || error_code == ZIP_ER_INCONS) {
      // Before PyTorch 1.6, torch.save wrote a bare sequence of pickles (protocol 2 starts 0x80).
      std::ifstream file(path, std::ios::binary);
      if (file.get() == 0x80)
        throw Error(fmt::format(
            "{}: legacy (pre-1.6) torch.save format, which mattecast does not read; re-save it "
            "with a recent PyTorch: torch.save(torch.load(path), path)",
            path));
    }
    zip_error_t error;
    zip_error_init_with_code(&error, error_code);
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(fmt::format("{}: cannot open as a PyTorch zip archive: {}{}", path, reason,
                            error_code == ZIP_ER_NOZIP ? " (truncated, or not a .pth file?)" : ""));
  }
  ~ZipArchive() { zip_discard(archive_); }  // read-only: nothing to write back
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  struct PickleEntry {
    std::string prefix;  // "<archive>/", the folder of all other entries
    zip_uint64_t index;
  };

  // The single `<archive>/data.pkl`.
  PickleEntry find_pickle() const {
    constexpr std::string_view kSuffix = "/data.pkl";
    std::vector<std::string> prefixes;
    zip_uint64_t index = 0;
    const zip_int64_t count = zip_get_num_entries(archive_, 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* raw = zip_get_name(archive_, zip_uint64_t(i), ZIP_FL_ENC_RAW);
      if (!raw) continue;
      const std::string_view name = raw;
      if (name.size() > kSuffix.size() && name.ends_with(kSuffix) &&
          name.find('/') == name.size() - kSuffix.size()) {
        prefixes.emplace_back(name.substr(0, name.size() - kSuffix.size() + 1));
        index = zip_uint64_t(i);
      }
    }
    if (prefixes.empty())
      throw Error(
          fmt::format("{}: zip archive has no '<name>/data.pkl'; not a torch.save file", path_));
    if (prefixes.size() > 1)
      throw Error(
          fmt::format("{}: zip archive has {} data.pkl entries ('{}data.pkl', "
                      "'{}data.pkl', ...); expected one",
                      path_, prefixes.size(), prefixes[0], prefixes[1]));
    return {prefixes[0], index};
  }

  std::optional<zip_uint64_t> locate(const std::string& name) const {
    const zip_int64_t index = zip_name_locate(archive_, name.c_str(), ZIP_FL_ENC_RAW);
    if (index < 0) return std::nullopt;
    return zip_uint64_t(index);
  }

  uint64_t entry_size(zip_uint64_t index, const std::string& name) const {
    zip_stat_t stat;
    if (zip_stat_index(archive_, index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE))
      throw Error(fmt::format("{}: cannot stat '{}': {}", path_, name, zip_strerror(archive_)));
    return stat.size;
  }

  // Reads a whole entry, which must hold exactly `size` bytes (as entry_size reported).
  std::vector<uint8_t> read(zip_uint64_t index, const std::string& name, uint64_t size) const {
    zip_file_t* file = zip_fopen_index(archive_, index, 0);
    if (!file)
      throw Error(fmt::format("{}: cannot open '{}': {}", path_, name, zip_strerror(archive_)));
    std::vector<uint8_t> bytes(size);
    uint64_t done = 0;
    zip_int64_t got = 1;
    while (done < size && (got = zip_fread(file, bytes.data() + done, size - done)) > 0)
      done += uint64_t(got);
    // One more read must hit the end: it also makes libzip verify the CRC.
    uint8_t extra;
    if (got > 0) got = zip_fread(file, &extra, 1);
    const std::string reason = got < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (got < 0) throw Error(fmt::format("{}: cannot read '{}': {}", path_, name, reason));
    if (done != size || got != 0)
      throw Error(fmt::format("{}: '{}' does not hold the {} bytes its header declares", path_,
                              name, size));
    return bytes;
  }

 private:
  std::string path_;
  zip_t* archive_ = nullptr;
};

float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  const uint32_t bits = exponent == 0x1f ? sign | 0x7f800000u | (mantissa << 13)  // inf, NaN
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

// Converts `count` consecutive elements of a floating dtype to float.
void convert(const uint8_t* src, StorageDtype dtype, float* dst, size_t count) {
  switch (dtype) {
    case StorageDtype::float32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case StorageDtype::float64:
      for (size_t i = 0; i < count; ++i) {
        double value;
        std::memcpy(&value, src + i * sizeof value, sizeof value);
        dst[i] = float(value);
      }
      return;
    case StorageDtype::float16:
    case StorageDtype::bfloat16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + i * sizeof bits, sizeof bits);
        dst[i] = dtype == StorageDtype::float16 ? half_to_float(bits)
                                                : std::bit_cast<float>(uint32_t(bits) << 16);
      }
      return;
    default:
      break;
  }
  throw Error(fmt::format("cannot convert {} to float", to_string(dtype)));
}

bool is_contiguous(const PickledTensor& tensor) {
  int64_t expected = 1;
  for (size_t dim = tensor.shape.size(); dim-- > 0;) {
    if (tensor.shape[dim] != 1 && tensor.stride[dim] != expected) return false;
    expected *= tensor.shape[dim];
  }
  return true;
}

// Copies the tensor's strided view out of its storage into C order. The pickle parser has
// checked that the view lies within storage_numel elements, and the caller that the storage
// holds that many.
std::vector<float> gather(const PickledTensor& tensor, int64_t numel, const uint8_t* storage) {
  const size_t element_bytes = element_size(tensor.dtype);
  std::vector<float> values(size_t(numel), 0.0f);
  if (numel == 0) return values;
  if (is_contiguous(tensor)) {
    convert(storage + size_t(tensor.storage_offset) * element_bytes, tensor.dtype, values.data(),
            values.size());
    return values;
  }
  // Odometer over the index space, keeping the storage offset of the current element.
  const size_t rank = tensor.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t offset = tensor.storage_offset;
  for (float& value : values) {
    convert(storage + size_t(offset) * element_bytes, tensor.dtype, &value, 1);
    for (size_t dim = rank; dim-- > 0;) {
      if (++index[dim] < tensor.shape[dim]) {
        offset += tensor.stride[dim];
        break;
      }
      offset -= (tensor.shape[dim] - 1) * tensor.stride[dim];
      index[dim] = 0;
    }
  }
  return values;
}

int64_t element_count(const PickledTensor& tensor) {
  int64_t count = 1;
  for (int64_t size : tensor.shape) count *= size;  // the parser checked for overflow
  return count;
}

}  // namespace

WeightMap read_pth(const std::string& path) {
  ZipArchive archive(path);
  const auto [prefix, pickle_index] = archive.find_pickle();

  if (const auto index = archive.locate(prefix + "byteorder")) {
    const std::string name = prefix + "byteorder";
    const uint64_t size = archive.entry_size(*index, name);
    if (size > 16)
      throw Error(fmt::format("{}: '{}' is {} bytes, expected 'little'", path, name, size));
    const auto bytes = archive.read(*index, name, size);
    const std::string order(bytes.begin(), bytes.end());
    if (order != "little")
      throw Error(fmt::format("{}: storages are '{}'-endian; only little-endian is supported", path,
                              order));
  }

  const std::string pickle_name = prefix + "data.pkl";
  const uint64_t pickle_size = archive.entry_size(pickle_index, pickle_name);
  if (pickle_size > kMaxPickleBytes)
    throw Error(fmt::format("{}: '{}' is {} bytes, too large for a state dict", path, pickle_name,
                            pickle_size));
  const auto pickle = archive.read(pickle_index, pickle_name, pickle_size);
  const std::vector<PickledTensor> tensors = parse_state_dict_pickle(pickle, path);

  // Float tensors grouped by storage, so that each storage is read once and freed when done.
  std::map<std::string, std::vector<const PickledTensor*>> by_storage;
  uint64_t storage_bytes = 0;
  uint64_t output_bytes = 0;
  for (const PickledTensor& tensor : tensors) {
    if (!is_floating(tensor.dtype)) continue;  // num_batches_tracked and other counters
    auto& users = by_storage[tensor.storage_key];
    if (users.empty()) storage_bytes += uint64_t(tensor.storage_numel) * element_size(tensor.dtype);
    users.push_back(&tensor);
    // Checked term by term so the sums cannot overflow (a term alone is below 2^63 bytes).
    const auto numel = uint64_t(element_count(tensor));
    output_bytes += std::min(numel, kMaxTensorBytes) * sizeof(float);
    if (storage_bytes > kMaxTensorBytes || output_bytes > kMaxTensorBytes)
      throw Error(
          fmt::format("{}: tensor data exceeds {} MiB (at '{}'); far more than any "
                      "network mattecast runs",
                      path, kMaxTensorBytes >> 20, tensor.name));
  }

  WeightMap weights(path);
  for (const auto& [key, users] : by_storage) {
    const PickledTensor& first = *users.front();
    const std::string name = prefix + "data/" + key;
    const auto index = archive.locate(name);
    if (!index)
      throw Error(fmt::format("{}: storage '{}' of tensor '{}' is missing from the archive", path,
                              name, first.name));
    const uint64_t declared = uint64_t(first.storage_numel) * element_size(first.dtype);
    const uint64_t size = archive.entry_size(*index, name);
    if (size != declared)
      throw Error(fmt::format(
          "{}: storage '{}' of tensor '{}' holds {} bytes, but the pickle "
          "declares {} {} elements ({} bytes)",
          path, name, first.name, size, first.storage_numel, to_string(first.dtype), declared));
    const auto storage = archive.read(*index, name, size);
    for (const PickledTensor* tensor : users) {
      const int64_t numel = element_count(*tensor);
      weights.add(tensor->name,
                  WeightTensor{tensor->shape, gather(*tensor, numel, storage.data())});
    }
  }
  return weights;
}

}  // namespace mattecast
