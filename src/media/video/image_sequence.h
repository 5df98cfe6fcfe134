// PNG sequences as an output: one PNG per frame in a folder, the folder appearing (or its frames
// being replaced) only when the sequence is finished.
//
// Output paths (see is_image_sequence_path() in frame_sink.h):
//   "out/" or an existing folder "out"   out/000000.png, out/000001.png, ... (6 digits)
//   "out/frame_%05d.png"                  out/frame_00000.png, out/frame_00001.png, ...
// Frames are numbered from 0 in the order written (the number is the frame's index, not its pts;
// PNGs carry no timestamps). FFmpeg's image2 muxer starts at 1 by default, but its demuxer (and
// so VideoReader) finds a sequence starting at 0 just as well, and 0 matches VideoFrame::index
// and `mattecast infer`'s pha_000.npy. A pattern holds exactly one %d, %Nd or %0Nd (zero-padded
// to N digits) in the file name, "%%" for a literal '%', and ends in .png.
//
// Pixels: RGB for rgb24, RGBA for rgba, 8-bit gray for gray8, 16-bit gray for gray16 (host byte
// order in memory, big-endian in the file as PNG requires). Encoded by libavcodec's PNG encoder
// at zlib level 1 with the "up" prediction filter: at 720p about 2.4 ms for a matte and 40 ms for
// an RGB frame on one core, where the defaults (level 6, no filter) take 5 and 95 ms and give
// files 0-20 % larger; Paeth at level 6 (what write_png_*() in image.h use) is 2-5x slower still.
//
// Atomicity: frames go into a hidden temporary folder ".<name>.mattecast-tmp-XXXXXX". When the
// target folder does not exist yet, the temporary sits beside it (missing parent folders are
// created, and removed again if the sequence is abandoned) and finish() renames it to the target.
// When the target folder exists, the temporary sits inside it (same file system even for a mount
// point) and finish() moves the frames out of it into the folder. A writer destroyed before
// finish() removes its temporary folder and leaves nothing behind.
//
// Existing frames: a target that already holds files named like this sequence's frames (for
// "out/", NNNNNN.png with 6 or more digits; for a pattern, its prefix, digits and suffix) is
// refused with an Error unless `overwrite`; with `overwrite`, finish() replaces them, and removes
// those of them that the new sequence does not rewrite (a shorter sequence leaves no stale frames
// behind). Other files in the folder are never touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "video/video_writer.h"

namespace mattecast {

// Where the frames of a sequence go, parsed from an output path.
struct SequenceNaming {
  std::string folder;  // the target folder ("." when the pattern has none)
  std::string prefix;  // of each file name, before the frame number
  std::string suffix;  // after it, e.g. ".png"
  int digits = 0;      // zero-padded to this many digits (0: no padding)

  std::string file_name(int64_t index) const;
  // A file name this sequence would write (for some number), as far as the name shows.
  bool matches(const std::string& name) const;
};

// The naming of a sequence path; nullopt when `path` is not one (see is_image_sequence_path()).
// Throws Error naming the path for a malformed pattern: several numbers, a number outside the
// file name, or an extension other than .png.
std::optional<SequenceNaming> parse_sequence_path(const std::string& path);

struct ImageSequenceOptions {
  int width = 0;
  int height = 0;
  PixelLayout layout = PixelLayout::rgb24;
  bool overwrite = false;
};

class ImageSequenceWriter {
 public:
  // Throws Error naming the path: not a sequence path, a bad size, existing frames without
  // `overwrite`, a target that is a file, or a folder where the temporary cannot be created.
  ImageSequenceWriter(const std::string& path, const ImageSequenceOptions& options);
  ~ImageSequenceWriter();  // without finish(): removes the temporary folder
  ImageSequenceWriter(const ImageSequenceWriter&) = delete;
  ImageSequenceWriter& operator=(const ImageSequenceWriter&) = delete;

  // Encodes the next frame (width x height in the layout, rows `stride` bytes apart) into the
  // temporary folder. Allocates nothing of its own in steady state.
  void write(const uint8_t* pixels, ptrdiff_t stride);
  // Moves the frames into place (see above).
  void finish();

  const std::string& path() const;
  const SequenceNaming& naming() const;
  int64_t frames_written() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mattecast
