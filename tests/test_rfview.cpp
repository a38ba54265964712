// Tests of the receptive-field view (offscreen platform): the drawn field equals the theory, the
// effective field it shows lies inside it, layers, the whole-input warning, PNG export, errors,
// image files and data-set images as the encoder is fed them.

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include <QApplication>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "infomax/architecture.h"
#include "infomax/effectivefield.h"
#include "infomax/imageset.h"
#include "infomax/trainer.h"
#include "testsupport.h"

#include "receptivefieldview.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

using test::haveData;

// Two 5x5 convolutions on an 8x8 input: the local layer sees 9 px, the whole input.
const char* kWholeInputJson = R"({
  "name": "tinywide",
  "input": {"height": 8, "width": 8},
  "layers": [
    {"type": "conv", "out": 4, "kernel": 5, "stride": 1, "padding": 2},
    {"type": "relu"},
    {"type": "conv", "out": 4, "kernel": 5, "stride": 2, "padding": 2},
    {"type": "relu", "name": "local"},
    {"type": "flatten"},
    {"type": "linear", "out": 8, "name": "y"}
  ],
  "outputs": {"local": "local", "conv": "local", "fc": "y", "y": "y"}
})";

int distinctColours(const QImage& image) {
  std::set<QRgb> colours;
  for (int y = 0; y < image.height(); y += 2)
    for (int x = 0; x < image.width(); x += 2) colours.insert(image.pixel(x, y));
  return static_cast<int>(colours.size());
}

// To look at what a user sees: INFOMAX_RFVIEW_SCREENSHOTS=DIR saves the widget as DIR/TAG.png.
void saveScreenshot(QWidget& view, const QString& tag) {
  const QString dir = qEnvironmentVariable("INFOMAX_RFVIEW_SCREENSHOTS");
  if (!dir.isEmpty()) view.grab().save(dir + QLatin1Char('/') + tag + QStringLiteral(".png"));
}

ImageSet syntheticSet(int count, int channels, int height, int width) {
  ImageSet s;
  s.count = count;
  s.channels = channels;
  s.height = height;
  s.width = width;
  s.source = "synthetic";
  s.pixels.resize(s.imageBytes() * count);
  std::mt19937 rng(7);
  for (auto& p : s.pixels) p = static_cast<std::uint8_t>(rng() & 0xff);
  s.labels.assign(count, 3);
  return s;
}

// The ERF shown is zero outside the theoretical rectangle, carries mass inside it, and the
// view's share of mass inside is 100%.
void checkErfInsideField(const ReceptiveFieldView& view) {
  const ArchitectureInfo& info = view.architecture();
  const InputRegion r = view.currentRegion();  // the hovered location, else the pinned one
  const std::vector<float> erf = view.erfValues();
  QCOMPARE(static_cast<int>(erf.size()), info.inHeight * info.inWidth);
  double inside = 0;
  for (int y = 0; y < info.inHeight; ++y)
    for (int x = 0; x < info.inWidth; ++x) {
      const float v = erf[y * info.inWidth + x];
      QVERIFY(v >= 0);
      if (y >= r.top && y < r.bottom && x >= r.left && x < r.right)
        inside += v;
      else
        QCOMPARE(v, 0.0f);
    }
  QVERIFY(inside > 0);
  QCOMPARE(view.erfMassInside(), 1.0);
  const QImage heat = view.erfImage();
  QCOMPARE(heat.size(), QSize(info.inWidth, info.inHeight));
  // The colour map is transparent where the field is zero, opaque enough to see at its peak.
  int peak = 0;
  for (int y = 0; y < info.inHeight; ++y)
    for (int x = 0; x < info.inWidth; ++x) {
      peak = std::max(peak, qAlpha(heat.pixel(x, y)));
      if (erf[y * info.inWidth + x] == 0) QCOMPARE(qAlpha(heat.pixel(x, y)), 0);
    }
  QVERIFY(peak >= 200);
}

}  // namespace

class TestRfView : public QObject {
  Q_OBJECT
  QTemporaryDir m_settingsDir;
  QTemporaryDir m_tmp;

 private Q_SLOTS:
  void initTestCase() {
    // Keep the user's real settings out of (and untouched by) the tests.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("InfoMaxTest"));
    QCoreApplication::setApplicationName(QStringLiteral("test_rfview"));
    QVERIFY(m_tmp.isValid());
  }

  void defaultsToTheLocalLayer() {
    ReceptiveFieldView view;
    QSignalSpy loaded(&view, &ReceptiveFieldView::encoderLoaded);
    view.setArchitecture(QStringLiteral("dcgan28"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QCOMPARE(loaded.count(), 1);
    QCOMPARE(loaded.at(0).at(0).toBool(), true);
    QCOMPARE(view.currentLayer(), QStringLiteral("local"));
    QCOMPARE(view.mapHeight(), 7);
    QCOMPARE(view.mapWidth(), 7);
    QVERIFY(view.sourceText().contains(QStringLiteral("random weights")));
    // Only layers with a spatial map.
    const QStringList layers = view.layers();
    QVERIFY(layers.contains(QStringLiteral("local")));
    QVERIFY(!layers.contains(QStringLiteral("fc")));
    QVERIFY(!layers.contains(QStringLiteral("y")));
    QVERIFY(!view.setLayer(QStringLiteral("fc")));
    QVERIFY(!view.setLayer(QStringLiteral("nope")));
    QVERIFY(view.errorText().isEmpty());
  }

  void standaloneStartsWithARandomPreset() {
    ReceptiveFieldView view;
    view.show();
    QVERIFY(view.waitForEncoder());
    QCOMPARE(QString::fromStdString(view.architecture().name), QStringLiteral("dcgan28"));
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
  }

  void untrainedEncoderFollowsTheData() {
    ReceptiveFieldView view;
    view.show();  // standalone: auto → dcgan28 for 1x28x28
    QVERIFY(view.waitForEncoder());
    view.setImageSet(std::make_shared<const ImageSet>(syntheticSet(3, 3, 32, 32)));
    QVERIFY(view.waitForEncoder());
    QCOMPARE(QString::fromStdString(view.architecture().name), QStringLiteral("dcgan32"));
    QCOMPARE(view.architecture().inChannels, 3);
    QVERIFY2(view.errorText().isEmpty(), qPrintable(view.errorText()));
    QCOMPARE(static_cast<int>(view.input().size()), 3 * 32 * 32);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
  }

  void shownFieldEqualsTheory_data() {
    QTest::addColumn<QString>("layer");
    QTest::addColumn<int>("row");
    QTest::addColumn<int>("col");
    QTest::newRow("local centre") << "local" << 3 << 3;
    QTest::newRow("local corner (into padding)") << "local" << 0 << 0;
    QTest::newRow("local edge") << "local" << 6 << 2;
    QTest::newRow("conv1") << "conv1" << 5 << 9;
  }
  void shownFieldEqualsTheory() {
    QFETCH(QString, layer);
    QFETCH(int, row);
    QFETCH(int, col);
    ReceptiveFieldView view;
    QSignalSpy ready(&view, &ReceptiveFieldView::erfReady);
    view.setArchitecture(QStringLiteral("dcgan28"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QVERIFY2(view.setLayer(layer), qPrintable(view.layers().join(',')));
    QCOMPARE(view.currentLayer(), layer);
    view.setLocation(row, col);
    QCOMPARE(view.pinnedRow(), row);
    QCOMPARE(view.pinnedCol(), col);
    const ArchitectureInfo info = analyzeArchitecture(presetJson("dcgan28"), 1, 28, 28);
    const InputRegion want = receptiveField(info, layer.toStdString(), row, col);
    const InputRegion got = view.currentRegion();
    QCOMPARE(got.top, want.top);
    QCOMPARE(got.left, want.left);
    QCOMPARE(got.bottom, want.bottom);
    QCOMPARE(got.right, want.right);
    QCOMPARE(got.coverage, want.coverage);
    QCOMPARE(view.rfRectText(), QStringLiteral("rows [%1, %2) × cols [%3, %4)")
                                    .arg(want.top)
                                    .arg(want.bottom)
                                    .arg(want.left)
                                    .arg(want.right));
    QVERIFY(view.readoutText().contains(view.currentLayer()));

    QVERIFY(view.waitForErf());
    QVERIFY(!ready.isEmpty());
    QCOMPARE(ready.last().at(0).toString(), layer);
    QCOMPARE(ready.last().at(1).toInt(), row);
    QCOMPARE(ready.last().at(2).toInt(), col);
    checkErfInsideField(view);
    QVERIFY(view.erfRadius90() > 0);
    QVERIFY(view.readoutText().contains(QStringLiteral("100.0%")));
  }

  // The drawn rectangle of the first and the last location of every layer the view offers, for
  // every preset with a spatial map at its native input size, is the engine's field.
  void everyLayerOfThePresetsShowsItsField_data() {
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::newRow("dcgan28") << "dcgan28" << 1 << 28;
    QTest::newRow("dcgan32") << "dcgan32" << 3 << 32;
    QTest::newRow("alex64") << "alex64" << 3 << 64;
  }
  void everyLayerOfThePresetsShowsItsField() {
    QFETCH(QString, preset);
    QFETCH(int, channels);
    QFETCH(int, size);
    ReceptiveFieldView view;
    view.setArchitecture(preset, channels, size, size);
    QVERIFY(view.waitForEncoder());
    const ArchitectureInfo info =
        analyzeArchitecture(presetJson(preset.toStdString()), channels, size, size);
    const QStringList layers = view.layers();
    QVERIFY(layers.size() >= 3);
    int checked = 0;
    for (const QString& layer : layers) {
      QVERIFY(view.setLayer(layer));
      const LayerInfo& li = info.layer(layer.toStdString());
      for (const auto& [row, col] : {std::pair{0, 0}, std::pair{li.height - 1, li.width - 1}}) {
        view.setLocation(row, col);
        const InputRegion want = receptiveField(info, layer.toStdString(), row, col);
        const InputRegion got = view.currentRegion();
        QVERIFY2(got.top == want.top && got.left == want.left && got.bottom == want.bottom &&
                     got.right == want.right,
                 qPrintable(QStringLiteral("%1 (%2, %3)").arg(layer).arg(row).arg(col)));
        ++checked;
      }
    }
    QCOMPARE(checked, 2 * static_cast<int>(layers.size()));
    QVERIFY(view.waitForErf());  // let the last request finish before the view goes
  }

  void latestRequestWins() {
    ReceptiveFieldView view;
    view.setArchitecture(QStringLiteral("dcgan32"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QCOMPARE(view.architecture().inHeight, 32);  // padded to the declared input, as in training
    for (int i = 0; i < 8; ++i) view.setLocation(i, 7 - i);
    view.setLocation(2, 6);
    QVERIFY(view.waitForErf());
    QCOMPARE(view.pinnedRow(), 2);
    QCOMPARE(view.pinnedCol(), 6);
    checkErfInsideField(view);
  }

  void layerChangesTheGrid() {
    ReceptiveFieldView view;
    view.setArchitecture(QStringLiteral("alex64"), 1, 64, 64);
    QVERIFY(view.waitForEncoder());
    const ArchitectureInfo& info = view.architecture();
    QCOMPARE(view.currentLayer(), QString::fromStdString(info.localLayer));
    QCOMPARE(view.mapHeight(), 16);
    for (const QString& name : view.layers()) {
      QVERIFY(view.setLayer(name));
      const LayerInfo& l = info.layer(name.toStdString());
      QCOMPARE(view.mapHeight(), l.height);
      QCOMPARE(view.mapWidth(), l.width);
      QVERIFY(view.pinnedRow() < l.height);
      QVERIFY(view.pinnedCol() < l.width);
    }
    QVERIFY(view.setLayer(QStringLiteral("conv")));
    QCOMPARE(view.mapHeight(), 8);
    view.setLocation(100, -3);  // clamped to the map
    QCOMPARE(view.pinnedRow(), 7);
    QCOMPARE(view.pinnedCol(), 0);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
  }

  void wholeInputWarning_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("size");
    QTest::addColumn<bool>("warns");
    QTest::newRow("dcgan28") << "dcgan28" << 28 << false;
    QTest::newRow("dcgan32") << "dcgan32" << 32 << false;
    QTest::newRow("resnet32") << "resnet32" << 32 << true;
    QTest::newRow("tiny json") << QString::fromLatin1(kWholeInputJson) << 8 << true;
  }
  void wholeInputWarning() {
    QFETCH(QString, arch);
    QFETCH(int, size);
    QFETCH(bool, warns);
    ReceptiveFieldView view;
    view.resize(900, 700);
    view.show();
    view.setArchitecture(arch, 1, size, size);
    QVERIFY(view.waitForEncoder());
    QCOMPARE(view.warningText(), QString::fromStdString(localFieldWarning(view.architecture())));
    QCOMPARE(!view.warningText().isEmpty(), warns);
    bool barShown = false;
    for (const QLabel* label : view.findChildren<QLabel*>())
      if (label->isVisible() && label->text().contains(QStringLiteral("degenerates")))
        barShown = true;
    QCOMPARE(barShown, warns);
    QVERIFY(view.waitForErf());
    saveScreenshot(view, QTest::currentDataTag());
  }

  void switchingEncoderClearsTheWarning() {
    ReceptiveFieldView view;
    view.setArchitecture(QStringLiteral("resnet32"), 1, 32, 32);
    QVERIFY(view.waitForEncoder());
    QVERIFY(!view.warningText().isEmpty());
    view.setArchitecture(QStringLiteral("dcgan32"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QVERIFY(view.warningText().isEmpty());
    QCOMPARE(QString::fromStdString(view.architecture().name), QStringLiteral("dcgan32"));
  }

  void exportsANonBlankPng() {
    ReceptiveFieldView view;
    view.resize(1000, 720);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setArchitecture(QStringLiteral("dcgan32"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    view.setImageSet(std::make_shared<const ImageSet>(syntheticSet(4, 1, 28, 28)));
    view.setLocation(0, 1);
    QVERIFY(view.waitForErf());
    const QString path = m_tmp.filePath(QStringLiteral("rf.png"));
    QCOMPARE(view.exportPng(path), QString());
    QImage back(path);
    QVERIFY(!back.isNull());
    QCOMPARE(back.size(), view.canvasSize());
    QVERIFY(back.width() >= 280 && back.height() >= 300);
    QVERIFY2(distinctColours(back) > 50, qPrintable(QString::number(distinctColours(back))));
    // An unwritable path is an error naming it, not a crash.
    const QString bad = QStringLiteral("/nonexistent-dir/rf.png");
    QVERIFY(view.exportPng(bad).contains(bad));
    saveScreenshot(view, QStringLiteral("export"));
  }

  void badCheckpointIsAnErrorNamingThePath() {
    ReceptiveFieldView view;
    QSignalSpy errors(&view, &ReceptiveFieldView::errorOccurred);
    const QString path = m_tmp.filePath(QStringLiteral("no-such-run"));
    view.setCheckpoint(path);
    QVERIFY(!view.waitForEncoder());
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(path),
             qPrintable(errors.at(0).at(0).toString()));
    QVERIFY(view.errorText().contains(path));
    QVERIFY(!view.hasEncoder());
    QVERIFY(!view.renderCanvas().isNull());  // paints a placeholder

    // A file that is not a checkpoint, after a good encoder: the error shows, the old encoder
    // stays usable.
    view.setArchitecture(QStringLiteral("dcgan28"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QVERIFY(view.errorText().isEmpty());
    const QString junk = m_tmp.filePath(QStringLiteral("junk.imx"));
    {
      QFile f(junk);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("not a checkpoint at all");
    }
    view.setCheckpoint(junk);
    QVERIFY(!view.waitForEncoder());
    QVERIFY2(view.errorText().contains(junk), qPrintable(view.errorText()));
    view.setArchitecture(QStringLiteral("no-such-preset"), 1, 28, 28);
    QVERIFY(!view.waitForEncoder());
    QVERIFY2(view.errorText().contains(QStringLiteral("no-such-preset")),
             qPrintable(view.errorText()));
    QVERIFY(view.hasEncoder());
    QCOMPARE(QString::fromStdString(view.architecture().name), QStringLiteral("dcgan28"));
    QVERIFY(view.sourceText().startsWith(QStringLiteral("dcgan28")));
    view.setLocation(1, 1);
    QVERIFY(view.waitForErf());
  }

  void imageFileOfAnotherSizeLoads() {
    ReceptiveFieldView view;
    view.setArchitecture(QStringLiteral("dcgan28"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    QImage picture(50, 40, QImage::Format_RGB32);
    for (int y = 0; y < 40; ++y)
      for (int x = 0; x < 50; ++x) picture.setPixel(x, y, qRgb(5 * x, 6 * y, 200));
    const QString path = m_tmp.filePath(QStringLiteral("wide.png"));
    QVERIFY(picture.save(path));
    QCOMPARE(view.loadImageFile(path), QString());
    const std::vector<float>& in = view.input();
    QCOMPARE(static_cast<int>(in.size()), 28 * 28);
    // 50x40 scaled to 28x22 and centred: three black rows above, the picture below them.
    for (int x = 0; x < 28; ++x) QCOMPARE(in[x], -1.0f);
    QVERIFY(in[14 * 28 + 14] > -1.0f);
    for (float v : in) QVERIFY(v >= -1.0f && v <= 1.0f);
    view.setLocation(3, 3);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);

    // RGB encoder: the colour survives.
    view.setArchitecture(QStringLiteral("dcgan32"), 3, 32, 32);
    QVERIFY(view.waitForEncoder());
    QCOMPARE(static_cast<int>(view.input().size()), 3 * 32 * 32);
    const int centre = 16 * 32 + 16, plane = 32 * 32;
    QVERIFY(view.input()[2 * plane + centre] > view.input()[centre]);  // blue > red

    const QString missing = m_tmp.filePath(QStringLiteral("missing.png"));
    QVERIFY(view.loadImageFile(missing).contains(missing));
  }

  void dataSetImagesAreFedLikeTraining() {
    const ImageSet set = syntheticSet(5, 1, 28, 28);
    ReceptiveFieldView view;
    view.setArchitecture(QStringLiteral("dcgan32"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    view.setImageSet(std::make_shared<const ImageSet>(set));
    view.setImageIndex(2);
    QCOMPARE(view.imageIndex(), 2);
    auto reference = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 1);
    QCOMPARE(view.input(), reference->input(set, 2));
    QVERIFY(view.waitForErf());
    // Same seed, same weights, same image: the same field as the engine computes.
    const std::vector<float> want =
        reference->compute(reference->input(set, 2), "local", view.pinnedRow(), view.pinnedCol());
    QCOMPARE(view.erfValues(), want);

    // Keyboard: arrows move the pin, Page Up/Down the image.
    const int row = view.pinnedRow(), col = view.pinnedCol();
    QTest::keyClick(&view, Qt::Key_Right);
    QTest::keyClick(&view, Qt::Key_Down);
    QCOMPARE(view.pinnedRow(), row + 1);
    QCOMPARE(view.pinnedCol(), col + 1);
    QTest::keyClick(&view, Qt::Key_PageDown);
    QCOMPARE(view.imageIndex(), 3);
    QCOMPARE(view.input(), reference->input(set, 3));
    QTest::keyClick(&view, Qt::Key_PageUp);
    QTest::keyClick(&view, Qt::Key_PageUp);
    QCOMPARE(view.imageIndex(), 1);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);

    // An RGB set: the untrained dcgan32 is rebuilt for three channels.
    view.setImageSet(std::make_shared<const ImageSet>(syntheticSet(2, 3, 28, 28)));
    QVERIFY(view.waitForEncoder());
    QCOMPARE(view.architecture().inChannels, 3);
    QCOMPARE(QString::fromStdString(view.architecture().name), QStringLiteral("dcgan32"));
    QVERIFY(view.errorText().isEmpty());
  }

  void clickPinsTheNearestLocation() {
    ReceptiveFieldView view;
    view.resize(900, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setArchitecture(QStringLiteral("dcgan28"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    auto* canvas = view.findChild<QWidget*>(QStringLiteral("rfCanvas"));
    QVERIFY(canvas);
    view.setLocation(0, 0);
    // The image is centred in the canvas above the legend; its centre is input pixel 14,
    // nearest to location 3 ((14 - 0.5) / 4 = 3.4).
    const QImage shot = view.renderCanvas();
    QCOMPARE(shot.size(), canvas->size());
    QTest::mouseMove(canvas, QPoint(canvas->width() / 2, (canvas->height() - 58 + 6) / 2));
    QTest::mouseClick(canvas, Qt::LeftButton, {},
                      QPoint(canvas->width() / 2, (canvas->height() - 58 + 6) / 2));
    QCOMPARE(view.pinnedRow(), 3);
    QCOMPARE(view.pinnedCol(), 3);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
  }

  void trainedCheckpoint() {
    if (!haveData()) QSKIP("Fashion-MNIST is not installed");
    TrainConfig c;
    c.dataLimit = 64;
    c.batch = 16;
    c.headUnits = 32;
    c.threads = 1;
    c.steps = 2;
    c.logEvery = 1;
    c.checkpointEvery = 0;
    c.autosaveMinutes = 0;
    c.prefetch = 1;
    c.outDir = m_tmp.filePath(QStringLiteral("run")).toStdString();
    {
      Trainer trainer(c);
      trainer.run();
    }
    const QString run = QString::fromStdString(c.outDir);
    ReceptiveFieldView view;
    view.setCheckpoint(run);
    QVERIFY2(view.waitForEncoder(), qPrintable(view.errorText()));
    QVERIFY(view.sourceText().contains(run));
    QCOMPARE(view.currentLayer(), QString::fromStdString(view.architecture().localLayer));
    DataSpec spec;
    spec.path = defaultDataPath();
    spec.limit = 4;
    const auto set = std::make_shared<const ImageSet>(loadImageSet(spec));
    view.setImageSet(set);
    view.setImageIndex(1);
    view.setLocation(2, 3);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
    auto reference = EffectiveField::fromCheckpoint(c.outDir);
    QCOMPARE(view.erfValues(), reference->compute(reference->input(*set, 1),
                                                  view.currentLayer().toStdString(), 2, 3));
    // A data set the trained encoder cannot take is an error, not a crash.
    view.setImageSet(std::make_shared<const ImageSet>(syntheticSet(2, 3, 28, 28)));
    QVERIFY(!view.errorText().isEmpty());
    QVERIFY(view.hasEncoder());
  }

  void fashionMnistImage() {
    if (!haveData()) QSKIP("Fashion-MNIST is not installed");
    DataSpec spec;
    spec.path = defaultDataPath();
    spec.limit = 8;
    const auto set = std::make_shared<const ImageSet>(loadImageSet(spec));
    ReceptiveFieldView view;
    view.resize(1000, 720);
    view.show();
    view.setArchitecture(QStringLiteral("dcgan32"), 1, 28, 28);
    QVERIFY(view.waitForEncoder());
    view.setImageSet(set);
    view.setImageIndex(0);
    view.setLocation(1, 2);
    QVERIFY(view.waitForErf());
    checkErfInsideField(view);
    auto reference = EffectiveField::fromArchitecture(presetJson("dcgan32"), 1, 32, 32, 1);
    QCOMPARE(view.input(), reference->input(*set, 0));
    // Hovering shows another location's field without moving the pin.
    auto* canvas = view.findChild<QWidget*>(QStringLiteral("rfCanvas"));
    QVERIFY(canvas);
    QTest::mouseMove(canvas, QPoint(canvas->width() / 2 + 60, canvas->height() / 2 + 20));
    QVERIFY(view.waitForErf());
    QCOMPARE(view.pinnedRow(), 1);
    QCOMPARE(view.pinnedCol(), 2);
    QVERIFY(view.readoutText().contains(QStringLiteral("hovered")));
    const InputRegion hovered = view.currentRegion();
    QVERIFY(hovered.top != receptiveField(view.architecture(), "local", 1, 2).top);
    checkErfInsideField(view);
    saveScreenshot(view, QStringLiteral("fmnist-hover"));
  }
};

QTEST_MAIN(TestRfView)
#include "test_rfview.moc"
