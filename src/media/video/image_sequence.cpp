#include "video/image_sequence.h"

extern "C" {
#include <libavutil/opt.h>
}

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string_view>
#include <system_error>
#include <vector>

#include "io/av_handles.h"
#include "mattecast/mattecast.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

constexpr int kFolderDigits = 6;  // "out/" -> out/000000.png

bool ends_with_separator(const std::string& path) { return !path.empty() && path.back() == '/'; }

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

// Appends the file name of frame `index` to `out` (no allocation once `out` has the capacity).
void append_file_name(const SequenceNaming& naming, int64_t index, std::string& out) {
  out += naming.prefix;
  fmt::format_to(std::back_inserter(out), "{:0{}d}", index, naming.digits);
  out += naming.suffix;
}

AVPixelFormat png_format(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::rgba:
      return AV_PIX_FMT_RGBA;
    case PixelLayout::gray8:
      return AV_PIX_FMT_GRAY8;
    case PixelLayout::gray16:
      return AV_PIX_FMT_GRAY16BE;  // PNG stores 16-bit samples big-endian
    case PixelLayout::rgb24:
      break;
  }
  return AV_PIX_FMT_RGB24;
}

}  // namespace

std::string SequenceNaming::file_name(int64_t index) const {
  std::string name;
  append_file_name(*this, index, name);
  return name;
}

bool SequenceNaming::matches(const std::string& name) const {
  if (name.size() <= prefix.size() + suffix.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  const std::string_view number(name.data() + prefix.size(),
                                name.size() - prefix.size() - suffix.size());
  if (int(number.size()) < digits) return false;
  return std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<SequenceNaming> parse_sequence_path(const std::string& path) {
  std::error_code error;
  if (ends_with_separator(path) || (!path.empty() && fs::is_directory(path, error))) {
    SequenceNaming naming;
    naming.folder = path;
    naming.suffix = ".png";
    naming.digits = kFolderDigits;
    return naming;
  }
  // Find the frame-number conversions: %d, %Nd, %0Nd ("%%" is a literal '%').
  struct Conversion {
    size_t begin, end;
    int digits;
  };
  std::vector<Conversion> conversions;
  bool stray_percent = false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 1 < path.size() && path[i + 1] == '%') {
      ++i;
      continue;
    }
    size_t j = i + 1;
    int digits = 0;
    while (j < path.size() && std::isdigit(static_cast<unsigned char>(path[j])) && digits < 100) {
      digits = digits * 10 + (path[j] - '0');
      ++j;
    }
    if (j < path.size() && path[j] == 'd') {
      conversions.push_back({i, j + 1, digits});
      i = j;
    } else {
      stray_percent = true;
    }
  }
  if (conversions.empty()) return std::nullopt;
  const auto malformed = [&](std::string_view why) {
    return Error(fmt::format("bad PNG sequence pattern '{}': {}", path, why));
  };
  if (conversions.size() > 1) throw malformed("it has more than one frame number (%d)");
  if (stray_percent) throw malformed("a '%' other than the frame number; write '%%' for a '%'");
  const size_t slash = path.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  if (conversions[0].begin < name_start) {
    throw malformed("the frame number must be in the file name, not in a folder name");
  }
  if (lowercase(fs::path(path).extension().string()) != ".png") {
    throw malformed("PNG sequences only: the file name must end in .png");
  }
  const auto unescape = [](std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      out += text[i];
      if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '%') ++i;
    }
    return out;
  };
  SequenceNaming naming;
  naming.folder =
      name_start == 0 ? std::string(".") : unescape(std::string_view(path).substr(0, name_start));
  naming.prefix =
      unescape(std::string_view(path).substr(name_start, conversions[0].begin - name_start));
  naming.suffix = unescape(std::string_view(path).substr(conversions[0].end));
  naming.digits = conversions[0].digits;
  return naming;
}

struct ImageSequenceWriter::Impl {
  std::string path;
  ImageSequenceOptions options;
  SequenceNaming naming;
  fs::path target;                // the folder the frames go to
  bool target_existed = false;    // at open: frames are moved into it, else it is renamed
  fs::path temp;                  // the temporary folder
  std::vector<fs::path> created;  // missing parents created at open, outermost first
  AvCodecContextPtr encoder;
  AvFramePtr frame = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  std::string file_path;  // reused for each frame's name
  size_t row_bytes = 0;
  int64_t frames = 0;
  bool finished = false;

  ~Impl() {
    if (finished) return;
    std::error_code ignored;
    if (!temp.empty()) fs::remove_all(temp, ignored);
    for (auto folder = created.rbegin(); folder != created.rend(); ++folder) {
      fs::remove(*folder, ignored);  // only if still empty
    }
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw Error(fmt::format("cannot write PNG sequence '{}': {}", path, what));
  }
  [[noreturn]] void fail_av(std::string_view what, int error_code) const {
    fail(fmt::format("{}: {}", what, describe_av_error(error_code)));
  }

  // Files in the target folder named like this sequence's frames.
  std::vector<std::string> existing_frames() const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(target, error)) {
      const std::string name = entry.path().filename().string();
      if (naming.matches(name)) names.push_back(name);
    }
    if (error) fail(fmt::format("cannot list folder '{}': {}", target.string(), error.message()));
    std::sort(names.begin(), names.end());
    return names;
  }

  // Creates the parents of the target that are missing, remembering them.
  void create_parents(const fs::path& parent) {
    std::vector<fs::path> missing;
    std::error_code error;
    for (fs::path folder = parent; !folder.empty() && !fs::exists(folder, error);
         folder = folder.parent_path()) {
      missing.push_back(folder);
      if (folder == folder.parent_path()) break;
    }
    for (auto folder = missing.rbegin(); folder != missing.rend(); ++folder) {
      if (!fs::create_directory(*folder, error) && error) {
        fail(fmt::format("cannot create folder '{}': {}", folder->string(), error.message()));
      }
      created.push_back(*folder);
    }
  }

  // A new hidden folder "<parent>/.<name>.mattecast-tmp-XXXXXX". mkdir() rather than mkdtemp():
  // the folder may become the target, which should get the usual permissions (umask), not 0700.
  fs::path create_temp_folder(const fs::path& parent, const std::string& name) const {
    static std::atomic<unsigned> counter{0};
    constexpr int attempts = 100;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      const unsigned salt = unsigned(getpid()) * 2654435761u + counter.fetch_add(1) * 40503u +
                            unsigned(std::chrono::steady_clock::now().time_since_epoch().count());
      const fs::path candidate =
          parent / fmt::format(".{}.mattecast-tmp-{:06x}", name, salt & 0xffffff);
      if (::mkdir(candidate.c_str(), 0777) == 0) return candidate;
      if (errno != EEXIST) {
        fail(fmt::format("cannot create a folder in '{}': {}", parent.string(),
                         std::strerror(errno)));
      }
    }
    fail(fmt::format("no free temporary folder name in '{}'", parent.string()));
  }

  void open() {
    if (options.width <= 0 || options.height <= 0) {
      fail(fmt::format("bad size {}x{}", options.width, options.height));
    }
    target = naming.folder;
    if (!target.has_filename() && target.has_relative_path()) target = target.parent_path();
    std::error_code error;
    const fs::file_status status = fs::status(target, error);
    if (fs::exists(status) && !fs::is_directory(status)) {
      fail(fmt::format("'{}' exists and is not a folder", target.string()));
    }
    target_existed = fs::exists(status);
    fs::path absolute = fs::absolute(target, error).lexically_normal();
    if (!absolute.has_filename()) absolute = absolute.parent_path();  // "out/" -> "out"
    std::string name = absolute.filename().string();
    if (name.empty() || name == "." || name == "..") name = "frames";
    fs::path temp_parent;
    if (target_existed) {
      const std::vector<std::string> existing = existing_frames();
      if (!existing.empty() && !options.overwrite) {
        fail(
            fmt::format("folder '{}' already holds {} frame{} of this name ('{}'{}); use --force "
                        "to replace them",
                        target.string(), existing.size(), existing.size() == 1 ? "" : "s",
                        existing.front(), existing.size() > 1 ? ", ..." : ""));
      }
      temp_parent = target;
    } else {
      temp_parent = absolute.parent_path();
      create_parents(temp_parent);
    }
    temp = create_temp_folder(temp_parent, name);

    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec) fail_av("FFmpeg has no PNG encoder", AVERROR_ENCODER_NOT_FOUND);
    encoder.reset(avcodec_alloc_context3(codec));
    if (!encoder) throw std::bad_alloc();
    const AVPixelFormat format = png_format(options.layout);
    encoder->width = options.width;
    encoder->height = options.height;
    encoder->pix_fmt = format;
    encoder->time_base = {1, 25};  // required of every video encoder, meaningless for PNGs
    encoder->thread_count = 1;
    // Speed over size: see the header (zlib level 1 and the "up" filter).
    encoder->compression_level = 1;
    AVDictionary* codec_options = nullptr;
    av_dict_set(&codec_options, "pred", "up", 0);
    const int rc = avcodec_open2(encoder.get(), codec, &codec_options);
    av_dict_free(&codec_options);
    if (rc < 0) fail_av("cannot open the PNG encoder", rc);

    frame->format = format;
    frame->width = options.width;
    frame->height = options.height;
    if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();
    row_bytes = size_t(options.width) * size_t(bytes_per_pixel(options.layout));
    file_path.reserve(temp.string().size() + naming.prefix.size() + naming.suffix.size() + 64);
  }

  void write_file(const std::string& file, const uint8_t* data, size_t size) const {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) fail(fmt::format("cannot create '{}': {}", file, std::strerror(errno)));
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd, data + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = n < 0 ? errno : EIO;
        ::close(fd);
        fail(fmt::format("cannot write '{}': {}", file, std::strerror(error)));
      }
      done += size_t(n);
    }
    // close() can be the first to report a full disk (network file systems).
    if (::close(fd) != 0) fail(fmt::format("cannot write '{}': {}", file, std::strerror(errno)));
  }

  void write(const uint8_t* pixels, ptrdiff_t stride) {
    if (finished) fail("already finished");
    if (!pixels || stride < ptrdiff_t(row_bytes))
      fail(fmt::format("bad frame (stride {})", stride));
    if (av_frame_make_writable(frame.get()) < 0) throw std::bad_alloc();
    for (int y = 0; y < options.height; ++y) {
      const uint8_t* from = pixels + stride * y;
      uint8_t* to = frame->data[0] + ptrdiff_t(frame->linesize[0]) * y;
      if (options.layout != PixelLayout::gray16) {
        std::memcpy(to, from, row_bytes);
        continue;
      }
      for (int x = 0; x < options.width; ++x) {
        uint16_t value;
        std::memcpy(&value, from + 2 * x, 2);  // rows need not be 2-byte aligned
        to[2 * x] = uint8_t(value >> 8);
        to[2 * x + 1] = uint8_t(value & 0xff);
      }
    }
    int rc = avcodec_send_frame(encoder.get(), frame.get());
    if (rc < 0) fail_av(fmt::format("cannot encode frame {}", frames), rc);
    rc = avcodec_receive_packet(encoder.get(), packet.get());
    if (rc < 0) fail_av(fmt::format("cannot encode frame {}", frames), rc);
    file_path = temp.native();
    file_path += '/';
    append_file_name(naming, frames, file_path);
    write_file(file_path, packet->data, size_t(packet->size));
    av_packet_unref(packet.get());
    ++frames;
  }

  void move_frames_into_target() {
    for (int64_t i = 0; i < frames; ++i) {
      const std::string name = naming.file_name(i);
      const fs::path from = temp / name;
      const fs::path to = target / name;
      if (std::rename(from.c_str(), to.c_str()) != 0) {
        fail(fmt::format("cannot move '{}' to '{}': {}", from.string(), to.string(),
                         std::strerror(errno)));
      }
    }
    std::error_code error;
    fs::remove(temp, error);
    if (!options.overwrite) return;
    // Frames of an earlier, longer sequence (or differently padded names) would read as part of
    // this one.
    for (const std::string& name : existing_frames()) {
      const std::string_view number(name.data() + naming.prefix.size(),
                                    name.size() - naming.prefix.size() - naming.suffix.size());
      int64_t index = -1;
      if (number.size() <= 18) {
        index = 0;
        for (char c : number) index = index * 10 + (c - '0');
      }
      if (index >= 0 && index < frames && name == naming.file_name(index)) continue;
      fs::remove(target / name, error);
      if (error) {
        fail(fmt::format("cannot remove the old frame '{}': {}", (target / name).string(),
                         error.message()));
      }
    }
  }

  void finish() {
    if (finished) fail("already finished");
    std::error_code error;
    if (!target_existed && !fs::exists(target, error)) {
      if (std::rename(temp.c_str(), target.c_str()) == 0) {
        finished = true;
        return;
      }
      if (errno != EEXIST && errno != ENOTEMPTY) {
        fail(fmt::format("cannot rename '{}' to '{}': {}", temp.string(), target.string(),
                         std::strerror(errno)));
      }
      // The folder appeared meanwhile: move the frames into it instead.
    }
    move_frames_into_target();
    finished = true;
  }
};

ImageSequenceWriter::ImageSequenceWriter(const std::string& path,
                                         const ImageSequenceOptions& options)
    : impl_(std::make_unique<Impl>()) {
  install_av_log_capture();
  take_av_log_errors();  // drop what earlier, unrelated calls left
  impl_->path = path;
  impl_->options = options;
  std::optional<SequenceNaming> naming = parse_sequence_path(path);
  if (!naming) {
    impl_->fail(
        "not a PNG sequence path (a folder, a path ending in '/', or a pattern such as "
        "out/%05d.png)");
  }
  impl_->naming = std::move(*naming);
  impl_->open();
}

ImageSequenceWriter::~ImageSequenceWriter() = default;

void ImageSequenceWriter::write(const uint8_t* pixels, ptrdiff_t stride) {
  impl_->write(pixels, stride);
}
void ImageSequenceWriter::finish() { impl_->finish(); }
const std::string& ImageSequenceWriter::path() const { return impl_->path; }
const SequenceNaming& ImageSequenceWriter::naming() const { return impl_->naming; }
int64_t ImageSequenceWriter::frames_written() const { return impl_->frames; }

}  // namespace mattecast
