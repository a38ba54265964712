// Replays every fuzz seed (fuzz/corpus/<target>/) and every input a fuzzer once crashed on
// (fuzz/regressions/<target>/) through the fuzz targets' own entry points, in the normal build:
// each must end in success or an infomax::Error.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <QTest>

#include "fuzz.h"
#include "infomax/error.h"

namespace fs = std::filesystem;

namespace {
struct Target {
  const char* name;
  infomax::fuzz::Entry entry;
};
const Target kTargets[] = {
    {"idx", infomax::fuzz::idx},
    {"cifar", infomax::fuzz::cifar},
    {"stl10", infomax::fuzz::stl10},
    {"image_folder", infomax::fuzz::imageFolder},
    {"config", infomax::fuzz::config},
    {"architecture", infomax::fuzz::architecture},
    {"checkpoint", infomax::fuzz::checkpoint},
    {"checkpoint_archive", infomax::fuzz::checkpointArchive},
    {"metrics_csv", infomax::fuzz::metricsCsv},
};
}  // namespace

class TestFuzzRegressions : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void replay_data() {
    QTest::addColumn<int>("target");
    QTest::addColumn<QString>("file");
    const fs::path root = fs::path(qEnvironmentVariable("INFOMAX_SOURCE_DIR").toStdString()) / "fuzz";
    int rows = 0;
    for (int t = 0; t < static_cast<int>(std::size(kTargets)); ++t)
      for (const char* kind : {"corpus", "regressions"}) {
        const fs::path dir = root / kind / kTargets[t].name;
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
          const std::string row = std::string(kind) + "/" + kTargets[t].name + "/" +
                                  f.filename().string();
          QTest::newRow(row.c_str()) << t << QString::fromStdString(f.string());
          ++rows;
        }
      }
    QVERIFY2(rows > 50, "fuzz/corpus not found: is INFOMAX_SOURCE_DIR set?");
  }

  void replay() {
    QFETCH(int, target);
    QFETCH(QString, file);
    std::ifstream in(file.toStdString(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Anything but infomax::Error escaping here (or a crash) fails the test.
    infomax::fuzz::runOne(kTargets[target].entry, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                          bytes.size());
  }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
