// Image-folder reader (OpenCV decoding): the first byte picks the file extension (so the
// matching OpenCV decoder is tried first) and a resize; the rest is one or two images in a
// class sub-folder, split at the marker "#NEXT#" (two images exercise the size check).
#include "fuzz.h"

#include <array>

#include "infomax/imageset.h"

namespace infomax::fuzz {

void imageFolder(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  static const std::array<const char*, 8> exts = {".png", ".jpg", ".bmp", ".pgm",
                                                  ".ppm", ".tif", ".webp", ".pnm"};
  clearScratch();
  const std::string ext = exts[data[0] % exts.size()];
  const int resize = (data[0] & 0x80) ? 8 : 0;
  const Split s = splitAt(view(data + 1, size - 1), "#NEXT#");
  writeScratch("images/a/0" + ext, s.first);
  if (s.found) writeScratch("images/b/1" + ext, s.second);

  DataSpec spec;
  spec.path = scratchDir() + "/images";
  spec.format = DataFormat::Folder;
  spec.resize = resize;
  const ImageSet set = loadImageSet(spec);
  describe(set);
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::imageFolder)
