// End-to-end tests of evaluateCheckpoint and the baselines through the public API: a 20-step run
// on a Fashion-MNIST slice is probed on every layer with every probe, and bad inputs are errors
// that name the problem.
#include <QtTest>

#include <QTemporaryDir>

#include <filesystem>

#include "infomax/error.h"
#include "infomax/evaluation.h"
#include "infomax/trainer.h"
#include "testsupport.h"

using namespace infomax;
namespace fs = std::filesystem;

namespace {

TrainConfig smallConfig() {
  TrainConfig c = test::smallRun(20, 640);
  c.logEvery = 10;
  c.seed = 7;
  return c;
}

EvalOptions smallOptions() {
  EvalOptions o;
  o.trainLimit = 1000;
  o.testLimit = 500;
  o.linearEpochs = 3;
  o.threads = 1;
  return o;
}

using test::haveData;

}  // namespace

class TestEval : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::string m_run;

 private Q_SLOTS:
  void initTestCase() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QVERIFY(m_dir.isValid());
    TrainConfig c = smallConfig();
    c.outDir = m_dir.filePath("run").toStdString();
    Trainer t(c);
    const RunResult r = t.run();
    QVERIFY2(r.status == RunStatus::Finished, r.message.c_str());
    m_run = c.outDir;
  }

  void probeTableLikeThePaper() {
    auto result = [](const char* source, const char* layer, const char* probe, double acc) {
      ProbeResult r;
      r.source = source;
      r.layer = layer;
      r.probe = probe;
      r.accuracy = acc;
      return r;
    };
    const std::vector<ProbeResult> results = {
        result("checkpoint", "conv", "linear", 0.8812), result("checkpoint", "conv", "knn", 0.85),
        result("checkpoint", "y", "linear", 0.79),      result("checkpoint", "y", "knn", 0.8123),
        result("pixels", "pixels", "linear", 0.843)};
    QCOMPARE(QString::fromStdString(probeTable(results, "csv")),
             QStringLiteral("model,layer,linear_accuracy_pct,knn_accuracy_pct\n"
                            "checkpoint,conv,88.12,85.00\n"
                            "checkpoint,y,79.00,81.23\n"
                            "pixels,pixels,84.30,\n"));
    QCOMPARE(QString::fromStdString(probeTable(results, "markdown")),
             QStringLiteral("| model | layer | linear (%) | knn (%) |\n"
                            "| --- | --- | ---: | ---: |\n"
                            "| checkpoint | conv | 88.12 | 85.00 |\n"
                            "| checkpoint | y | 79.00 | 81.23 |\n"
                            "| pixels | pixels | 84.30 |  |\n"));
    QVERIFY_THROWS_EXCEPTION(Error, probeTable(results, "html"));
  }

  void checkpointOnEveryLayerAndProbe() {
    EvalOptions o = smallOptions();
    o.probes = {"linear", "knn", "mlp"};
    std::vector<double> fractions;
    o.progress = [&](double f, const std::string& what) {
      QVERIFY(!what.empty());
      fractions.push_back(f);
    };
    QElapsedTimer timer;
    timer.start();
    const auto results = evaluateCheckpoint(m_run, o);
    qInfo("evaluateCheckpoint: %lld ms", static_cast<long long>(timer.elapsed()));
    const std::map<std::string, int> dims = {{"conv", 128 * 7 * 7}, {"fc", 1024}, {"y", 64}};
    QCOMPARE(results.size(), size_t(9));
    std::size_t i = 0;
    for (const char* layer : {"conv", "fc", "y"})
      for (const char* probe : {"linear", "knn", "mlp"}) {
        const ProbeResult& r = results[i++];
        qInfo("%-5s %-6s %.1f%% (%.2f s)", r.layer.c_str(), r.probe.c_str(), r.accuracy * 100,
              r.seconds);
        QCOMPARE(r.layer, std::string(layer));
        QCOMPARE(r.probe, std::string(probe));
        QCOMPARE(r.source, std::string("checkpoint"));
        QVERIFY2(r.accuracy > 0.1 && r.accuracy <= 1.0, qPrintable(QString::number(r.accuracy)));
        QCOMPARE(r.featureDim, dims.at(layer));
        QCOMPARE(r.trainCount, 1000);
        QCOMPARE(r.testCount, 500);
        QVERIFY(r.seconds >= 0);
      }
    QVERIFY(!fractions.empty());
    QVERIFY(std::is_sorted(fractions.begin(), fractions.end()));
    QCOMPARE(fractions.back(), 1.0);

    // The checkpoint file itself gives the same numbers as its run folder (same seed).
    EvalOptions one = smallOptions();
    one.layers = {"y"};
    one.probes = {"linear"};
    const auto a = evaluateCheckpoint(latestCheckpoint(m_run), one);
    QCOMPARE(a.size(), size_t(1));
    QCOMPARE(a[0].accuracy, results[6].accuracy);
  }

  void baselines() {
    const TrainConfig cfg = checkpointConfig(m_run);
    QCOMPARE(cfg.seed, std::uint64_t(7));
    EvalOptions o = smallOptions();
    o.layers = {"fc"};
    const auto pixels = evaluateRawPixels(cfg, o);
    QCOMPARE(pixels.size(), size_t(2));
    for (const auto& r : pixels) {
      QCOMPARE(r.layer, std::string("pixels"));
      QCOMPARE(r.source, std::string("pixels"));
      QCOMPARE(r.featureDim, 28 * 28);
      QVERIFY2(r.accuracy > 0.5, qPrintable(QString::number(r.accuracy)));  // ~80% on 1000 images
    }
    const auto random = evaluateRandomEncoder(cfg, o);
    QCOMPARE(random.size(), size_t(2));
    QCOMPARE(random[0].source, std::string("random"));
    QCOMPARE(random[0].layer, std::string("fc"));
    QCOMPARE(random[0].featureDim, 1024);
    QVERIFY(random[0].accuracy > 0.1);
  }

  void randomEncoderIsTheRunsStartingPoint() {
    // A checkpoint written before the first step holds the initial weights; the random-encoder
    // baseline seeded with the run's seed must be that very encoder.
    TrainConfig c = smallConfig();
    const std::string path = m_dir.filePath("step0.imx").toStdString();
    {
      Trainer t(c);
      t.saveCheckpoint(path);
    }
    EvalOptions o = smallOptions();
    o.layers = {"fc", "y"};
    o.seed = c.seed;
    const auto initial = evaluateCheckpoint(path, o);
    const auto random = evaluateRandomEncoder(c, o);
    QCOMPARE(initial.size(), random.size());
    for (std::size_t i = 0; i < initial.size(); ++i)
      QCOMPARE(random[i].accuracy, initial[i].accuracy);
  }

  void errorsNameTheProblem() {
    auto expectError = [](const std::function<void()>& fn, const QString& needle) {
      try {
        fn();
        QFAIL("no error");
      } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(needle), e.what());
      }
    };
    EvalOptions o = smallOptions();
    o.layers = {"penultimate"};
    expectError([&] { evaluateCheckpoint(m_run, o); }, "penultimate");
    o = smallOptions();
    o.probes = {"svm"};
    expectError([&] { evaluateCheckpoint(m_run, o); }, "svm");
    o = smallOptions();
    o.knnK = 0;
    expectError([&] { evaluateCheckpoint(m_run, o); }, "k must be");
    expectError(
        [&] { evaluateCheckpoint(m_dir.filePath("nowhere.imx").toStdString(), smallOptions()); },
        "nowhere.imx");
    // One IDX file has no separate test split: probing it would score on the training images.
    o = smallOptions();
    o.dataPath = defaultDataPath() + "/train-images-idx3-ubyte.gz";
    expectError([&] { evaluateCheckpoint(m_run, o); }, "no separate test split");
  }
};

QTEST_GUILESS_MAIN(TestEval)
#include "test_eval.moc"
