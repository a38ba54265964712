// CIFAR-10 / CIFAR-100 binary reader: the first byte picks the variant (even: CIFAR-10 as
// data_batch_1.bin, odd: CIFAR-100 as train.bin); the rest is the file. After the marker
// "#NAMES#" comes a fine_label_names.txt for CIFAR-100.
#include "fuzz.h"

#include "infomax/imageset.h"

namespace infomax::fuzz {

void cifar(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  clearScratch();
  const bool cifar100 = data[0] & 1;
  const Split s = splitAt(view(data + 1, size - 1), "#NAMES#");
  const std::string file = writeScratch(cifar100 ? "train.bin" : "data_batch_1.bin", s.first);
  if (s.found) writeScratch("fine_label_names.txt", s.second);

  DataSpec spec;
  spec.path = file;
  spec.format = DataFormat::Auto;
  ImageSet set = loadImageSet(spec);
  describe(set);
  spec.format = cifar100 ? DataFormat::Cifar100 : DataFormat::Cifar10;
  spec.limit = 2;
  set = loadImageSet(spec);
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::cifar)
