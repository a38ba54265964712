// Tests of nearest-neighbour search: exact top-k against a brute-force reference for both
// metrics, precision@k on clustered vs shuffled labels, an image-file query returning the image
// itself first, patch search, and the embedding's PCA and singular spectrum.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "infomax/error.h"
#include "infomax/imageset.h"
#include "infomax/neighbours.h"
#include "infomax/trainer.h"
#include "testsupport.h"

using namespace infomax;

namespace {

using test::haveData;

std::vector<float> randomVectors(int n, int d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<std::size_t>(n) * d);
  for (auto& x : v) x = g(rng);
  return v;
}

// Brute force: distances from row q (or vector) to every row, sorted (distance, index).
std::vector<std::pair<double, int>> bruteForce(const std::vector<float>& v, int n, int d,
                                               const float* q, Metric m) {
  std::vector<std::pair<double, int>> all;
  double qq = 0;
  for (int j = 0; j < d; ++j) qq += double(q[j]) * q[j];
  for (int i = 0; i < n; ++i) {
    double dot = 0, xx = 0, l2 = 0;
    for (int j = 0; j < d; ++j) {
      const double x = v[static_cast<std::size_t>(i) * d + j];
      dot += x * q[j];
      xx += x * x;
      l2 += (x - q[j]) * (x - q[j]);
    }
    all.push_back({m == Metric::Cosine ? 1 - dot / std::sqrt(xx * qq) : std::sqrt(l2), i});
  }
  std::sort(all.begin(), all.end());
  return all;
}

void writePgm(const std::string& path, const ImageSet& set, int index) {
  std::ofstream f(path, std::ios::binary);
  f << "P5\n" << set.width << " " << set.height << "\n255\n";
  f.write(reinterpret_cast<const char*>(set.image(index)), set.imageBytes());
}

}  // namespace

class TestNeighbours : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

 private Q_SLOTS:
  void topKMatchesBruteForce_data() {
    QTest::addColumn<int>("metric");
    QTest::newRow("cosine") << static_cast<int>(Metric::Cosine);
    QTest::newRow("l2") << static_cast<int>(Metric::L2);
  }
  void topKMatchesBruteForce() {
    QFETCH(int, metric);
    const Metric m = static_cast<Metric>(metric);
    const int n = 3000, d = 24;
    const auto v = randomVectors(n, d, 3);
    auto index = NeighbourIndex::fromVectors(v, n, d);
    const auto q = randomVectors(1, d, 99);
    const auto ref = bruteForce(v, n, d, q.data(), m);
    const auto hits = index->query(q, 10, m);
    QCOMPARE(hits.size(), std::size_t{10});
    for (int i = 0; i < 10; ++i) {
      QCOMPARE(hits[i].index, ref[i].second);
      QVERIFY(std::abs(hits[i].distance - ref[i].first) < 1e-4 * std::max(1.0, ref[i].first));
    }
    // A row's own query: itself first at distance 0 when included, left out otherwise.
    const auto self = index->queryIndex(17, 3, m, true);
    QCOMPARE(self.front().index, 17);
    QVERIFY(std::abs(self.front().distance) < 1e-3);
    const auto others = index->queryIndex(17, 3, m);
    for (const auto& h : others) QVERIFY(h.index != 17);
    // Batched queries agree with single ones.
    const auto batch = index->queryRows({17, 400, 2999}, 5, m);
    QCOMPARE(batch.size(), std::size_t{3});
    const auto single = index->queryIndex(400, 5, m);
    for (int i = 0; i < 5; ++i) QCOMPARE(batch[1][i].index, single[i].index);
  }

  void precisionSeesClustersNotShuffledLabels() {
    // 10 tight clusters: neighbours share labels; the same vectors with shuffled labels do not.
    const int per = 200, classes = 10, d = 16, n = per * classes;
    std::mt19937_64 rng(5);
    std::normal_distribution<float> g;
    std::vector<float> centres(classes * d), v(static_cast<std::size_t>(n) * d);
    for (auto& c : centres) c = 5 * g(rng);
    std::vector<std::int64_t> labels(n);
    for (int i = 0; i < n; ++i) {
      labels[i] = i % classes;
      for (int j = 0; j < d; ++j) v[static_cast<std::size_t>(i) * d + j] = centres[labels[i] * d + j] + 0.3f * g(rng);
    }
    auto clustered = NeighbourIndex::fromVectors(v, n, d, labels);
    QVERIFY(clustered->precisionAtK(10, Metric::Cosine, 500, 1) > 0.98);
    std::shuffle(labels.begin(), labels.end(), rng);
    auto shuffled = NeighbourIndex::fromVectors(v, n, d, labels);
    const double chance = shuffled->precisionAtK(10, Metric::L2, 500, 1);
    QVERIFY2(chance > 0.05 && chance < 0.16, qPrintable(QString::number(chance)));
    QVERIFY(std::isnan(NeighbourIndex::fromVectors(v, n, d)->precisionAtK(10, Metric::L2)));
  }

  void spectrumAndPca() {
    // Vectors on a 2-D plane inside 8 dimensions: two non-zero singular values, and the PCA
    // plane reproduces the pairwise distances.
    const int n = 500, d = 8;
    std::mt19937_64 rng(2);
    std::normal_distribution<float> g;
    std::vector<float> v(static_cast<std::size_t>(n) * d, 0.f);
    std::vector<std::pair<float, float>> plane(n);
    for (int i = 0; i < n; ++i) {
      const float a = 3 * g(rng), b = g(rng);
      plane[i] = {a, b};
      v[i * d + 1] = a;
      v[i * d + 5] = b;
    }
    auto index = NeighbourIndex::fromVectors(v, n, d);
    const auto sv = index->singularValues();
    QCOMPARE(sv.size(), std::size_t{8});
    QVERIFY(std::is_sorted(sv.rbegin(), sv.rend()));
    QVERIFY(sv[0] > sv[1] && sv[1] > 1.0);
    QVERIFY(sv[2] < 1e-3 * sv[1]);  // collapse to 2 dimensions is visible
    const auto p = index->pca2();
    QCOMPARE(p.size(), std::size_t{2 * n});
    for (int i = 1; i < 20; ++i) {
      const double da = std::hypot(plane[i].first - plane[0].first, plane[i].second - plane[0].second);
      const double dp = std::hypot(p[2 * i] - p[0], p[2 * i + 1] - p[1]);
      QVERIFY(std::abs(da - dp) < 1e-3 * std::max(1.0, da));
    }
  }

  void checkpointIndexFindsTheQueryImageFirst() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    TrainConfig c;
    c.dataLimit = 256;
    c.batch = 16;
    c.headUnits = 32;
    c.threads = 1;
    c.steps = 3;
    c.checkpointEvery = 0;
    c.autosaveMinutes = 0;
    c.outDir = m_dir.filePath(QStringLiteral("run")).toStdString();
    {
      Trainer t(c);
      QVERIFY(!t.run().lastCheckpoint.empty());
    }
    NeighbourOptions o;
    o.split = "test";
    o.limit = 600;
    o.patchImages = 100;
    o.threads = 1;
    double last = -1;
    o.progress = [&](double f, const std::string&) {
      QVERIFY(f >= last);
      last = f;
    };
    auto index = NeighbourIndex::build(c.outDir, o);
    QCOMPARE(last, 1.0);
    QCOMPARE(index->count(), 600);
    QCOMPARE(index->layer(), std::string("y"));
    QVERIFY(index->images() && index->architecture());
    // An image file of data-set image 123, preprocessed like training, finds image 123 first.
    const std::string file = m_dir.filePath(QStringLiteral("query.pgm")).toStdString();
    writePgm(file, *index->images(), 123);
    const auto q = index->embedImageFile(file);
    QCOMPARE(static_cast<int>(q.size()), index->dim());
    for (Metric m : {Metric::Cosine, Metric::L2}) {
      const auto hits = index->query(q, 5, m);
      QCOMPARE(hits.front().index, 123);
      QVERIFY(hits.front().distance < 1e-3);
      QCOMPARE(hits.front().label, index->images()->labels[123]);
    }
    const double p = index->precisionAtK(10, Metric::Cosine, 200);
    QVERIFY(p > 0 && p <= 1);
    // Patch search: other images' locations, each with its input rectangle.
    const auto patches = index->queryPatch(5, 3, 3, 8);
    QCOMPARE(patches.size(), std::size_t{8});
    for (const auto& h : patches) {
      QVERIFY(h.image != 5 && h.image < 100);
      QVERIFY(h.region.bottom > h.region.top && h.region.right > h.region.left);
    }
    QVERIFY(std::is_sorted(patches.begin(), patches.end(),
                           [](const auto& a, const auto& b) { return a.distance < b.distance; }));
    // Errors name the problem.
    QVERIFY_THROWS_EXCEPTION(Error, index->embedImageFile("/nonexistent/x.png"));
    QVERIFY_THROWS_EXCEPTION(Error, index->queryPatch(5, 99, 0, 3));
    QVERIFY_THROWS_EXCEPTION(Error, index->queryIndex(600, 3, Metric::L2));
    NeighbourOptions bad = o;
    bad.layer = "nope";
    QVERIFY_THROWS_EXCEPTION(Error, NeighbourIndex::build(c.outDir, bad));
  }

  void badVectorsAreRefused() {
    QVERIFY_THROWS_EXCEPTION(Error, NeighbourIndex::fromVectors({1, 2, 3}, 2, 2));
    QVERIFY_THROWS_EXCEPTION(Error, NeighbourIndex::fromVectors({1, 2, 3, 4}, 2, 2, {1}));
    auto index = NeighbourIndex::fromVectors({1, 0, 0, 1}, 2, 2);
    QVERIFY_THROWS_EXCEPTION(Error, index->query({1, 2, 3}, 1, Metric::Cosine));
    QVERIFY_THROWS_EXCEPTION(Error, index->embedImageFile("x.png"));
    QCOMPARE(index->query({1, 0}, 10, Metric::L2).size(), std::size_t{2});  // k > count
  }
};

QTEST_GUILESS_MAIN(TestNeighbours)
#include "test_neighbours.moc"
