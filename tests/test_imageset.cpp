// Tests for the data-set readers: each format is generated synthetically in a temporary folder
// with known pixel values, read back, and then broken in every way the readers must reject.

#include <QtTest>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#ifdef __linux__
#include <sys/resource.h>
#endif

#include "infomax/error.h"
#include "infomax/imageset.h"

using infomax::DataFormat;
using infomax::DataSpec;
using infomax::ImageSet;

Q_DECLARE_METATYPE(infomax::DataFormat)

namespace {

// ---- File builders --------------------------------------------------------------------------

QByteArray be32(quint32 v) {
  QByteArray b(4, '\0');
  b[0] = static_cast<char>(v >> 24);
  b[1] = static_cast<char>(v >> 16);
  b[2] = static_cast<char>(v >> 8);
  b[3] = static_cast<char>(v);
  return b;
}

void writeRaw(const QString& path, const QByteArray& data) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile f(path);
  QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
  QCOMPARE(f.write(data), data.size());
}

// Writes a gzip file with zlib, as the real Fashion-MNIST files are.
void writeGz(const QString& path, const QByteArray& data) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  gzFile f = gzopen(path.toLocal8Bit().constData(), "wb");
  QVERIFY2(f != nullptr, qPrintable(path));
  if (!data.isEmpty())
    QCOMPARE(gzwrite(f, data.constData(), static_cast<unsigned>(data.size())), data.size());
  QCOMPARE(gzclose(f), Z_OK);
}

void writeData(const QString& path, const QByteArray& data, bool gz) {
  if (gz)
    writeGz(path, data);
  else
    writeRaw(path, data);
}

// Known IDX pixel value of image i at (y, x); asymmetric in x and y so transposes show.
std::uint8_t idxPixel(int i, int y, int x, int seed = 0) {
  return static_cast<std::uint8_t>((seed * 101 + i * 31 + y * 7 + x * 3) % 256);
}

// IDX images file: header claims `count` images of rows x cols; `stored` images are present.
QByteArray idxImages(quint32 count, quint32 rows, quint32 cols, int stored, int seed = 0,
                     quint32 magic = 0x803) {
  QByteArray b = be32(magic) + be32(count) + be32(rows) + be32(cols);
  for (int i = 0; i < stored; ++i)
    for (quint32 y = 0; y < rows; ++y)
      for (quint32 x = 0; x < cols; ++x)
        b.append(static_cast<char>(idxPixel(i, static_cast<int>(y), static_cast<int>(x), seed)));
  return b;
}

QByteArray idxLabels(const std::vector<int>& labels, quint32 count = UINT32_MAX,
                     quint32 magic = 0x801) {
  QByteArray b =
      be32(magic) + be32(count == UINT32_MAX ? static_cast<quint32>(labels.size()) : count);
  for (int l : labels) b.append(static_cast<char>(l));
  return b;
}

// Writes a train + t10k IDX set (5 train images 4x3, 3 test images) into dir.
void makeIdxFolder(const QString& dir, bool gz) {
  const QString ext = gz ? ".gz" : "";
  writeData(dir + "/train-images-idx3-ubyte" + ext, idxImages(5, 4, 3, 5, 0), gz);
  writeData(dir + "/train-labels-idx1-ubyte" + ext, idxLabels({3, 1, 4, 1, 5}), gz);
  writeData(dir + "/t10k-images-idx3-ubyte" + ext, idxImages(3, 4, 3, 3, 1), gz);
  writeData(dir + "/t10k-labels-idx1-ubyte" + ext, idxLabels({9, 2, 6}), gz);
}

constexpr int kCifarImage = 3 * 32 * 32;

std::uint8_t cifarPixel(int seed, int i, int c, int y, int x) {
  return static_cast<std::uint8_t>((seed * 17 + i * 13 + c * 50 + y * 5 + x) % 256);
}

// CIFAR records: label bytes from labelOf(i) (one or two), then 3x32x32 CHW pixels.
QByteArray cifarRecords(int n, int seed, const std::function<QByteArray(int)>& labelOf) {
  QByteArray b;
  for (int i = 0; i < n; ++i) {
    b.append(labelOf(i));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.append(static_cast<char>(cifarPixel(seed, i, c, y, x)));
  }
  return b;
}

QByteArray cifar10Records(int n, int seed) {
  return cifarRecords(n, seed, [seed](int i) { return QByteArray(1, char((seed + i) % 10)); });
}

// CIFAR-10 folder: data_batch_b holds 2 images (seed b), test_batch 3 images (seed 0).
void makeCifar10Folder(const QString& dir, int skipBatch = 0) {
  for (int b = 1; b <= 5; ++b)
    if (b != skipBatch) writeRaw(dir + QString("/data_batch_%1.bin").arg(b), cifar10Records(2, b));
  writeRaw(dir + "/test_batch.bin", cifar10Records(3, 0));
}

QByteArray cifar100Records(int n, int seed) {
  return cifarRecords(n, seed, [](int i) {
    QByteArray l;
    l.append(char(7));           // coarse label: must be ignored
    l.append(char(40 + i * 3));  // fine label
    return l;
  });
}

constexpr int kStl = 96;
constexpr int kStlImage = 3 * kStl * kStl;

std::uint8_t stlPixel(int i, int c, int y, int x) {
  return static_cast<std::uint8_t>((i * 11 + c * 40 + y * 2 + x * 3) % 256);
}

// STL-10 images, each channel stored column-major the way the real files are.
QByteArray stlImages(int n) {
  QByteArray b(n * kStlImage, '\0');
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < kStl; ++x)
        for (int y = 0; y < kStl; ++y)
          b[i * kStlImage + c * kStl * kStl + x * kStl + y] =
              static_cast<char>(stlPixel(i, c, y, x));
  return b;
}

QByteArray bytes(const std::vector<int>& v) {
  QByteArray b;
  for (int x : v) b.append(static_cast<char>(x));
  return b;
}

void makeStlFolder(const QString& dir) {
  writeRaw(dir + "/train_X.bin", stlImages(3));
  writeRaw(dir + "/train_y.bin", bytes({1, 10, 4}));
  writeRaw(dir + "/test_X.bin", stlImages(2));
  writeRaw(dir + "/test_y.bin", bytes({2, 3}));
  writeRaw(dir + "/unlabeled_X.bin", stlImages(2));
}

// Binary PGM (gray) with value(y, x); cv::imread decodes it without any extra codec.
void writePgm(const QString& path, int w, int h, const std::function<int(int, int)>& value) {
  QByteArray b = QString("P5\n%1 %2\n255\n").arg(w).arg(h).toLatin1();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) b.append(static_cast<char>(value(y, x)));
  writeRaw(path, b);
}

// Binary PPM, stored as RGB triples.
void writePpm(const QString& path, int w, int h, int r, int g, int bl) {
  QByteArray b = QString("P6\n%1 %2\n255\n").arg(w).arg(h).toLatin1();
  for (int i = 0; i < w * h; ++i) {
    b.append(static_cast<char>(r));
    b.append(static_cast<char>(g));
    b.append(static_cast<char>(bl));
  }
  writeRaw(path, b);
}

int folderPixel(int img, int y, int x) { return (img * 40 + y * 9 + x) % 256; }

// The message of the infomax::Error thrown by f, or an empty string when nothing was thrown.
QString errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const infomax::Error& e) {
    return QString::fromStdString(e.what());
  }
  return QString();
}

ImageSet load(const QString& path, const QString& split = "train", std::int64_t limit = 0,
              DataFormat format = DataFormat::Auto, int resize = 0) {
  DataSpec spec;
  spec.path = path.toStdString();
  spec.split = split.toStdString();
  spec.limit = limit;
  spec.format = format;
  spec.resize = resize;
  return infomax::loadImageSet(spec);
}

long maxRssKb() {
#ifdef __linux__
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
#else
  return 0;
#endif
}

}  // namespace

// Test suite for core/src/imageset.cpp.
class TestImageSet : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void formatNames();
  void idxRoundTrip_data();
  void idxRoundTrip();
  void idxWithoutLabels();
  void cifar10RoundTrip();
  void cifar100FineLabel();
  void stl10Transpose();
  void folderClasses();
  void folderColor();
  void folderResize();
  void folderFlat();
  void folderTrainTest();
  void limit_data();
  void limit();
  void detectFormat_data();
  void detectFormat();
  void detectFormatFailures_data();
  void detectFormatFailures();
  void brokenInput_data();
  void brokenInput();
  void absurdHeaderFailsFast_data();
  void absurdHeaderFailsFast();
  void realFashionMnist();
};

void TestImageSet::formatNames() {
  for (DataFormat f : {DataFormat::Auto, DataFormat::Idx, DataFormat::Cifar10, DataFormat::Cifar100,
                       DataFormat::Stl10, DataFormat::Folder})
    QCOMPARE(infomax::dataFormatFromString(infomax::toString(f)), f);
  QCOMPARE(QString(infomax::toString(DataFormat::Cifar100)), QString("cifar100"));
  const QString msg = errorOf([] { infomax::dataFormatFromString("jpeg2000"); });
  QVERIFY2(msg.contains("jpeg2000") && msg.contains("unknown"), qPrintable(msg));
  QCOMPARE(QString::fromStdString(infomax::defaultDataPath()),
           QString("/usr/share/datasets/fashion-mnist"));
}

void TestImageSet::idxRoundTrip_data() {
  QTest::addColumn<bool>("gz");
  QTest::addColumn<bool>("fashion");
  QTest::addColumn<bool>("viaFile");  // path = the images file instead of the folder
  QTest::addColumn<QString>("split");
  QTest::newRow("raw digits folder train") << false << false << false << "train";
  QTest::newRow("raw digits folder test") << false << false << false << "test";
  QTest::newRow("gz digits folder train") << true << false << false << "train";
  QTest::newRow("gz fashion folder train") << true << true << false << "train";
  QTest::newRow("gz fashion folder test") << true << true << false << "test";
  QTest::newRow("raw images file") << false << false << true << "train";
  QTest::newRow("gz fashion images file") << true << true << true << "test";
}

void TestImageSet::idxRoundTrip() {
  QFETCH(bool, gz);
  QFETCH(bool, fashion);
  QFETCH(bool, viaFile);
  QFETCH(QString, split);
  QTemporaryDir tmp;
  QVERIFY(tmp.isValid());
  const QString dir = tmp.path() + (fashion ? "/fashion-mnist" : "/mnist");
  makeIdxFolder(dir, gz);
  const bool test = split == "test";
  const QString file = dir + (test ? "/t10k" : "/train") + "-images-idx3-ubyte" + (gz ? ".gz" : "");

  const ImageSet set = load(viaFile ? file : dir, split);
  const int n = test ? 3 : 5;
  const std::vector<std::int64_t> labels =
      test ? std::vector<std::int64_t>{9, 2, 6} : std::vector<std::int64_t>{3, 1, 4, 1, 5};
  QCOMPARE(set.count, n);
  QCOMPARE(set.channels, 1);
  QCOMPARE(set.height, 4);
  QCOMPARE(set.width, 3);
  QCOMPARE(set.pixels.size(), std::size_t(n * 12));
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 3; ++x)
        QCOMPARE(set.image(i)[y * 3 + x], idxPixel(i, y, x, test ? 1 : 0));
  QVERIFY(set.labels == labels);
  QCOMPARE(set.numClasses(), test ? 10 : 6);
  QCOMPARE(set.classNames.size(), std::size_t(10));
  QCOMPARE(QString::fromStdString(set.classNames[0]), fashion ? QString("T-shirt/top") : "0");
  QCOMPARE(QString::fromStdString(set.classNames[9]), fashion ? QString("Ankle boot") : "9");
  QCOMPARE(QString::fromStdString(set.format), QString("idx"));
  QCOMPARE(QString::fromStdString(set.source), file);
  const QString d = QString::fromStdString(infomax::describe(set));
  QCOMPARE(d, QString("%1 images 1x4x3, 10 classes, idx from %2").arg(n).arg(file));
}

void TestImageSet::idxWithoutLabels() {
  // Images-only IDX data is legitimate for unsupervised training: it loads unlabelled.
  QTemporaryDir tmp;
  const QString file = tmp.path() + "/train-images-idx3-ubyte";
  writeRaw(file, idxImages(2, 2, 2, 2));
  const ImageSet set = load(file);
  QCOMPARE(set.count, 2);
  QVERIFY(!set.labelled());
  QCOMPARE(set.numClasses(), 0);
  QVERIFY(QString::fromStdString(infomax::describe(set)).contains("unlabelled"));
}

void TestImageSet::cifar10RoundTrip() {
  QTemporaryDir tmp;
  const QString dir = tmp.path() + "/cifar-10-batches-bin";
  makeCifar10Folder(dir);

  const ImageSet train = load(dir, "train");
  QCOMPARE(train.count, 10);
  QCOMPARE(train.channels, 3);
  QCOMPARE(train.height, 32);
  QCOMPARE(train.width, 32);
  QCOMPARE(train.pixels.size(), std::size_t(10 * kCifarImage));
  for (int b = 1; b <= 5; ++b)
    for (int i = 0; i < 2; ++i) {
      const int k = (b - 1) * 2 + i;
      QCOMPARE(train.labels[k], std::int64_t((b + i) % 10));
      const std::uint8_t* img = train.image(k);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 32; y += 7)
          for (int x = 0; x < 32; x += 5)
            QCOMPARE(img[(c * 32 + y) * 32 + x], cifarPixel(b, i, c, y, x));
    }
  QCOMPARE(train.classNames.size(), std::size_t(10));
  QCOMPARE(QString::fromStdString(train.classNames[0]), QString("airplane"));
  QCOMPARE(QString::fromStdString(train.classNames[9]), QString("truck"));
  QCOMPARE(QString::fromStdString(train.format), QString("cifar10"));

  const ImageSet test = load(dir, "test");
  QCOMPARE(test.count, 3);
  QCOMPARE(test.image(2)[kCifarImage - 1], cifarPixel(0, 2, 2, 31, 31));

  const ImageSet one = load(dir + "/data_batch_4.bin", "test");  // a file ignores the split
  QCOMPARE(one.count, 2);
  QCOMPARE(one.image(1)[5], cifarPixel(4, 1, 0, 0, 5));
  QCOMPARE(one.labels[1], std::int64_t(5));

  const ImageSet parent = load(tmp.path(), "test");  // the folder the archive was extracted to
  QCOMPARE(parent.count, 3);
}

void TestImageSet::cifar100FineLabel() {
  QTemporaryDir tmp;
  const QString dir = tmp.path() + "/cifar-100-binary";
  writeRaw(dir + "/train.bin", cifar100Records(4, 1));
  writeRaw(dir + "/test.bin", cifar100Records(2, 2));

  const ImageSet train = load(dir);
  QCOMPARE(QString::fromStdString(train.format), QString("cifar100"));
  QCOMPARE(train.count, 4);
  QVERIFY((train.labels == std::vector<std::int64_t>{40, 43, 46, 49}));
  QCOMPARE(train.image(3)[100], cifarPixel(1, 3, 0, 100 / 32, 100 % 32));
  QCOMPARE(train.image(3)[kCifarImage - 1], cifarPixel(1, 3, 2, 31, 31));
  QVERIFY(train.classNames.empty());
  QCOMPARE(train.numClasses(), 50);

  QByteArray names;
  for (int i = 0; i < 100; ++i) names += QString("class%1\n").arg(i).toLatin1();
  writeRaw(dir + "/fine_label_names.txt", names);
  const ImageSet test = load(dir, "test");
  QCOMPARE(test.count, 2);
  QCOMPARE(test.classNames.size(), std::size_t(100));
  QCOMPARE(QString::fromStdString(test.classNames[43]), QString("class43"));
}

void TestImageSet::stl10Transpose() {
  QTemporaryDir tmp;
  const QString dir = tmp.path() + "/stl10_binary";
  makeStlFolder(dir);

  const ImageSet train = load(dir, "train");
  QCOMPARE(QString::fromStdString(train.format), QString("stl10"));
  QCOMPARE(train.count, 3);
  QCOMPARE(train.channels, 3);
  QCOMPARE(train.height, 96);
  QCOMPARE(train.width, 96);
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kStl; ++y)
        for (int x = 0; x < kStl; ++x)
          if (train.image(i)[(c * kStl + y) * kStl + x] != stlPixel(i, c, y, x))
            QFAIL(qPrintable(
                QString("pixel mismatch at image %1 c%2 y%3 x%4").arg(i).arg(c).arg(y).arg(x)));
  QVERIFY((train.labels == std::vector<std::int64_t>{0, 9, 3}));
  QCOMPARE(QString::fromStdString(train.classNames[2]), QString("car"));
  QCOMPARE(QString::fromStdString(train.classNames[7]), QString("monkey"));

  const ImageSet test = load(dir, "test");
  QCOMPARE(test.count, 2);
  QVERIFY((test.labels == std::vector<std::int64_t>{1, 2}));

  const ImageSet unlabeled = load(dir, "unlabeled");
  QCOMPARE(unlabeled.count, 2);
  QVERIFY(!unlabeled.labelled());
  QCOMPARE(unlabeled.image(1)[kStl + 2], stlPixel(1, 0, 1, 2));

  const ImageSet file = load(dir + "/train_X.bin");
  QCOMPARE(file.count, 3);
  QVERIFY((file.labels == std::vector<std::int64_t>{0, 9, 3}));
}

void TestImageSet::folderClasses() {
  QTemporaryDir tmp;
  const QString root = tmp.path() + "/shapes";
  // Written out of order: classes are the sorted sub-folder names.
  const QStringList order = {"cat", "ant", "bee"};
  for (int k = 0; k < 3; ++k) {
    const int img = k;
    writePgm(root + "/" + order[k] + "/img.pgm", 5, 4,
             [img](int y, int x) { return folderPixel(img, y, x); });
  }
  writePgm(root + "/ant/img2.pgm", 5, 4, [](int y, int x) { return folderPixel(7, y, x); });
  writeRaw(root + "/ant/notes.txt", "not an image");
  writeRaw(root + "/README.txt", "ignored");

  const ImageSet set = load(root);
  QCOMPARE(QString::fromStdString(set.format), QString("folder"));
  QCOMPARE(set.count, 4);
  QCOMPARE(set.channels, 1);
  QCOMPARE(set.height, 4);
  QCOMPARE(set.width, 5);
  QVERIFY((set.classNames == std::vector<std::string>{"ant", "bee", "cat"}));
  QVERIFY((set.labels == std::vector<std::int64_t>{0, 0, 1, 2}));
  // ant/img.pgm (written as image 1), ant/img2.pgm (7), bee (2), cat (0)
  const int source[] = {1, 7, 2, 0};
  for (int i = 0; i < 4; ++i)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x)
        QCOMPARE(int(set.image(i)[y * 5 + x]), folderPixel(source[i], y, x));
  QCOMPARE(QString::fromStdString(infomax::describe(set)),
           QString("4 images 1x4x5, 3 classes, folder from %1").arg(root));
}

void TestImageSet::folderColor() {
  QTemporaryDir tmp;
  const QString root = tmp.path();
  writePpm(root + "/a/color.ppm", 3, 2, 10, 20, 30);
  writePgm(root + "/b/gray.pgm", 3, 2, [](int, int) { return 77; });
  const ImageSet set = load(root);
  QCOMPARE(set.count, 2);
  QCOMPARE(set.channels, 3);  // one colour image makes the whole set RGB
  const std::size_t plane = 6;
  for (std::size_t p = 0; p < plane; ++p) {
    QCOMPARE(int(set.image(0)[p]), 10);  // R plane first
    QCOMPARE(int(set.image(0)[plane + p]), 20);
    QCOMPARE(int(set.image(0)[2 * plane + p]), 30);
    for (int c = 0; c < 3; ++c) QCOMPARE(int(set.image(1)[c * plane + p]), 77);
  }
}

void TestImageSet::folderResize() {
  QTemporaryDir tmp;
  const QString root = tmp.path();
  writePgm(root + "/x/big.pgm", 8, 8, [](int, int) { return 200; });
  writePgm(root + "/y/odd.pgm", 6, 10, [](int, int) { return 50; });
  const ImageSet set = load(root, "train", 0, DataFormat::Folder, 4);
  QCOMPARE(set.count, 2);
  QCOMPARE(set.height, 4);
  QCOMPARE(set.width, 4);
  QCOMPARE(set.pixels.size(), std::size_t(32));
  for (int p = 0; p < 16; ++p) {
    QCOMPARE(int(set.image(0)[p]), 200);
    QCOMPARE(int(set.image(1)[p]), 50);
  }
}

void TestImageSet::folderFlat() {
  QTemporaryDir tmp;
  for (int i = 0; i < 3; ++i)
    writePgm(tmp.path() + QString("/%1.pgm").arg(i), 2, 2, [i](int y, int x) { return i + y + x; });
  QCOMPARE(infomax::detectFormat(tmp.path().toStdString()), DataFormat::Folder);
  const ImageSet set = load(tmp.path(), "test");
  QCOMPARE(set.count, 3);
  QVERIFY(!set.labelled());
  QVERIFY(set.classNames.empty());
  QCOMPARE(int(set.image(2)[3]), 4);
}

void TestImageSet::folderTrainTest() {
  QTemporaryDir tmp;
  const QString root = tmp.path();
  for (const QString split : {"train", "test"})
    for (const QString cls : {"a", "b"}) {
      const int n = split == "train" ? 2 : 1;
      for (int i = 0; i < n; ++i)
        writePgm(root + "/" + split + "/" + cls + QString("/%1.pgm").arg(i), 3, 3,
                 [](int, int) { return 1; });
    }
  QCOMPARE(load(root, "train").count, 4);
  const ImageSet test = load(root, "test");
  QCOMPARE(test.count, 2);
  QVERIFY((test.labels == std::vector<std::int64_t>{0, 1}));
  QCOMPARE(QString::fromStdString(test.source), root + "/test");
}

void TestImageSet::limit_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<int>("limit");
  QTest::newRow("idx raw") << "idx" << 2;
  QTest::newRow("idx gz") << "idxgz" << 4;
  QTest::newRow("idx limit above count") << "idx" << 50;
  QTest::newRow("cifar10 across batches") << "cifar10" << 3;
  QTest::newRow("stl10") << "stl10" << 1;
  QTest::newRow("folder") << "folder" << 2;
}

void TestImageSet::limit() {
  QFETCH(QString, kind);
  QFETCH(int, limit);
  QTemporaryDir tmp;
  const QString dir = tmp.path() + "/data";
  int total = 0;
  if (kind.startsWith("idx")) {
    makeIdxFolder(dir, kind == "idxgz");
    total = 5;
  } else if (kind == "cifar10") {
    makeCifar10Folder(dir);
    total = 10;
  } else if (kind == "stl10") {
    makeStlFolder(dir);
    total = 3;
  } else {
    for (int i = 0; i < 4; ++i)
      writePgm(dir + QString("/c%1/img.pgm").arg(i), 2, 2, [i](int, int) { return i; });
    total = 4;
  }
  const ImageSet full = load(dir);
  const ImageSet part = load(dir, "train", limit);
  const int expected = std::min(limit, total);
  QCOMPARE(full.count, total);
  QCOMPARE(part.count, expected);
  QCOMPARE(part.pixels.size(), part.imageBytes() * expected);
  QCOMPARE(part.labels.size(), std::size_t(expected));
  QVERIFY(std::equal(part.pixels.begin(), part.pixels.end(), full.pixels.begin()));
  QVERIFY(std::equal(part.labels.begin(), part.labels.end(), full.labels.begin()));
}

void TestImageSet::detectFormat_data() {
  QTest::addColumn<QString>("layout");
  QTest::addColumn<QString>("path");  // relative to the temporary folder
  QTest::addColumn<DataFormat>("expected");
  QTest::newRow("idx folder") << "idx"
                              << "d" << DataFormat::Idx;
  QTest::newRow("idx raw file") << "idx"
                                << "d/train-images-idx3-ubyte" << DataFormat::Idx;
  QTest::newRow("idx gz file") << "idxgz"
                               << "d/t10k-images-idx3-ubyte.gz" << DataFormat::Idx;
  QTest::newRow("idx file by magic") << "idxodd"
                                     << "d/digits.dat" << DataFormat::Idx;
  QTest::newRow("cifar10 folder") << "cifar10"
                                  << "d" << DataFormat::Cifar10;
  QTest::newRow("cifar10 file") << "cifar10"
                                << "d/data_batch_3.bin" << DataFormat::Cifar10;
  QTest::newRow("cifar10 parent") << "cifar10sub"
                                  << "d" << DataFormat::Cifar10;
  QTest::newRow("cifar100 folder") << "cifar100"
                                   << "d" << DataFormat::Cifar100;
  QTest::newRow("cifar100 file") << "cifar100"
                                 << "d/test.bin" << DataFormat::Cifar100;
  QTest::newRow("stl10 folder") << "stl10"
                                << "d" << DataFormat::Stl10;
  QTest::newRow("stl10 file") << "stl10"
                              << "d/unlabeled_X.bin" << DataFormat::Stl10;
  QTest::newRow("image classes") << "folder"
                                 << "d" << DataFormat::Folder;
  QTest::newRow("image train/test") << "foldersplit"
                                    << "d" << DataFormat::Folder;
}

void TestImageSet::detectFormat() {
  QFETCH(QString, layout);
  QFETCH(QString, path);
  QFETCH(DataFormat, expected);
  QTemporaryDir tmp;
  const QString d = tmp.path() + "/d";
  if (layout == "idx" || layout == "idxgz") {
    makeIdxFolder(d, layout == "idxgz");
  } else if (layout == "idxodd") {
    writeRaw(d + "/digits.dat", idxImages(1, 2, 2, 1));
  } else if (layout == "cifar10") {
    makeCifar10Folder(d);
  } else if (layout == "cifar10sub") {
    makeCifar10Folder(d + "/cifar-10-batches-bin");
  } else if (layout == "cifar100") {
    writeRaw(d + "/train.bin", cifar100Records(1, 0));
    writeRaw(d + "/test.bin", cifar100Records(1, 0));
  } else if (layout == "stl10") {
    makeStlFolder(d);
  } else if (layout == "folder") {
    writePgm(d + "/cls/a.pgm", 2, 2, [](int, int) { return 0; });
  } else if (layout == "foldersplit") {
    writePgm(d + "/train/cls/a.pgm", 2, 2, [](int, int) { return 0; });
    writePgm(d + "/test/cls/a.pgm", 2, 2, [](int, int) { return 0; });
  }
  QCOMPARE(infomax::detectFormat((tmp.path() + "/" + path).toStdString()), expected);
  QCOMPARE(load(tmp.path() + "/" + path).format, std::string(infomax::toString(expected)));
}

void TestImageSet::detectFormatFailures_data() {
  QTest::addColumn<QString>("layout");
  QTest::addColumn<QString>("path");
  QTest::addColumn<QString>("keyword");
  QTest::newRow("missing path") << ""
                                << "nowhere"
                                << "not found";
  QTest::newRow("empty folder") << "empty"
                                << "d"
                                << "no data set found";
  QTest::newRow("text files only") << "text"
                                   << "d"
                                   << "no data set found";
  QTest::newRow("single image") << "image"
                                << "d/a.pgm"
                                << "single image";
  QTest::newRow("idx labels file") << "idx"
                                   << "d/train-labels-idx1-ubyte"
                                   << "labels file";
  QTest::newRow("unknown file") << "text"
                                << "d/notes.dat"
                                << "unrecognised";
}

void TestImageSet::detectFormatFailures() {
  QFETCH(QString, layout);
  QFETCH(QString, path);
  QFETCH(QString, keyword);
  QTemporaryDir tmp;
  const QString d = tmp.path() + "/d";
  QDir().mkpath(d);
  if (layout == "text") writeRaw(d + "/notes.dat", "hello, world");
  if (layout == "image") writePgm(d + "/a.pgm", 2, 2, [](int, int) { return 0; });
  if (layout == "idx") makeIdxFolder(d, false);
  const QString full = tmp.path() + "/" + path;
  const QString msg = errorOf([&] { infomax::detectFormat(full.toStdString()); });
  QVERIFY2(msg.startsWith(full), qPrintable(msg));
  QVERIFY2(msg.contains(keyword), qPrintable(msg));
  QVERIFY(!msg.contains('\n'));
}

// Each row builds one broken data set; the error must name `file` and contain every keyword.
void TestImageSet::brokenInput_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("file");
  QTest::addColumn<QStringList>("keywords");
  auto row = [](const char* kind, const char* file, const QStringList& keywords) {
    QTest::newRow(kind) << QString(kind) << QString(file) << keywords;
  };
  row("missing images file", "nothing-images-idx3-ubyte", {"not found"});
  row("missing idx split", "t10k-images-idx3-ubyte", {"not found"});
  row("missing cifar batch", "data_batch_3.bin", {"not found"});
  row("missing stl labels", "train_y.bin", {"not found"});
  row("idx images wrong magic", "train-images-idx3-ubyte", {"wrong magic", "0x00000801"});
  row("idx labels wrong magic", "train-labels-idx1-ubyte", {"wrong magic", "0x00000803"});
  row("idx truncated header", "train-images-idx3-ubyte", {"truncated"});
  row("idx truncated raw", "train-images-idx3-ubyte", {"truncated", "5 images", "3 images"});
  row("idx truncated gz", "train-images-idx3-ubyte.gz", {"truncated", "5 images"});
  row("idx cut gz stream", "train-images-idx3-ubyte.gz", {"truncated"});
  row("idx truncated labels", "train-labels-idx1-ubyte", {"truncated"});
  row("idx count mismatch", "train-labels-idx1-ubyte", {"label count 4", "image count 5"});
  row("idx zero images", "train-images-idx3-ubyte", {"zero images"});
  row("fashion label out of range", "train-labels-idx1-ubyte", {"out of range", "label 10"});
  row("cifar10 truncated", "test_batch.bin", {"truncated"});
  row("cifar10 zero images", "test_batch.bin", {"zero images"});
  row("cifar10 label out of range", "test_batch.bin", {"out of range", "label 10"});
  row("cifar100 label out of range", "train.bin", {"out of range", "label 100"});
  row("stl10 truncated", "train_X.bin", {"truncated"});
  row("stl10 count mismatch", "train_y.bin", {"label count 2", "image count 3"});
  row("stl10 label zero", "train_y.bin", {"out of range", "label 0"});
  row("stl10 label eleven", "train_y.bin", {"out of range", "label 11"});
  row("folder mixed sizes", "b.pgm", {"6x4", "5x4", "a.pgm"});
  row("folder zero images", "d", {"zero images"});
  row("folder undecodable", "broken.png", {"cannot decode"});
  row("folder split missing", "unlabeled", {"not found"});
  row("unknown split", "d", {"split", "valid"});
  row("idx unlabeled split", "d", {"split", "unlabeled"});
}

void TestImageSet::brokenInput() {
  QFETCH(QString, kind);
  QFETCH(QString, file);
  QFETCH(QStringList, keywords);
  QTemporaryDir tmp;
  const QString d = tmp.path() + "/d";
  QDir().mkpath(d);
  DataSpec spec;
  spec.path = d.toStdString();
  auto labels5 = [&](const QString& name) { writeRaw(d + "/" + name, idxLabels({0, 1, 2, 3, 4})); };

  if (kind == "missing images file") {
    spec.path = (d + "/nothing-images-idx3-ubyte").toStdString();
  } else if (kind == "missing idx split") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 5));
    spec.split = "test";
  } else if (kind == "missing cifar batch") {
    makeCifar10Folder(d, 3);
  } else if (kind == "missing stl labels") {
    writeRaw(d + "/train_X.bin", stlImages(1));
  } else if (kind == "idx images wrong magic") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 5, 0, 0x801));
  } else if (kind == "idx labels wrong magic") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 5));
    writeRaw(d + "/train-labels-idx1-ubyte", idxLabels({0, 1, 2, 3, 4}, 5, 0x803));
  } else if (kind == "idx truncated header") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 0).left(10));
  } else if (kind == "idx truncated raw") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 3));
    labels5("train-labels-idx1-ubyte");
  } else if (kind == "idx truncated gz") {
    writeGz(d + "/train-images-idx3-ubyte.gz", idxImages(5, 4, 3, 3));
  } else if (kind == "idx cut gz stream") {
    // A gzip file cut short mid-stream (an interrupted download), not just a lying header.
    QByteArray big = be32(0x803) + be32(500) + be32(64) + be32(64);
    for (int i = 0; i < 500 * 64 * 64; ++i) big.append(static_cast<char>((i * 2654435761u) >> 24));
    writeGz(tmp.path() + "/full.gz", big);
    QFile full(tmp.path() + "/full.gz");
    QVERIFY(full.open(QIODevice::ReadOnly));
    writeRaw(d + "/train-images-idx3-ubyte.gz", full.readAll().left(int(full.size() / 2)));
  } else if (kind == "idx truncated labels") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 5));
    writeRaw(d + "/train-labels-idx1-ubyte", idxLabels({0, 1, 2}, 5));
  } else if (kind == "idx count mismatch") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(5, 4, 3, 5));
    writeRaw(d + "/train-labels-idx1-ubyte", idxLabels({0, 1, 2, 3}));
  } else if (kind == "idx zero images") {
    writeRaw(d + "/train-images-idx3-ubyte", idxImages(0, 4, 3, 0));
  } else if (kind == "fashion label out of range") {
    QDir().mkpath(tmp.path() + "/fashion");
    spec.path = (tmp.path() + "/fashion").toStdString();
    writeRaw(tmp.path() + "/fashion/train-images-idx3-ubyte", idxImages(2, 4, 3, 2));
    writeRaw(tmp.path() + "/fashion/train-labels-idx1-ubyte", idxLabels({3, 10}));
  } else if (kind == "cifar10 truncated") {
    writeRaw(d + "/test_batch.bin", cifar10Records(2, 0).chopped(5));
    spec.split = "test";
  } else if (kind == "cifar10 zero images") {
    writeRaw(d + "/test_batch.bin", QByteArray());
    spec.path = (d + "/test_batch.bin").toStdString();
  } else if (kind == "cifar10 label out of range") {
    writeRaw(d + "/test_batch.bin",
             cifarRecords(3, 0, [](int i) { return QByteArray(1, char(i == 2 ? 10 : 1)); }));
    spec.split = "test";
  } else if (kind == "cifar100 label out of range") {
    writeRaw(d + "/train.bin", cifarRecords(1, 0, [](int) { return QByteArray("\x01\x64", 2); }));
  } else if (kind == "stl10 truncated") {
    writeRaw(d + "/train_X.bin", stlImages(2).chopped(1));
    writeRaw(d + "/train_y.bin", bytes({1, 2}));
  } else if (kind == "stl10 count mismatch") {
    writeRaw(d + "/train_X.bin", stlImages(3));
    writeRaw(d + "/train_y.bin", bytes({1, 2}));
  } else if (kind == "stl10 label zero" || kind == "stl10 label eleven") {
    writeRaw(d + "/train_X.bin", stlImages(2));
    writeRaw(d + "/train_y.bin", bytes({5, kind.endsWith("zero") ? 0 : 11}));
  } else if (kind == "folder mixed sizes") {
    writePgm(d + "/cls/a.pgm", 5, 4, [](int, int) { return 0; });
    writePgm(d + "/cls/b.pgm", 6, 4, [](int, int) { return 0; });
  } else if (kind == "folder zero images") {
    QDir().mkpath(d + "/empty-class");
    spec.format = DataFormat::Folder;
  } else if (kind == "folder undecodable") {
    writePgm(d + "/cls/a.pgm", 5, 4, [](int, int) { return 0; });
    writeRaw(d + "/cls/broken.png", "this is not a png");
  } else if (kind == "folder split missing") {
    writePgm(d + "/train/cls/a.pgm", 2, 2, [](int, int) { return 0; });
    writePgm(d + "/test/cls/a.pgm", 2, 2, [](int, int) { return 0; });
    spec.split = "unlabeled";
  } else if (kind == "unknown split") {
    makeIdxFolder(d, false);
    spec.split = "valid";
  } else if (kind == "idx unlabeled split") {
    makeIdxFolder(d, false);
    spec.split = "unlabeled";
  } else {
    QFAIL("unknown case");
  }

  const QString msg = errorOf([&] { infomax::loadImageSet(spec); });
  QVERIFY2(!msg.isEmpty(), "no infomax::Error thrown");
  QVERIFY2(!msg.contains('\n'), qPrintable(msg));
  QVERIFY2(msg.contains(file), qPrintable("message does not name " + file + ": " + msg));
  for (const QString& k : keywords) QVERIFY2(msg.contains(k), qPrintable(k + " missing: " + msg));
}

void TestImageSet::absurdHeaderFailsFast_data() {
  QTest::addColumn<bool>("gz");
  QTest::addColumn<quint32>("count");
  QTest::addColumn<quint32>("side");
  QTest::addColumn<QString>("keyword");
  QTest::newRow("raw 2^30 of 40000x40000") << false << (1u << 30) << 40000u << "absurd";
  QTest::newRow("gz 2^31 of 60000x60000") << true << (1u << 31) << 60000u << "absurd";
  QTest::newRow("raw 2^31 of 28x28") << false << (1u << 31) << 28u << "absurd image count";
  QTest::newRow("raw 2^30 of 28x28") << false << (1u << 30) << 28u << "truncated";
  QTest::newRow("gz 2^30 of 4096x4096") << true << (1u << 30) << 4096u << "truncated";
}

// A lying header must be rejected quickly and without allocating what it claims.
void TestImageSet::absurdHeaderFailsFast() {
  QFETCH(bool, gz);
  QFETCH(quint32, count);
  QFETCH(quint32, side);
  QFETCH(QString, keyword);
  QTemporaryDir tmp;
  const QString file = tmp.path() + "/train-images-idx3-ubyte" + (gz ? ".gz" : "");
  writeData(file, idxImages(count, side, side, 0) + QByteArray(4096, '\x11'), gz);
  const long rssBefore = maxRssKb();
  QElapsedTimer timer;
  timer.start();
  const QString msg = errorOf([&] { load(file); });
  QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed()) + " ms"));
  QVERIFY2(maxRssKb() - rssBefore < 64 * 1024, "reader allocated far more than the file holds");
  QVERIFY2(msg.contains(file) && msg.contains(keyword), qPrintable(msg));
}

void TestImageSet::realFashionMnist() {
  const std::string path = infomax::defaultDataPath();
  if (!QFileInfo::exists(QString::fromStdString(path))) {
    const QString msg =
        errorOf([] { infomax::loadImageSet(DataSpec{infomax::defaultDataPath()}); });
    QVERIFY2(msg.contains("apt-get install dataset-fashion-mnist"), qPrintable(msg));
    QSKIP("dataset-fashion-mnist is not installed");
  }
  QCOMPARE(infomax::detectFormat(path), DataFormat::Idx);

  DataSpec spec;
  spec.path = path;
  spec.limit = 1000;
  const ImageSet train = infomax::loadImageSet(spec);
  QCOMPARE(train.count, 1000);
  QCOMPARE(train.channels, 1);
  QCOMPARE(train.height, 28);
  QCOMPARE(train.width, 28);
  QCOMPARE(train.labels.size(), std::size_t(1000));
  QCOMPARE(*std::min_element(train.labels.begin(), train.labels.end()), std::int64_t(0));
  QCOMPARE(*std::max_element(train.labels.begin(), train.labels.end()), std::int64_t(9));
  QCOMPARE(train.numClasses(), 10);
  QCOMPARE(QString::fromStdString(train.classNames[9]), QString("Ankle boot"));
  QVERIFY(*std::max_element(train.pixels.begin(), train.pixels.end()) > 200);
  QVERIFY(
      QString::fromStdString(infomax::describe(train))
          .startsWith("1000 images 1x28x28, 10 classes, idx from " + QString::fromStdString(path)));

  spec.split = "test";
  spec.limit = 0;
  const ImageSet test = infomax::loadImageSet(spec);
  QCOMPARE(test.count, 10000);
  QCOMPARE(test.pixels.size(), std::size_t(10000 * 28 * 28));
  std::vector<int> perClass(10, 0);
  for (std::int64_t l : test.labels) ++perClass[static_cast<std::size_t>(l)];
  for (int n : perClass) QCOMPARE(n, 1000);  // Fashion-MNIST test split is balanced
}

QTEST_GUILESS_MAIN(TestImageSet)
#include "test_imageset.moc"
