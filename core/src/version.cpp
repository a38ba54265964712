#include "infomax/version.h"

#include <torch/version.h>
#include <opencv2/core/version.hpp>

namespace infomax {

std::string libraryVersions() {
  return std::string("LibTorch ") + TORCH_VERSION + ", OpenCV " + CV_VERSION;
}

}  // namespace infomax
