// metrics.csv as the GUI reads it back (ui/metricscsv.cpp, compiled here from its source):
// the whole-file reader, and the follower that polls a growing file — fed the input in two
// appends (split at the marker "#MORE#") to exercise held-back partial lines and resets.
#include "fuzz.h"

#include <fstream>

#include "infomax/error.h"
#include "metricscsv.h"

namespace infomax::fuzz {

void metricsCsv(const std::uint8_t* data, std::size_t size) {
  clearScratch();
  const Split s = splitAt(view(data, size), "#MORE#");
  const std::string path = writeScratch("run/metrics.csv", s.first);
  const QString run = QString::fromStdString(scratchDir() + "/run");
  try {
    ui::MetricsCsvFollower follower(run);
    follower.poll();
    if (s.found) {
      std::ofstream(path, std::ios::binary | std::ios::app)
          .write(s.second.data(), static_cast<std::streamsize>(s.second.size()));
      follower.poll();
    }
    follower.pollToEnd();
  } catch (const Error&) {
    // Refused; the whole-file reader below gets its own chance.
  }
  ui::readMetricsCsv(QString::fromStdString(path));
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::metricsCsv)
