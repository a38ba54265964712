// STL-10 binary reader: the input is train_X.bin; after the marker "#LABELS#" comes train_y.bin.
#include "fuzz.h"

#include "infomax/imageset.h"

namespace infomax::fuzz {

void stl10(const std::uint8_t* data, std::size_t size) {
  clearScratch();
  const Split s = splitAt(view(data, size), "#LABELS#");
  const std::string file = writeScratch("stl10_binary/train_X.bin", s.first);
  if (s.found) writeScratch("stl10_binary/train_y.bin", s.second);

  DataSpec spec;
  spec.path = file;
  ImageSet set = loadImageSet(spec);
  describe(set);
  if (s.found) {  // the folder form needs the labels file for the train split
    spec.path = scratchDir();
    spec.limit = 1;
    set = loadImageSet(spec);
  }
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::stl10)
