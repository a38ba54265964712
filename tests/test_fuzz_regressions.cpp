// Replays every fuzz seed (fuzz/corpus/<target>/) and every input a fuzzer once crashed on
// (fuzz/regressions/<target>/) through the fuzz targets' own entry points, in the normal build:
// each must end in success or an infomax::Error.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
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
std::string readAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

fs::path fuzzDir() {
  return fs::path(qEnvironmentVariable("INFOMAX_SOURCE_DIR").toStdString()) / "fuzz";
}

// Where the central directory entry of `name` starts in a zip, or npos.
std::size_t directoryEntry(const std::string& zip, const std::string& name) {
  const std::string sig("PK\x01\x02", 4);
  for (std::size_t p = zip.find(sig); p != std::string::npos; p = zip.find(sig, p + 4)) {
    const std::size_t len =
        static_cast<unsigned char>(zip[p + 28]) | static_cast<unsigned char>(zip[p + 29]) << 8;
    if (zip.compare(p + 46, len, name) == 0 && len == name.size()) return p;
  }
  return std::string::npos;
}

void putU32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

// Hand-made lies in the seed archive fuzz/corpus/checkpoint_archive/tiny (metadata, #ARCHIVE#,
// the zip OutputArchive wrote for a tiny model). `pkl` is where data.pkl starts; its opcodes at
// the offsets used: 22 EMPTY_TUPLE, 26 BINUNICODE 'model/encoder.local.weight', 150 BININT1 36
// (the first storage's element count, 144 bytes of floats), 159 its sizes (4, 1, 3, 3),
// 180 'collections', 243 BINGET 2, 25 the MARK of the module's SETITEMS, last byte STOP.
struct Lie {
  const char* name;
  std::function<void(std::string& input, std::size_t pkl, std::size_t zip)> apply;
  const char* expected;
};
const Lie kLies[] = {
    {"string length past the end",
     [](std::string& s, std::size_t pkl, std::size_t) { putU32(s, pkl + 27, 0x7fffffff); },
     "data.pkl byte 26: length 2147483647 but"},
    {"storage larger than its record",
     [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 151] = '\xff'; },
     "storage 0 of 255 x 4 bytes in a record of 144"},
    {"tensor view past its storage",
     [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 160] = 5; },
     "tensor view reaches past its storage of 36 elements"},
    {"unknown opcode", [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 22] = '\xff'; },
     "data.pkl byte 22: unknown opcode 0xff"},
    {"no STOP",
     [](std::string& s, std::size_t pkl, std::size_t zip) {
       const std::size_t e = directoryEntry(s.substr(zip), "archive/data.pkl");
       std::uint32_t n = 0;
       std::memcpy(&n, s.data() + zip + e + 20, 4);
       s[pkl + n - 1] = 'N';
     },
     "truncated (no STOP)"},
    {"unexpected global", [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 190] = 'z'; },
     "unexpected global collectionz.OrderedDict"},
    {"memo read out of range",
     [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 244] = '\xfe'; },
     "memo index 254 out of range"},
    {"SETITEMS without MARK",
     [](std::string& s, std::size_t pkl, std::size_t) { s[pkl + 25] = 'N'; },
     "SETITEMS without MARK"},
    {"stored record size lie",
     [](std::string& s, std::size_t, std::size_t zip) {
       putU32(s, zip + directoryEntry(s.substr(zip), "archive/data/0") + 24, 0xfffffff0u);
     },
     "stored record archive/data/0 claims 4294967280 bytes in 144"},
    {"compressed record size lie",
     [](std::string& s, std::size_t, std::size_t zip) {
       putU32(s, zip + directoryEntry(s.substr(zip), "archive/code/__torch__.py") + 24,
              0x7fffffffu);
     },
     "compressed record archive/code/__torch__.py claims 2147483647 bytes from 368"},
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
    const fs::path root = fuzzDir();
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
    const std::string bytes = readAll(file.toStdString());
    // Anything but infomax::Error escaping here (or a crash) fails the test.
    infomax::fuzz::runOne(kTargets[target].entry, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                          bytes.size());
  }

  // Lengths, sizes and memo indices in a tensor archive are checked against the bytes present
  // before LibTorch reads the archive (docs/RELIABILITY.md): each lie is refused by name.
  void craftedArchiveIsRefused_data() {
    QTest::addColumn<int>("lie");
    for (int i = 0; i < static_cast<int>(std::size(kLies)); ++i) QTest::newRow(kLies[i].name) << i;
    QTest::newRow("memo write far out of range (regression)") << -1;
  }

  void craftedArchiveIsRefused() {
    QFETCH(int, lie);
    std::string input;
    std::string expected;
    if (lie < 0) {
      input = readAll(fuzzDir() / "regressions/checkpoint_archive/unpickler-huge-allocation");
      expected = "data.pkl byte 3514: memo index 1851746403 out of range (memo holds 168)";
    } else {
      input = readAll(fuzzDir() / "corpus/checkpoint_archive/tiny");
      const std::size_t zip = input.find("#ARCHIVE#") + 9;
      const std::size_t pkl =
          input.find(std::string("\x80\x02"
                                 "c__torch__\nModule\nq\0)\x81}(X",
                                 27));
      QVERIFY(zip > 9 && pkl != std::string::npos);
      kLies[lie].apply(input, pkl, zip);
      expected = kLies[lie].expected;
    }
    try {
      infomax::fuzz::checkpointArchive(reinterpret_cast<const std::uint8_t*>(input.data()),
                                       input.size());
      QFAIL("a crafted archive was accepted");
    } catch (const infomax::Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("corrupt tensor archive (") != std::string::npos, e.what());
      QVERIFY2(what.find(expected) != std::string::npos, e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
