// Run configuration JSON (config.json, --config): parse, validate, and check that what parsed
// survives a round trip through toJson.
#include "fuzz.h"

#include <cstdio>
#include <cstdlib>

#include "infomax/config.h"
#include "infomax/error.h"

namespace infomax::fuzz {

void config(const std::uint8_t* data, std::size_t size) {
  const TrainConfig c = TrainConfig::fromJson(std::string(view(data, size)), "fuzz.json");
  const std::string text = c.toJson();
  const TrainConfig again = TrainConfig::fromJson(text, "round trip");
  if (again.toJson() != text) {
    std::fprintf(stderr, "config round trip changed:\n%s\n---\n%s\n", text.c_str(),
                 again.toJson().c_str());
    std::abort();
  }
  c.validate();
  c.totalSteps(60000);
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::config)
