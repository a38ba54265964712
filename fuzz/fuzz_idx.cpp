// IDX reader (MNIST / Fashion-MNIST, raw or gzip): the input is the images file; after the
// marker "#LABELS#" (plain IDX names) or "#FLABEL#" (a Fashion-MNIST folder name, which turns
// on the 0..9 label check) comes the labels file. gzread passes raw bytes through, so inputs
// starting with the gzip magic exercise zlib's inflate and the .gz paths.
#include "fuzz.h"

#include "infomax/imageset.h"

namespace infomax::fuzz {

void idx(const std::uint8_t* data, std::size_t size) {
  clearScratch();
  Split s = splitAt(view(data, size), "#LABELS#");
  bool fashion = false;
  if (!s.found) {
    s = splitAt(view(data, size), "#FLABEL#");
    fashion = s.found;
  }
  const std::string dir = fashion ? "fashion-mnist/" : "mnist/";
  const bool gz = s.first.size() >= 2 && static_cast<unsigned char>(s.first[0]) == 0x1f &&
                  static_cast<unsigned char>(s.first[1]) == 0x8b;
  const std::string ext = gz ? ".gz" : "";
  const std::string images = writeScratch(dir + "train-images-idx3-ubyte" + ext, s.first);
  if (s.found) writeScratch(dir + "train-labels-idx1-ubyte" + ext, s.second);

  DataSpec spec;
  spec.path = images;
  ImageSet set = loadImageSet(spec);
  // The folder form finds the same files by split name.
  spec.path = scratchDir() + "/" + dir;
  spec.limit = 1;
  set = loadImageSet(spec);
  describe(set);
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::idx)
