#pragma once
// infomax::Error: the one exception type the engine throws; its message names the file or
// setting and the problem, ready to show to a user as one line.

#include <stdexcept>
#include <string>

namespace infomax {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when training produced a non-finite loss or gradient that could not be recovered.
class DivergenceError : public Error {
 public:
  using Error::Error;
};

}  // namespace infomax
