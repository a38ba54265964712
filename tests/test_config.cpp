// Tests of TrainConfig: JSON round trip, error messages, validation of absurd settings.
#include <QDir>
#include <QtTest>

#include "infomax/config.h"
#include "infomax/error.h"

using namespace infomax;

class TestConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTrip() {
    TrainConfig c;
    c.dataPath = "/tmp/x";
    c.format = DataFormat::Cifar10;
    c.mode = Mode::LocalGlobal;
    c.estimator = Estimator::Nwj;
    c.localHead = HeadKind::ConcatConv;
    c.globalHead = HeadKind::GlobalDisc;
    c.alpha = 0.5;
    c.yDecorrelation = 0.25;
    c.intensityJitter = 0.375;
    c.rotationDegrees = 12.5;
    c.erasing = 0.75;
    c.batch = 17;
    c.lr = 3e-4;
    c.seed = 12345678901ull;
    c.precision = Precision::Bf16;
    c.hflip = true;
    c.archJson = R"({"layers": []})";
    const std::string j = c.toJson();
    TrainConfig d = TrainConfig::fromJson(j);
    QCOMPARE(QString::fromStdString(d.toJson()), QString::fromStdString(j));
    QCOMPARE(d.batch, 17);
    QCOMPARE(d.yDecorrelation, 0.25);
    QCOMPARE(d.intensityJitter, 0.375);
    QCOMPARE(d.rotationDegrees, 12.5);
    QCOMPARE(d.erasing, 0.75);
    QCOMPARE(d.seed, 12345678901ull);
    QVERIFY(d.mode == Mode::LocalGlobal);
    QVERIFY(d.estimator == Estimator::Nwj);
    QVERIFY(d.precision == Precision::Bf16);
    QVERIFY(d.format == DataFormat::Cifar10);
  }

  void missingKeysKeepDefaults() {
    TrainConfig d = TrainConfig::fromJson(R"({"batch": 8})");
    QCOMPARE(d.batch, 8);
    QCOMPARE(d.lr, TrainConfig{}.lr);
  }

  void errorsNameTheKey_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("needle");
    QTest::newRow("unknown key") << R"({"batchsize": 8})" << "batchsize";
    QTest::newRow("wrong type") << R"({"batch": "eight"})" << "batch";
    QTest::newRow("bad enum") << R"({"estimator": "foo"})" << "foo";
    QTest::newRow("not json") << "{batch" << "not valid JSON";
    QTest::newRow("not object") << "[1,2]" << "object";
  }
  void errorsNameTheKey() {
    QFETCH(QString, json);
    QFETCH(QString, needle);
    try {
      TrainConfig::fromJson(json.toStdString(), "my.json");
      QFAIL("no error");
    } catch (const Error& e) {
      const QString msg = e.what();
      QVERIFY2(msg.contains(needle), qPrintable(msg));
      QVERIFY2(msg.contains("my.json"), qPrintable(msg));
    }
  }

  void validation_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("needle");
    QTest::newRow("batch 0") << R"({"batch": 0})" << "batch";
    QTest::newRow("batch 1") << R"({"batch": 1})" << "batch";
    QTest::newRow("negative lr") << R"({"lr": -0.1})" << "lr";
    QTest::newRow("nan-ish lr") << R"({"lr": 1e300})" << "lr";
    QTest::newRow("no term") << R"({"alpha": 0, "beta": 0})" << "alpha or beta";
    QTest::newRow("threads") << R"({"threads": 100000})" << "threads";
    QTest::newRow("device") << R"({"device": "tpu"})" << "device";
    QTest::newRow("head units") << R"({"head_units": 0})" << "head_units";
    QTest::newRow("epochs") << R"({"steps": 0, "epochs": 0})" << "epochs";
    QTest::newRow("negative gamma") << R"({"gamma": -1})" << "gamma";
    QTest::newRow("jitter 1") << R"({"intensity_jitter": 1})" << "intensity_jitter";
    QTest::newRow("rotation 200") << R"({"rotation_degrees": 200})" << "rotation_degrees";
    QTest::newRow("erasing 1.5") << R"({"random_erasing": 1.5})" << "random_erasing";
    QTest::newRow("negative decorrelation") << R"({"y_decorrelation": -0.5})" << "y_decorrelation";
    QTest::newRow("local global-disc") << R"({"local_head": "global-disc"})" << "local_head";
  }
  void validation() {
    QFETCH(QString, json);
    QFETCH(QString, needle);
    TrainConfig c = TrainConfig::fromJson(json.toStdString());
    try {
      c.validate();
      QFAIL("validate() accepted an absurd setting");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(needle), e.what());
    }
  }

  void defaultsAreValid() {
    TrainConfig c;
    c.validate();
    QVERIFY(c.mode == Mode::Local);
    QCOMPARE(c.alpha, 0.0);
    QCOMPARE(c.beta, 1.0);
    QCOMPARE(c.gamma, 0.1);
    QCOMPARE(c.headUnits, 2048);
    QCOMPARE(c.localFraction, 0.5);
  }

  // bf16 on the CPU is valid exactly where the CPU has native bf16; on CUDA the CPU does not
  // matter; auto and fp32 are valid everywhere.
  void bf16NeedsNativeSupportOnTheCpu() {
    TrainConfig c;
    c.precision = Precision::Bf16;
    bool refused = false;
    try {
      c.validate();
    } catch (const Error& e) {
      refused = true;
      QVERIFY2(QString(e.what()).startsWith("invalid setting: precision bf16"), e.what());
    }
    QCOMPARE(refused, !cpuHasNativeBf16());
    c.device = "cuda";
    c.validate();
    c.device = "cpu";
    for (Precision p : {Precision::Auto, Precision::Fp32}) {
      c.precision = p;
      c.validate();
    }
  }

  void totalSteps() {
    TrainConfig c;
    c.batch = 64;
    c.steps = 0;
    c.epochs = 2;
    QCOMPARE(c.totalSteps(60000), std::int64_t(2 * (60000 / 64)));
    c.steps = 7;
    QCOMPARE(c.totalSteps(60000), std::int64_t(7));
  }

  void lrScheduleFactors() {
    QCOMPARE(lrFactor(LrSchedule::Constant, 0.3, 0.7), 1.0);
    auto near = [](double a, double b) { return std::abs(a - b) < 1e-12; };
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0, 0), 1.0));
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0, 0.5), 0.5));
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0, 1), 0.0));
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0, 0.25), 0.5 * (1 + std::cos(M_PI / 4))));
    // Warm-up 0.2: linear to 1 at 0.2, then the cosine over the remaining 0.8.
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0.2, 0.1), 0.5));
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0.2, 0.2), 1.0));
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0.2, 0.6), 0.5));
    QVERIFY(lrFactor(LrSchedule::Cosine, 0.2, 0) > 0);  // the first step still moves
    QVERIFY(near(lrFactor(LrSchedule::Cosine, 0, 3), 0.0));  // progress is clamped
    TrainConfig c;
    c.lrSchedule = LrSchedule::Cosine;
    c.warmupFraction = 0.05;
    c.cosineScores = true;
    const auto back = TrainConfig::fromJson(c.toJson());
    QVERIFY(back.lrSchedule == LrSchedule::Cosine);
    QCOMPARE(back.warmupFraction, 0.05);
    QVERIFY(back.cosineScores);
    QVERIFY(lrScheduleFromString("constant") == LrSchedule::Constant);
    QVERIFY_THROWS_EXCEPTION(Error, lrScheduleFromString("step"));
    c.warmupFraction = 1;
    QVERIFY_THROWS_EXCEPTION(Error, c.validate());
  }

  void yDotNeedsTwoViews() {
    TrainConfig c;
    c.mode = Mode::Global;
    c.alpha = 1;
    c.beta = 0;
    c.globalHead = HeadKind::YDot;
    try {
      c.validate();
      QFAIL("y-dot with one view was accepted");
    } catch (const Error& e) {
      QVERIFY(QString(e.what()).contains("views 2"));
    }
    c.views = 2;
    c.validate();
    QVERIFY(headFromString("y-dot") == HeadKind::YDot);
    TrainConfig l;
    l.localHead = HeadKind::YDot;
    QVERIFY_THROWS_EXCEPTION(Error, l.validate());
  }

  void recipesAreValidConfigs() {
    // The shipped recipes (resources/recipes, docs/BENCHMARKS.md) load and validate, and are
    // the cross-view objectives they are documented as.
    const QByteArray root = qgetenv("INFOMAX_SOURCE_DIR");
    if (root.isEmpty()) QSKIP("INFOMAX_SOURCE_DIR is not set (run through ctest)");
    const QDir dir(QString::fromLocal8Bit(root) + QStringLiteral("/resources/recipes"));
    const QStringList files = dir.entryList({QStringLiteral("*.json")}, QDir::Files);
    QCOMPARE(files.size(), 2);
    for (const QString& f : files) {
      const TrainConfig c = TrainConfig::fromFile(dir.filePath(f).toStdString());
      c.validate();
      QCOMPARE(c.views, 2);
      QVERIFY(c.globalHead == HeadKind::YDot);
      QVERIFY(c.estimator == Estimator::Nce);
      QVERIFY(c.lrSchedule == LrSchedule::Cosine);
      QCOMPARE(c.minutes, 15.0);
    }
  }

  void namedDefaults() {
    QCOMPARE(TrainConfig::defaultsNames(), (std::vector<std::string>{"studio", "paper"}));
    // "paper" is a default-constructed config: the paper's DIM(L).
    QCOMPARE(TrainConfig::defaults("paper").toJson(), TrainConfig{}.toJson());
    const TrainConfig s = TrainConfig::defaults("studio");
    s.validate();
    QVERIFY(s.toJson() != TrainConfig{}.toJson());
    QCOMPARE(s.views, 2);
    QVERIFY(s.globalHead == HeadKind::YDot);
    QVERIFY(!s.localSameView);  // the local term crosses views, like the global one (AMDIM)
    QCOMPARE(s.erasing, 0.5);
    QVERIFY(s.mode == Mode::LocalGlobal && s.alpha > 0 && s.beta > 0);
    // Round trip: a run's config.json written from the preset reads back as the preset.
    QCOMPARE(TrainConfig::fromJson(s.toJson()).toJson(), s.toJson());
    QVERIFY_THROWS_EXCEPTION(Error, TrainConfig::defaults("fast"));
    const QByteArray root = qgetenv("INFOMAX_SOURCE_DIR");
    if (root.isEmpty()) QSKIP("INFOMAX_SOURCE_DIR is not set (run through ctest)");
    // The studio preset is the recipe the benchmarks measured (resources/recipes).
    const TrainConfig recipe = TrainConfig::fromFile(
        (QString::fromLocal8Bit(root) + QStringLiteral("/resources/recipes/cross-view-local.json"))
            .toStdString());
    QCOMPARE(recipe.toJson(), s.toJson());
  }

  void enumNames() {
    QVERIFY(estimatorFromString("infonce") == Estimator::Nce);
    QVERIFY(modeFromString("local+global") == Mode::LocalGlobal);
    QCOMPARE(QString(toString(Estimator::Dv)), QString("dv"));
    QVERIFY_THROWS_EXCEPTION(Error, headFromString("bogus"));
  }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "test_config.moc"
