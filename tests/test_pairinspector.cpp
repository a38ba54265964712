// Tests of the pair inspector: an anchor's positives are exactly its own feature locations, its
// negatives are the other images' locations, and every score equals the one the local DIM loss
// computes for that batch (checked against an independently rebuilt model's all-pairs scores).
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <set>

#include "archspec.h"
#include "checkpoint.h"
#include "estimators.h"
#include "heads.h"
#include "infomax/error.h"
#include "infomax/imageset.h"
#include "infomax/pairinspector.h"
#include "infomax/trainer.h"
#include "loader.h"
#include "model.h"
#include "testsupport.h"

using namespace infomax;

namespace {

using test::haveData;

TrainConfig tinyRun(const QString& dir, Estimator e = Estimator::Jsd) {
  TrainConfig c = test::smallRun(3, 256, dir.toStdString());
  c.autosaveMinutes = 0;
  c.estimator = e;
  return c;
}

std::string trainTiny(const TrainConfig& cfg) {
  Trainer t(cfg);
  const RunResult r = t.run();
  if (r.lastCheckpoint.empty()) throw Error("no checkpoint written: " + r.message);
  return r.lastCheckpoint;
}

ImageSet testImages() {
  DataSpec spec;
  spec.path = defaultDataPath();
  spec.split = "test";
  spec.limit = 64;
  return loadImageSet(spec);
}

// The checkpoint's model rebuilt independently of the inspector (every location scored, as the
// inspector does), run on `batch` in training mode as a training step does.
DimOutputs rebuildAndScore(const std::string& ckpt, const PairInspector& inspector,
                           const ImageSet& set, const std::vector<int>& batch, TrainConfig* cfgOut) {
  const CheckpointFile file = readCheckpointFile(ckpt);
  TrainConfig cfg = configFromCheckpoint(file, ckpt);
  cfg.localFraction = 1.0;
  const auto& info = inspector.architecture();
  if (cfg.archJson.empty()) cfg.archJson = resolveArchitecture(cfg.arch, info.inHeight, info.inWidth);
  const auto arch =
      parseArchitecture(cfg.archJson, info.inChannels, info.inHeight, info.inWidth, "test");
  DimModel model(arch, cfg);
  torch::serialize::InputArchive archive;
  openArchive(file, ckpt, archive);
  loadModuleState(archive, *model, "model/", "test");
  model->train();
  torch::NoGradGuard noGrad;
  const std::vector<std::int64_t> idx(batch.begin(), batch.end());
  const auto x = imagesToTensor(set, idx, info.inHeight, info.inWidth);
  *cfgOut = cfg;
  return model->forward(x, nullptr, nullptr, nullptr, 0);
}

// The estimator's loss recomputed from the inspector's positive and negative scores.
double lossOf(const PairInspection& r, Estimator estimator) {
  const auto pos = torch::from_blob(const_cast<float*>(r.posScores.data()),
                                    {r.count(), r.locations()}, torch::kFloat);
  const auto neg = torch::from_blob(const_cast<float*>(r.negScores.data()),
                                    {r.count(), r.negativesPerAnchor}, torch::kFloat);
  return estimateMI(estimator, pos, neg).loss.item<double>();
}

}  // namespace

class TestPairInspector : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  std::string m_jsd;

 private Q_SLOTS:
  void initTestCase() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    m_jsd = trainTiny(tinyRun(m_dir.filePath(QStringLiteral("jsd"))));
  }

  void positivesAreTheAnchorsOwnLocations() {
    auto inspector = PairInspector::fromCheckpoint(m_jsd);
    const ImageSet set = testImages();
    const std::vector<int> batch = PairInspector::sampleBatch(set.count, 12, 5, 7);
    const PairInspection r = inspector->inspect(set, batch);
    const int n = r.count(), m = r.locations();
    QCOMPARE(n, 12);
    QCOMPARE(r.indices.front(), 7);
    QVERIFY(m > 1);
    QCOMPARE(r.localLayer, inspector->architecture().localLayer);
    QCOMPARE(r.negativesPerAnchor, (n - 1) * m);  // encode-and-dot: every other location
    for (int a = 0; a < n; ++a) {
      const auto pairs = r.pairsFor(a);
      QCOMPARE(static_cast<int>(pairs.size()), m + (n - 1) * m);
      std::set<int> posLocations;
      std::set<std::pair<int, int>> negatives;
      for (const auto& p : pairs) {
        if (p.positive) {
          QCOMPARE(p.image, a);
          posLocations.insert(p.location);
        } else {
          QVERIFY(p.image != a);
          QVERIFY(p.image >= 0 && p.image < n);
          negatives.insert({p.image, p.location});
        }
      }
      QCOMPARE(static_cast<int>(posLocations.size()), m);  // each of its own locations once
      QCOMPARE(*posLocations.begin(), 0);
      QCOMPARE(*posLocations.rbegin(), m - 1);
      QCOMPARE(static_cast<int>(negatives.size()), (n - 1) * m);  // every other patch once
    }
    // Inputs are the images as fed: in [-1, 1], one per batch position.
    QCOMPARE(r.inputs.size(),
             static_cast<std::size_t>(n) * r.channels * r.height * r.width);
    const auto [lo, hi] = std::minmax_element(r.inputs.begin(), r.inputs.end());
    QVERIFY(*lo >= -1.0f && *hi <= 1.0f);
  }

  void scoresEqualTheLossOfTheBatch() {
    auto inspector = PairInspector::fromCheckpoint(m_jsd);
    const ImageSet set = testImages();
    const std::vector<int> batch = PairInspector::sampleBatch(set.count, 10, 11);
    const PairInspection r = inspector->inspect(set, batch);

    // Rebuild the model independently and score the same batch as training does.
    TrainConfig cfg;
    const DimOutputs out = rebuildAndScore(m_jsd, *inspector, set, batch, &cfg);
    QVERIFY(out.localScores.all.defined());
    const auto all = out.localScores.all.contiguous();  // N x N x M: anchor, image, location
    const auto acc = all.accessor<float, 3>();
    const int n = r.count();
    for (int a = 0; a < n; ++a)
      for (const auto& p : r.pairsFor(a))
        QCOMPARE(p.score, acc[a][p.image][p.location]);
    // The loss the trainer minimises for this batch, from the inspector's own scores.
    QCOMPARE(lossOf(r, cfg.estimator), out.local->loss.item<double>());
    QCOMPARE(r.stats.loss, out.local->loss.item<double>());
    QVERIFY(std::isfinite(r.stats.mi));
    QVERIFY(r.stats.accuracy >= 0 && r.stats.accuracy <= 1);
    // JSD weights are the discriminator's probabilities.
    for (std::size_t i = 0; i < r.posScores.size(); i += 7)
      QVERIFY(std::abs(r.posWeights[i] - 1.0f / (1.0f + std::exp(-r.posScores[i]))) < 1e-5f);
  }

  // A run with a score scale and soft clipping: the inspector shows the scores the estimator
  // received, c * tanh(scale * s / c) of the raw scores s, and the loss recomputed from them.
  void scaledAndClippedScoresAreWhatTheEstimatorSaw() {
    TrainConfig train = tinyRun(m_dir.filePath(QStringLiteral("clip")));
    train.scoreScale = 0.5;
    train.scoreClip = 2.0;
    const std::string ckpt = trainTiny(train);
    auto inspector = PairInspector::fromCheckpoint(ckpt);
    const ImageSet set = testImages();
    const std::vector<int> batch = PairInspector::sampleBatch(set.count, 8, 4);
    const PairInspection r = inspector->inspect(set, batch);
    TrainConfig cfg;
    const DimOutputs out = rebuildAndScore(ckpt, *inspector, set, batch, &cfg);
    QCOMPARE(cfg.scoreScale, 0.5);
    QCOMPARE(cfg.scoreClip, 2.0);
    const auto all = out.localScores.all.contiguous();
    const auto acc = all.accessor<float, 3>();
    int checked = 0, clipMatters = 0;
    for (int a = 0; a < r.count(); ++a)
      for (const auto& p : r.pairsFor(a)) {
        const float raw = acc[a][p.image][p.location];
        const float expected = 2.0f * std::tanh(0.5f * raw / 2.0f);
        QVERIFY2(std::abs(p.score - expected) < 1e-5f,
                 qPrintable(QStringLiteral("%1 vs %2").arg(p.score).arg(expected)));
        QVERIFY(std::abs(p.score) < 2.0f);
        clipMatters += std::abs(expected - 0.5f * raw) > 1e-3f;  // not just the scale
        ++checked;
      }
    QVERIFY(checked > 0);
    QVERIFY2(clipMatters > checked / 10, qPrintable(QStringLiteral("%1 of %2").arg(clipMatters).arg(checked)));
    QCOMPARE(lossOf(r, cfg.estimator), out.local->loss.item<double>());
    QCOMPARE(r.stats.loss, out.local->loss.item<double>());
  }

  void infoNceWeightsAreProbabilities() {
    const std::string ckpt =
        trainTiny(tinyRun(m_dir.filePath(QStringLiteral("nce")), Estimator::Nce));
    auto inspector = PairInspector::fromCheckpoint(ckpt);
    const ImageSet set = testImages();
    const PairInspection r = inspector->inspect(set, PairInspector::sampleBatch(set.count, 6, 3));
    QCOMPARE(r.estimator, Estimator::Nce);
    // Positive m of anchor a: exp(T+) / (exp(T+) + sum of the anchor's exp(T-)).
    const int q = r.negativesPerAnchor;
    double sumNeg = 0;
    for (int k = 0; k < q; ++k) sumNeg += std::exp(double(r.negScores[k]));
    const double expected = std::exp(double(r.posScores[0])) / (std::exp(double(r.posScores[0])) + sumNeg);
    QVERIFY(std::abs(r.posWeights[0] - expected) < 1e-5 * std::max(1.0, expected));
    for (float w : r.posWeights) QVERIFY(w > 0 && w < 1);
  }

  void concatHeadNegativesComeFromShiftedImages() {
    TrainConfig cfg = tinyRun(m_dir.filePath(QStringLiteral("concat")));
    cfg.localHead = HeadKind::ConcatConv;
    cfg.concatNegatives = 2;
    auto inspector = PairInspector::fromCheckpoint(trainTiny(cfg));
    const ImageSet set = testImages();
    const PairInspection r = inspector->inspect(set, PairInspector::sampleBatch(set.count, 5, 9));
    QCOMPARE(r.negativesPerAnchor, 2 * r.locations());
    for (int a = 0; a < r.count(); ++a)
      for (const auto& p : r.pairsFor(a))
        if (!p.positive) QVERIFY(p.image == (a + 1) % 5 || p.image == (a + 2) % 5);
  }

  void refusesWhatItCannotInspect() {
    auto inspector = PairInspector::fromCheckpoint(m_jsd);
    const ImageSet set = testImages();
    QVERIFY_THROWS_EXCEPTION(Error, inspector->inspect(set, {3}));        // no negatives
    QVERIFY_THROWS_EXCEPTION(Error, inspector->inspect(set, {0, 99999}));  // no such image
    TrainConfig g = tinyRun(m_dir.filePath(QStringLiteral("global")));
    g.mode = Mode::Global;
    g.alpha = 1;
    g.steps = 1;
    try {
      PairInspector::fromCheckpoint(trainTiny(g));
      QFAIL("a run without a local term was accepted");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("no local DIM term") != std::string::npos, e.what());
    }
    QVERIFY_THROWS_EXCEPTION(Error, PairInspector::fromCheckpoint("/nonexistent/run"));
  }

  void sampledBatchesAreDistinctAndRepeatable() {
    const auto a = PairInspector::sampleBatch(100, 20, 42, 13);
    QCOMPARE(a, PairInspector::sampleBatch(100, 20, 42, 13));
    QVERIFY(a != PairInspector::sampleBatch(100, 20, 43, 13));
    QCOMPARE(a.front(), 13);
    QCOMPARE(std::set<int>(a.begin(), a.end()).size(), std::size_t{20});
    for (int i : a) QVERIFY(i >= 0 && i < 100);
    QCOMPARE(PairInspector::sampleBatch(5, 20, 1).size(), std::size_t{5});
  }
};

QTEST_GUILESS_MAIN(TestPairInspector)
#include "test_pairinspector.moc"
