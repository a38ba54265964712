#pragma once
// Versions of the libraries the engine was built against, for About boxes and bug reports.
// Thread rules: free function, safe from any thread.

#include <string>

namespace infomax {

// One line such as "LibTorch 1.13.1, OpenCV 4.6.0".
std::string libraryVersions();

}  // namespace infomax
