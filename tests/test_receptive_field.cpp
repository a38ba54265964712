// Tests of receptive fields: the theoretical field of every layer against published figures
// (Araujo et al., Distill 2019) and hand computation, the location -> input rectangle mapping,
// the local-field warning, and the effective receptive field (Luo et al. 2016) by autograd,
// which must vanish outside the theoretical rectangle.
#include <QtTest>

#include <algorithm>
#include <random>

#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include "infomax/architecture.h"
#include "infomax/config.h"
#include "infomax/effectivefield.h"
#include "infomax/error.h"
#include "infomax/imageset.h"
#include "infomax/trainer.h"

using namespace infomax;

namespace {

QString readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

// The architecture JSON of a preset name or of a file in tests/data.
std::string archText(const QString& arch) {
  if (arch.endsWith(QLatin1String(".json"))) {
    const QString path = QFINDTESTDATA(QStringLiteral("data/") + arch);
    return readText(path).toStdString();
  }
  return presetJson(arch.toStdString());
}

// Every layer type with a field of its own: conv with and without padding, max- and
// average-pooling with padding, a stride larger than the kernel (a field with holes), residual
// blocks with and without a shortcut conv, batch norm, leaky ReLU.
const char* kMixedArch = R"({
  "name": "mixed",
  "input": {"height": 23, "width": 19},
  "layers": [
    {"type": "conv", "out": 6, "kernel": 3, "stride": 1, "padding": 0},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1, "name": "mp"},
    {"type": "residual", "out": 6, "name": "res1"},
    {"type": "residual", "out": 8, "stride": 2, "kernel": 5, "name": "res2"},
    {"type": "avgpool", "kernel": 2, "stride": 1, "padding": 1, "name": "ap"},
    {"type": "conv", "out": 8, "kernel": 1, "stride": 2, "name": "holes"},
    {"type": "leakyrelu", "name": "local"},
    {"type": "flatten"},
    {"type": "linear", "out": 8, "name": "y"}
  ],
  "outputs": {"local": "local", "y": "y"}
})";

// No ReLU (which may switch off a border pixel's path) and no max-pooling (which picks one
// pixel per window): here every pixel of a field moves the feature, so the non-zero part of the
// effective field has exactly the theoretical rectangle (clipped to the image) as bounding box.
const char* kSmoothArch = R"({
  "name": "smooth",
  "input": {"height": 21, "width": 17},
  "layers": [
    {"type": "conv", "out": 4, "kernel": 3, "stride": 1, "padding": 1},
    {"type": "batchnorm"}, {"type": "leakyrelu", "slope": 0.3},
    {"type": "avgpool", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "conv", "out": 6, "kernel": 4, "stride": 2, "padding": 2},
    {"type": "leakyrelu", "name": "local"},
    {"type": "conv", "out": 6, "kernel": 2, "stride": 1, "padding": 0, "name": "c3"},
    {"type": "flatten"},
    {"type": "linear", "out": 5, "name": "y"}
  ],
  "outputs": {"local": "local", "y": "y"}
})";

std::vector<float> randomImage(int c, int h, int w, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(c) * h * w);
  for (float& x : v) x = u(gen);
  return v;
}

// Checks one effective field against its theoretical rectangle; returns an empty string or
// what is wrong.
QString checkInside(const ArchitectureInfo& info, const std::vector<float>& erf,
                    const InputRegion& r, const QString& where, bool exactBox) {
  const int h = info.inHeight, w = info.inWidth;
  if (static_cast<int>(erf.size()) != h * w)
    return where + QStringLiteral(": %1 values, expected %2").arg(erf.size()).arg(h * w);
  int minY = h, maxY = -1, minX = w, maxX = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float v = erf[static_cast<std::size_t>(y) * w + x];
      if (!(v >= 0)) return where + QStringLiteral(": negative or NaN at (%1, %2)").arg(y).arg(x);
      if (v == 0) continue;
      const bool inside = y >= r.top && y < r.bottom && x >= r.left && x < r.right;
      if (!inside)
        return where + QStringLiteral(": %1 at (%2, %3), outside rows [%4, %5) cols [%6, %7)")
                           .arg(v)
                           .arg(y)
                           .arg(x)
                           .arg(r.top)
                           .arg(r.bottom)
                           .arg(r.left)
                           .arg(r.right);
      minY = std::min(minY, y);
      maxY = std::max(maxY, y);
      minX = std::min(minX, x);
      maxX = std::max(maxX, x);
    }
  if (maxY < 0) return where + QStringLiteral(": zero everywhere");
  if (exactBox) {
    const int top = std::max(0, r.top), left = std::max(0, r.left);
    const int bottom = std::min(h, r.bottom), right = std::min(w, r.right);
    if (minY != top || maxY + 1 != bottom || minX != left || maxX + 1 != right)
      return where + QStringLiteral(
                         ": non-zero box rows [%1, %2) cols [%3, %4), theory [%5, %6) "
                         "[%7, %8)")
                         .arg(minY)
                         .arg(maxY + 1)
                         .arg(minX)
                         .arg(maxX + 1)
                         .arg(top)
                         .arg(bottom)
                         .arg(left)
                         .arg(right);
  }
  return {};
}

// A few locations of a layer: the corners, the centre and one off-centre.
QList<QPair<int, int>> sampleLocations(const LayerInfo& l) {
  QList<QPair<int, int>> locs{{0, 0},
                              {l.height - 1, l.width - 1},
                              {0, l.width - 1},
                              {l.height / 2, l.width / 2},
                              {l.height / 3, (2 * l.width) / 3}};
  std::sort(locs.begin(), locs.end());
  locs.erase(std::unique(locs.begin(), locs.end()), locs.end());
  return locs;
}

}  // namespace

class TestReceptiveField : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // ---- the theoretical field, layer by layer ---------------------------------------------

  void layerFields_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("channels");
    QTest::addColumn<QString>("layer");
    QTest::addColumn<QList<int>>("expected");  // map size, RF size, jump, first pixel (top)

    // AlexNet (227x227): RF_l = RF_{l-1} + (k_l - 1) * jump_{l-1}, jump_l = jump_{l-1} * s_l,
    // top_l = top_{l-1} - p_l * jump_{l-1}. Araujo et al. (Distill 2019, Table 1, TF-Slim
    // alexnet_v2) publish the final values: RF 195, effective stride 32, effective padding 64
    // (pool5 row). The per-layer rows are derived by hand with the recursion above.
    QTest::newRow("alexnet conv1") << "alexnet.json" << 3 << "conv1" << QList<int>{55, 11, 4, 0};
    QTest::newRow("alexnet pool1") << "alexnet.json" << 3 << "pool1" << QList<int>{27, 19, 8, 0};
    QTest::newRow("alexnet conv2") << "alexnet.json" << 3 << "conv2" << QList<int>{27, 51, 8, -16};
    QTest::newRow("alexnet pool2") << "alexnet.json" << 3 << "pool2" << QList<int>{13, 67, 16, -16};
    QTest::newRow("alexnet conv3") << "alexnet.json" << 3 << "conv3" << QList<int>{13, 99, 16, -32};
    QTest::newRow("alexnet conv4")
        << "alexnet.json" << 3 << "conv4" << QList<int>{13, 131, 16, -48};
    QTest::newRow("alexnet conv5")
        << "alexnet.json" << 3 << "conv5" << QList<int>{13, 163, 16, -64};
    QTest::newRow("alexnet pool5") << "alexnet.json" << 3 << "pool5" << QList<int>{6, 195, 32, -64};

    // VGG-16 (224x224): published (Araujo et al., Table 1, vgg_16): RF 212, effective stride
    // 32, effective padding 90 at pool5; conv5_3 (196, 16) and the rest by hand.
    const QList<QPair<const char*, QList<int>>> vgg = {
        {"conv1_1", {224, 3, 1, -1}},    {"conv1_2", {224, 5, 1, -2}},
        {"pool1", {112, 6, 2, -2}},      {"conv2_1", {112, 10, 2, -4}},
        {"conv2_2", {112, 14, 2, -6}},   {"pool2", {56, 16, 4, -6}},
        {"conv3_1", {56, 24, 4, -10}},   {"conv3_2", {56, 32, 4, -14}},
        {"conv3_3", {56, 40, 4, -18}},   {"pool3", {28, 44, 8, -18}},
        {"conv4_1", {28, 60, 8, -26}},   {"conv4_2", {28, 76, 8, -34}},
        {"conv4_3", {28, 92, 8, -42}},   {"pool4", {14, 100, 16, -42}},
        {"conv5_1", {14, 132, 16, -58}}, {"conv5_2", {14, 164, 16, -74}},
        {"conv5_3", {14, 196, 16, -90}}, {"pool5", {7, 212, 32, -90}}};
    for (const auto& [name, values] : vgg)
      QTest::newRow(qPrintable(QStringLiteral("vgg16 ") + QLatin1String(name)))
          << "vgg16.json" << 3 << QString::fromLatin1(name) << values;

    // The presets, by hand (also in test_architecture.cpp and docs/ARCHITECTURES.md).
    // dcgan32: conv 4-2-1 twice: RF 4, 4 + 3*2 = 10; top -1, -1 - 1*2 = -3; then 10 + 3*4 = 22.
    QTest::newRow("dcgan32 local") << "dcgan32" << 1 << "local" << QList<int>{8, 10, 4, -3};
    QTest::newRow("dcgan32 conv") << "dcgan32" << 1 << "conv" << QList<int>{4, 22, 8, -7};
    // dcgan28: conv 5-2-2 twice: 5, 5 + 4*2 = 13; top -2, -2 - 2*2 = -6.
    QTest::newRow("dcgan28 local") << "dcgan28" << 1 << "local" << QList<int>{7, 13, 4, -6};
    // alex64: conv3 p1 (3, -1), pool 3/2/1 (5, -2, j2), conv3 (9, -4), pool (13, -6, j4),
    // conv3 (21, -10); conv4 (29, -14), conv5 (37, -18), pool (45, -22, j8).
    QTest::newRow("alex64 local") << "alex64" << 3 << "local" << QList<int>{16, 21, 4, -10};
    QTest::newRow("alex64 conv") << "alex64" << 3 << "conv" << QList<int>{8, 45, 8, -22};
    // resnet32: stem 3 (-1); two blocks at jump 1: +2+2 each -> 11 (-5); 128 s2 block: +2 (-6),
    // jump 2, +4 (-8) -> 17; block: +4+4 -> 25 (-12); 256 s2 block: +4 (-14), jump 4, +8 (-18)
    // -> 37; conv: +8 (-22), jump 8, +16 (-30) -> 61.
    QTest::newRow("resnet32 local") << "resnet32" << 3 << "local" << QList<int>{8, 37, 4, -18};
    QTest::newRow("resnet32 conv") << "resnet32" << 3 << "conv" << QList<int>{4, 61, 8, -30};
  }
  void layerFields() {
    QFETCH(QString, arch);
    QFETCH(int, channels);
    QFETCH(QString, layer);
    QFETCH(QList<int>, expected);
    const std::string text = archText(arch);
    QVERIFY2(!text.empty(), qPrintable(arch));
    int h = 0, w = 0;
    declaredInputSize(text, h, w);
    const ArchitectureInfo info = analyzeArchitecture(text, channels, h, w, arch.toStdString());
    const LayerInfo& l = info.layer(layer.toStdString());
    QCOMPARE(l.height, expected[0]);
    QCOMPARE(l.width, expected[0]);
    QCOMPARE(l.rfSize, double(expected[1]));
    QCOMPARE(l.rfHeight, expected[1]);
    QCOMPARE(l.rfWidth, expected[1]);
    QCOMPARE(l.rfJump, double(expected[2]));
    QCOMPARE(l.rfTop, expected[3]);
    QCOMPARE(l.rfLeft, expected[3]);
    // Araujo's centre of location 0's field: top + (size) / 2 in pixel-edge coordinates.
    QCOMPARE(l.rfStart, expected[3] + expected[1] / 2.0);
  }

  // Activations and batch norm keep the field of the layer before them.
  void pointwiseLayersKeepTheField() {
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    for (std::size_t i = 1; i < info.layers.size(); ++i) {
      const LayerInfo& l = info.layers[i];
      const LayerInfo& prev = info.layers[i - 1];
      if (l.type == "relu" || l.type == "batchnorm" || l.type == "leakyrelu" ||
          l.type == "linear") {
        QCOMPARE(l.rfHeight, prev.rfHeight);
        QCOMPARE(l.rfTop, prev.rfTop);
        QCOMPARE(l.rfJump, prev.rfJump);
      }
    }
  }

  // A flat layer sees the hull of the fields of the map it flattened.
  void flatLayerSeesTheHull() {
    // dcgan32's conv map is 4x4 with field 22, jump 8, top -7: rows [-7, -7 + 3*8 + 22).
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    for (const char* name : {"flatten1", "fc", "y"}) {
      const LayerInfo& l = info.layer(name);
      QVERIFY(l.flat);
      QCOMPARE(l.rfTop, -7);
      QCOMPARE(l.rfHeight, 46);
      QCOMPARE(l.rfWidth, 46);
      QCOMPARE(l.rfJump, 0.0);
      const InputRegion r = receptiveField(info, name, 0, 0);
      QCOMPARE(r.top, -7);
      QCOMPARE(r.bottom, 39);
      QCOMPARE(r.coverage, 1.0);
    }
    // A non-square input gives a non-square hull.
    const ArchitectureInfo wide = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 48);
    QCOMPARE(wide.layer("y").rfHeight, 46);
    QCOMPARE(wide.layer("y").rfWidth, 5 * 8 + 22);
    QCOMPARE(wide.layer("y").rfSize, 62.0);
  }

  void mixedLayerTypes() {
    // Hand computation, one axis (input 23 rows):
    //   conv k3 p0:            RF 3, jump 1, top 0, map 21
    //   maxpool k3 s2 p1:      RF 3 + 2 = 5, jump 2, top -1, map 11
    //   res1 (k3 s1): conv1:   RF 5 + 2*2 = 9, top -1 - 2 = -3; conv2: 13, top -5; map 11
    //   res2 (k5 s2): conv1:   RF 13 + 4*2 = 21, top -5 - 2*2 = -9, jump 4; conv2: 21 + 4*4 = 37,
    //                          top -9 - 2*4 = -17; map 6
    //   avgpool k2 s1 p1:      RF 37 + 4 = 41, top -17 - 4 = -21, map 7
    //   conv k1 s2 ("holes"):  RF 41, jump 8, top -21, map 4
    const ArchitectureInfo info = analyzeArchitecture(kMixedArch, 1, 23, 19, "mixed");
    const QList<QPair<const char*, QList<int>>> rows = {
        {"mp", {11, 5, 2, -1}},  {"res1", {11, 13, 2, -5}},  {"res2", {6, 37, 4, -17}},
        {"ap", {7, 41, 4, -21}}, {"holes", {4, 41, 8, -21}}, {"local", {4, 41, 8, -21}}};
    for (const auto& [name, v] : rows) {
      const LayerInfo& l = info.layer(name);
      QVERIFY2(l.height == v[0] && l.rfHeight == v[1] && l.rfJump == v[2] && l.rfTop == v[3],
               qPrintable(QStringLiteral("%1: map %2 rf %3 jump %4 top %5")
                              .arg(QLatin1String(name))
                              .arg(l.height)
                              .arg(l.rfHeight)
                              .arg(l.rfJump)
                              .arg(l.rfTop)));
    }
  }

  // ---- location -> input rectangle ---------------------------------------------------------

  void locationToRectangle() {
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    // Location (0, 0) of the local map: rows and columns [-3, 7); 7 x 7 pixels are real.
    InputRegion r = receptiveField(info, "local", 0, 0);
    QCOMPARE(r.top, -3);
    QCOMPARE(r.left, -3);
    QCOMPARE(r.bottom, 7);
    QCOMPARE(r.right, 7);
    QCOMPARE(r.coverage, 49.0 / 1024.0);
    // (2, 7): rows [5, 15), columns [25, 35) -> 10 x 7 real pixels.
    r = receptiveField(info, "local", 2, 7);
    QCOMPARE(r.top, 5);
    QCOMPARE(r.bottom, 15);
    QCOMPARE(r.left, 25);
    QCOMPARE(r.right, 35);
    QCOMPARE(r.coverage, 70.0 / 1024.0);
    // The first convolution on a non-square input: k4 s2 p1, location (3, 5) sees rows [5, 9),
    // columns [9, 13).
    const ArchitectureInfo wide = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 40);
    r = receptiveField(wide, "conv1", 3, 5);
    QCOMPARE(r.top, 5);
    QCOMPARE(r.bottom, 9);
    QCOMPARE(r.left, 9);
    QCOMPARE(r.right, 13);
    QCOMPARE(r.coverage, 16.0 / (32.0 * 40.0));
  }

  void locationErrors() {
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    QVERIFY_THROWS_EXCEPTION(Error, receptiveField(info, "local", 8, 0));
    QVERIFY_THROWS_EXCEPTION(Error, receptiveField(info, "local", 0, -1));
    QVERIFY_THROWS_EXCEPTION(Error, receptiveField(info, "y", 0, 1));
    QVERIFY_THROWS_EXCEPTION(Error, receptiveField(info, "nope", 0, 0));
  }

  void coverageSummary() {
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    // Local map rows: [-3 + 4r, 7 + 4r) clipped to [0, 32): 7, 10 x 6, 7 -> sum 74, max 10.
    const FieldCoverage f = fieldCoverage(info, "local");
    QCOMPARE(f.locations, 64);
    QCOMPARE(f.max, 100.0 / 1024.0);
    QCOMPARE(f.mean, 74.0 * 74.0 / 1024.0 / 64.0);
    QCOMPARE(f.wholeInput, 0);
    const FieldCoverage y = fieldCoverage(info, "y");
    QCOMPARE(y.locations, 1);
    QCOMPARE(y.max, 1.0);
    QCOMPARE(y.wholeInput, 1);
  }

  // ---- the warning -------------------------------------------------------------------------

  void localFieldWarnings_data() {
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("size");
    QTest::addColumn<bool>("warns");
    QTest::newRow("dcgan32") << "dcgan32" << 32 << false;
    QTest::newRow("dcgan28") << "dcgan28" << 28 << false;
    QTest::newRow("alex64") << "alex64" << 64 << false;
    QTest::newRow("resnet32") << "resnet32" << 32 << true;
    // On a larger input resnet32's 37 px field is local again.
    QTest::newRow("resnet32 on 64") << "resnet32" << 64 << false;
    // dcgan28's 13 px field covers a 12 px image.
    QTest::newRow("dcgan28 on 12") << "dcgan28" << 12 << true;
  }
  void localFieldWarnings() {
    QFETCH(QString, preset);
    QFETCH(int, size);
    QFETCH(bool, warns);
    const ArchitectureInfo info =
        analyzeArchitecture(presetJson(preset.toStdString()), 1, size, size);
    const QString w = QString::fromStdString(localFieldWarning(info));
    QCOMPARE(!w.isEmpty(), warns);
    if (warns) {
      QVERIFY2(w.contains(QStringLiteral("local DIM then degenerates into global DIM")),
               qPrintable(w));
      QVERIFY2(!w.contains(QLatin1Char('\n')), qPrintable(w));
    }
    if (preset == QLatin1String("resnet32") && size == 32)
      // Rows [-18 + 4r, 19 + 4r): only r = 4 covers [0, 32); so one location of 64.
      QVERIFY2(
          w.contains(QStringLiteral("37 px")) && w.contains(QStringLiteral("all of it: 1 of 64")),
          qPrintable(w));
  }

  // ---- effective receptive field (autograd) --------------------------------------------------

  void effectiveFieldInsideTheory_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("channels");
    QTest::addColumn<bool>("exactBox");
    QTest::newRow("dcgan32") << "dcgan32" << 1 << false;
    QTest::newRow("dcgan28") << "dcgan28" << 1 << false;
    QTest::newRow("resnet32") << "resnet32" << 3 << false;
    QTest::newRow("mixed (maxpool, residual, holes)") << "mixed" << 2 << false;
    QTest::newRow("smooth (exact bounding box)") << "smooth" << 1 << true;
  }
  // For every spatial layer and a few locations: the effective field is zero outside the
  // theoretical rectangle and non-zero inside it. Every architecture has batch norm, so this
  // also checks eval mode: in training mode a batch of one normalises with statistics over all
  // locations, and every input pixel would reach every feature.
  void effectiveFieldInsideTheory() {
    QFETCH(QString, arch);
    QFETCH(int, channels);
    QFETCH(bool, exactBox);
    const std::string text = arch == QLatin1String("mixed")    ? std::string(kMixedArch)
                             : arch == QLatin1String("smooth") ? std::string(kSmoothArch)
                                                               : archText(arch);
    int h = 0, w = 0;
    declaredInputSize(text, h, w);
    auto field = EffectiveField::fromArchitecture(text, channels, h, w, 7);
    const ArchitectureInfo& info = field->architecture();
    QCOMPARE(info.inHeight, h);
    const std::vector<float> image = randomImage(channels, h, w, 3);
    int checked = 0;
    for (const LayerInfo& l : info.layers) {
      const QList<QPair<int, int>> locs =
          l.flat ? QList<QPair<int, int>>{{0, 0}} : sampleLocations(l);
      for (const auto& [row, col] : locs) {
        const std::vector<float> erf = field->compute(image, l.name, row, col);
        const InputRegion r = receptiveField(info, l.name, row, col);
        const QString where = QStringLiteral("%1 %2 (%3, %4)")
                                  .arg(arch, QString::fromStdString(l.name))
                                  .arg(row)
                                  .arg(col);
        const QString problem = checkInside(info, erf, r, where, exactBox && !l.flat);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        ++checked;
      }
    }
    QVERIFY(checked > 5);
  }

  // Every location of every spatial layer of the smooth network: the non-zero box is exactly
  // the clipped rectangle, including the locations whose field reaches into the padding.
  void effectiveFieldBoxIsExact() {
    auto field = EffectiveField::fromArchitecture(kSmoothArch, 1, 21, 17, 11);
    const ArchitectureInfo& info = field->architecture();
    const std::vector<float> image = randomImage(1, 21, 17, 5);
    for (const char* name : {"conv1", "avgpool1", "local", "c3"}) {
      const LayerInfo& l = info.layer(name);
      for (int row = 0; row < l.height; ++row)
        for (int col = 0; col < l.width; ++col) {
          const QString problem = checkInside(
              info, field->compute(image, name, row, col), receptiveField(info, name, row, col),
              QStringLiteral("%1 (%2, %3)").arg(QLatin1String(name)).arg(row).arg(col), true);
          QVERIFY2(problem.isEmpty(), qPrintable(problem));
        }
    }
  }

  void effectiveFieldIsDeterministic() {
    auto a = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 1);
    auto b = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 1);
    auto c = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 2);
    const std::vector<float> image = randomImage(1, 32, 32, 9);
    const auto ea = a->compute(image, "local", 3, 4);
    QVERIFY(ea == b->compute(image, "local", 3, 4));
    QVERIFY(ea == a->compute(image, "local", 3, 4));  // no state kept between calls
    QVERIFY(ea != c->compute(image, "local", 3, 4));  // the seed picks the weights
  }

  void effectiveFieldErrors() {
    auto field = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 0);
    const std::vector<float> image = randomImage(1, 32, 32, 1);
    QVERIFY_THROWS_EXCEPTION(Error, field->compute(randomImage(1, 28, 28, 1), "local", 0, 0));
    QVERIFY_THROWS_EXCEPTION(Error, field->compute(image, "nope", 0, 0));
    QVERIFY_THROWS_EXCEPTION(Error, field->compute(image, "local", 8, 0));
    QVERIFY_THROWS_EXCEPTION(Error, EffectiveField::fromArchitecture("{", 1, 32, 32, 0));
    QVERIFY_THROWS_EXCEPTION(Error, EffectiveField::fromCheckpoint("/nonexistent/run"));
  }

  // A trained checkpoint (batch-norm running statistics no longer the defaults) rebuilt the way
  // evaluation rebuilds it, with an image of the data set as the trainer feeds it.
  void effectiveFieldFromCheckpoint() {
    const QString data = qEnvironmentVariable("INFOMAX_FASHION_MNIST",
                                              QStringLiteral("/usr/share/datasets/fashion-mnist"));
    if (!QFileInfo::exists(data + QStringLiteral("/train-images-idx3-ubyte.gz")) &&
        !QFileInfo::exists(data + QStringLiteral("/train-images-idx3-ubyte")))
      QSKIP("Fashion-MNIST not found");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    TrainConfig cfg;
    cfg.dataPath = data.toStdString();
    cfg.dataLimit = 64;
    cfg.arch = "dcgan32";  // 28x28 images padded to 32x32
    cfg.batch = 16;
    cfg.headUnits = 32;
    cfg.steps = 2;
    cfg.threads = 1;
    cfg.outDir = dir.filePath(QStringLiteral("run")).toStdString();
    {
      Trainer trainer(cfg);
      const RunResult result = trainer.run();
      QVERIFY2(result.status == RunStatus::Finished, result.message.c_str());
    }
    auto field = EffectiveField::fromCheckpoint(cfg.outDir);
    const ArchitectureInfo& info = field->architecture();
    QCOMPARE(info.name, std::string("dcgan32"));
    QCOMPARE(info.inHeight, 32);
    DataSpec spec;
    spec.path = cfg.dataPath;
    spec.limit = 4;
    const ImageSet set = loadImageSet(spec);
    const std::vector<float> image = field->input(set, 1);
    QCOMPARE(static_cast<int>(image.size()), 32 * 32);
    QCOMPARE(image[0], -1.0f);  // the 2 px black border around a 28x28 image
    for (const char* layer : {"local", "conv"}) {
      const LayerInfo& l = info.layer(layer);
      for (const auto& [row, col] : sampleLocations(l)) {
        const QString problem = checkInside(
            info, field->compute(image, layer, row, col), receptiveField(info, layer, row, col),
            QStringLiteral("%1 (%2, %3)").arg(QLatin1String(layer)).arg(row).arg(col), false);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
      }
    }
    QVERIFY_THROWS_EXCEPTION(Error, field->input(set, 99));
  }
};

QTEST_GUILESS_MAIN(TestReceptiveField)
#include "test_receptive_field.moc"
