// Tests of the Trainer on a Fashion-MNIST slice: determinism, resume equivalence, divergence
// handling, thread-safe controls, run-folder safety, and that local DIM actually learns.
#include <QDir>
#include <QtTest>

#include <QTemporaryDir>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "infomax/error.h"
#include "infomax/trainer.h"
#include "testsupport.h"

using namespace infomax;
namespace fs = std::filesystem;

namespace {

TrainConfig smallConfig() {
  TrainConfig c = test::smallRun(12, 640);
  c.seed = 7;
  return c;
}

std::vector<MetricSample> runAll(Trainer& t) {
  RunResult r = t.run();
  if (r.status != RunStatus::Finished) qWarning("run ended: %s", r.message.c_str());
  return t.takeSamples();
}

using test::haveData;

}  // namespace

class TestTrainer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void init() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
  }

  void deterministic() {
    Trainer a(smallConfig()), b(smallConfig());
    auto sa = runAll(a), sb = runAll(b);
    QCOMPARE(sa.size(), size_t(12));
    QCOMPARE(sb.size(), size_t(12));
    for (size_t i = 0; i < sa.size(); ++i) {
      QCOMPARE(sa[i].step, std::int64_t(i + 1));
      QCOMPARE(sa[i].loss, sb[i].loss);
      QCOMPARE(sa[i].local.mi, sb[i].local.mi);
    }
    // Logging every 3 steps publishes the mean of those steps' values.
    TrainConfig every3 = smallConfig();
    every3.logEvery = 3;
    Trainer d(every3);
    auto sd = runAll(d);
    QCOMPARE(sd.size(), size_t(4));
    for (size_t k = 0; k < sd.size(); ++k) {
      QCOMPARE(sd[k].step, std::int64_t(3 * k + 3));
      const double mean = (sa[3 * k].loss + sa[3 * k + 1].loss + sa[3 * k + 2].loss) / 3;
      const double mi = (sa[3 * k].local.mi + sa[3 * k + 1].local.mi + sa[3 * k + 2].local.mi) / 3;
      QVERIFY(std::abs(sd[k].loss - mean) <= 1e-9 * std::max(1.0, std::abs(mean)));
      QVERIFY(std::abs(sd[k].local.mi - mi) <= 1e-9 * std::max(1.0, std::abs(mi)));
    }
    // A different seed gives a different run.
    TrainConfig other = smallConfig();
    other.seed = 8;
    Trainer c(other);
    auto sc = runAll(c);
    QVERIFY(sc[0].loss != sa[0].loss);
  }

  void onlineKnnIsLoggedAndLeavesTrainingAlone() {
    TrainConfig off = smallConfig();
    off.evalEvery = 0;
    TrainConfig on = smallConfig();
    on.evalEvery = 4;
    on.evalImages = 200;  // 200 reference images, 100 test queries
    Trainer a(off), b(on);
    auto sa = runAll(a), sb = runAll(b);
    QCOMPARE(sb.size(), sa.size());
    for (size_t i = 0; i < sa.size(); ++i) {
      // Evaluating (eval mode, no autograd) changes nothing the training computes.
      QCOMPARE(sb[i].loss, sa[i].loss);
      QVERIFY(std::isnan(sa[i].knnAccuracy));
      const bool evalStep = sb[i].step % 4 == 0;
      QCOMPARE(std::isfinite(sb[i].knnAccuracy), evalStep);
      if (evalStep) {
        QVERIFY(sb[i].knnAccuracy >= 0 && sb[i].knnAccuracy <= 1);
        // Fashion-MNIST's ten classes: even an early encoder's kNN is far above chance.
        QVERIFY2(sb[i].knnAccuracy > 0.3, qPrintable(QString::number(sb[i].knnAccuracy)));
      }
    }
    // Settings out of range are refused.
    TrainConfig bad = smallConfig();
    bad.evalEvery = -1;
    QVERIFY_THROWS_EXCEPTION(Error, Trainer{bad});
    bad = smallConfig();
    bad.evalImages = 10;
    QVERIFY_THROWS_EXCEPTION(Error, Trainer{bad});
  }

  void resumeMatchesUninterruptedRun() {
    QTemporaryDir dir;
    TrainConfig full = smallConfig();
    full.steps = 10;
    full.hflip = true;
    full.cropPad = 2;
    Trainer a(full);
    auto sa = runAll(a);

    TrainConfig half = full;
    half.steps = 5;
    half.outDir = dir.filePath("run").toStdString();
    {
      Trainer b(half);
      RunResult r = b.run();
      QCOMPARE(r.status, RunStatus::Finished);
      QVERIFY(fs::exists(r.lastCheckpoint));
    }
    auto b2 = Trainer::resume(half.outDir, 5);
    QCOMPARE(b2->step(), std::int64_t(5));
    QCOMPARE(b2->totalSteps(), std::int64_t(10));
    auto sb = runAll(*b2);
    QCOMPARE(sb.size(), size_t(5));
    for (size_t i = 0; i < sb.size(); ++i) {
      QCOMPARE(sb[i].step, sa[i + 5].step);
      QVERIFY2(std::abs(sb[i].loss - sa[i + 5].loss) <= 1e-6 * std::max(1.0, std::abs(sa[i + 5].loss)),
               qPrintable(QString("step %1: %2 vs %3").arg(sb[i].step).arg(sb[i].loss).arg(sa[i + 5].loss)));
    }
    // metrics.csv holds each step once, in order.
    std::ifstream csv(half.outDir + "/metrics.csv");
    std::string line;
    std::getline(csv, line);
    QVERIFY(line.rfind("step,", 0) == 0);
    long expected = 1;
    while (std::getline(csv, line)) QCOMPARE(std::stol(line), expected++);
    QCOMPARE(expected, 11L);
  }

  // A run folder written before a metrics column existed (here: without decorrelation_loss, the
  // newest; and with the columns in another order) resumes without losing its rows: they are
  // re-mapped by column name, the new column left empty.
  void resumeKeepsMetricsOfAnOlderLayout() {
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.steps = 4;
    c.logEvery = 1;
    c.yDecorrelation = 0.5;
    c.outDir = dir.filePath("run").toStdString();
    {
      Trainer t(c);
      QCOMPARE(t.run().status, RunStatus::Finished);
    }
    const std::string path = c.outDir + "/metrics.csv";
    const auto& names = MetricSample::columns();
    const int dropped = static_cast<int>(names.size()) - 1;
    QCOMPARE(names[dropped], std::string("decorrelation_loss"));
    std::vector<std::vector<std::string>> rows;
    {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, ',')) cells.push_back(cell);
        if (line.back() == ',') cells.push_back("");
        QCOMPARE(cells.size(), names.size());
        rows.push_back(cells);
      }
    }
    QCOMPARE(rows.size(), size_t(5));  // header and 4 steps
    QVERIFY(!rows[4][dropped].empty());  // the penalty was logged
    {
      // The older layout: no decorrelation_loss, and loss moved before step.
      std::ofstream out(path, std::ios::trunc);
      for (const auto& r : rows) {
        std::vector<std::string> old = {r[4]};  // "loss"
        for (int i = 0; i < dropped; ++i)
          if (i != 4) old.push_back(r[i]);
        for (std::size_t i = 0; i < old.size(); ++i) out << (i ? "," : "") << old[i];
        out << "\n";
      }
    }
    auto t = Trainer::resume(c.outDir, 1);
    QCOMPARE(t->run().status, RunStatus::Finished);
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    std::string header;
    for (std::size_t i = 0; i < names.size(); ++i) header += (i ? "," : "") + names[i];
    QCOMPARE(line, header);
    for (int step = 1; step <= 5; ++step) {
      QVERIFY2(std::getline(in, line), "a row was lost");
      QCOMPARE(std::stol(line), long(step));
      if (step <= 4) {  // the old rows: the same values where they were, the new column empty
        std::string want;
        for (int i = 0; i < dropped; ++i) want += rows[step][i] + ",";
        QCOMPARE(line, want);
      }
    }
    QVERIFY(!std::getline(in, line));
  }

  // bf16 autocast: refused with a reason where the CPU lacks native bf16; where it has it, a run
  // with the prior (whose discriminator trains in fp32 outside autocast) trains, its first step's
  // loss is within bf16's precision of the fp32 run's, and its fp32 checkpoint resumes.
  void bf16WhereTheCpuHasIt() {
    QTemporaryDir dir;
    TrainConfig bf = smallConfig();
    bf.steps = 4;
    bf.precision = Precision::Bf16;
    QVERIFY(bf.gamma > 0);  // the prior term is on
    if (!cpuHasNativeBf16()) {
      try {
        Trainer refused(bf);
        QFAIL("bf16 was accepted on a CPU without native bf16");
      } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("bf16") != std::string::npos, e.what());
      }
      QSKIP("this CPU has no native bf16 (AVX-512 BF16 or AMX): only the refusal was tested");
    }
    bf.outDir = dir.filePath("bf16").toStdString();
    std::vector<MetricSample> sb;
    {
      Trainer b(bf);
      sb = runAll(b);
    }
    TrainConfig fp = bf;
    fp.precision = Precision::Fp32;
    fp.outDir.clear();
    Trainer f(fp);
    const auto sf = runAll(f);
    QCOMPARE(sb.size(), size_t(4));
    for (const MetricSample& m : sb) {
      QVERIFY(std::isfinite(m.loss));
      QVERIFY(std::isfinite(m.priorDiscLoss));
      QVERIFY(std::isfinite(m.local.mi));
    }
    // Same seed, weights and batch at step 1: bf16 keeps 8 bits of mantissa.
    QVERIFY2(std::abs(sb[0].loss - sf[0].loss) <= 0.05 * std::abs(sf[0].loss),
             qPrintable(QString("bf16 %1 vs fp32 %2").arg(sb[0].loss).arg(sf[0].loss)));
    auto resumed = Trainer::resume(bf.outDir, 2);
    QCOMPARE(resumed->config().precision, Precision::Bf16);
    const RunResult r = resumed->run();
    QCOMPARE(r.status, RunStatus::Finished);
    QCOMPARE(r.step, std::int64_t(6));
  }

  void nonFiniteStepIsRejected() {
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.outDir = dir.filePath("run").toStdString();
    Trainer t(c);
    t.injectNonFiniteAtStep(6);  // the 7th step (steps are counted from 0)
    RunResult r = t.run();
    QCOMPARE(r.status, RunStatus::Diverged);
    QCOMPARE(r.step, std::int64_t(6));
    QVERIFY2(QString::fromStdString(r.message).contains("non-finite") ||
                 QString::fromStdString(r.message).contains("nan"),
             r.message.c_str());
    QVERIFY(fs::exists(r.lastCheckpoint));
    // The kept state is the last good one: resuming continues from step 6 with finite losses.
    auto resumed = Trainer::resume(c.outDir, 3);
    QCOMPARE(resumed->step(), std::int64_t(6));
    auto s = runAll(*resumed);
    QCOMPARE(s.size(), size_t(3));
    for (const auto& m : s) QVERIFY(std::isfinite(m.loss));
  }

  void controlsFromAnotherThread() {
    TrainConfig c = smallConfig();
    c.steps = 100000;
    Trainer t(c);
    RunResult result;
    std::thread worker([&] { result = t.run(); });
    // Stop and join even when a check below fails, so a failure cannot abort the process.
    struct Joiner {
      Trainer& t;
      std::thread& w;
      ~Joiner() {
        t.stop();
        if (w.joinable()) w.join();
      }
    } joiner{t, worker};
    auto waitFor = [&](auto pred) {
      for (int i = 0; i < 1200 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return pred();
    };
    QVERIFY(waitFor([&] { return t.step() >= 3; }));
    t.pause();
    QVERIFY(t.isPaused());
    // The step in flight may finish (slowly, on a loaded machine: a step has taken more than
    // 400 ms while other builds ran); then the count must hold. Steady = unchanged for 3 s.
    auto last = t.step();
    auto quietSince = std::chrono::steady_clock::now();
    QVERIFY(waitFor([&] {
      const auto now = t.step();
      if (now != last) {
        last = now;
        quietSince = std::chrono::steady_clock::now();
      }
      return std::chrono::steady_clock::now() - quietSince >= std::chrono::seconds(3);
    }));
    const auto frozen = t.step();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    QCOMPARE(t.step(), frozen);
    t.setLearningRate(3e-3);
    t.resume();
    QVERIFY(waitFor([&] { return t.step() >= frozen + 3; }));
    t.stop();
    worker.join();
    QCOMPARE(result.status, RunStatus::Stopped);
    auto samples = t.takeSamples();
    QVERIFY(!samples.empty());
    QCOMPARE(samples.back().lr, 3e-3);
    QVERIFY_THROWS_EXCEPTION(Error, t.setLearningRate(-1));
  }

  void refusesToOverwriteARun() {
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.steps = 2;
    c.outDir = dir.filePath("run").toStdString();
    std::string ckpt;
    {
      Trainer t(c);
      ckpt = t.run().lastCheckpoint;
    }
    const auto size = fs::file_size(ckpt);
    try {
      Trainer again(c);
      QFAIL("overwrote a run");
    } catch (const Error& e) {
      QVERIFY(QString(e.what()).contains("already holds a run"));
    }
    QCOMPARE(fs::file_size(ckpt), size);
  }

  void autosaveByTime() {
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.steps = 6;
    c.checkpointEvery = 0;
    c.autosaveMinutes = 1e-6;  // due after every step
    c.outDir = dir.filePath("run").toStdString();
    Trainer t(c);
    QCOMPARE(t.run().status, RunStatus::Finished);
    // Intermediate checkpoints exist (the last three are kept: steps 4, 5 and the final 6).
    QVERIFY(fs::exists(c.outDir + "/checkpoints/step-0000000004.imx"));
    QVERIFY(fs::exists(c.outDir + "/checkpoints/step-0000000005.imx"));
    QVERIFY(fs::exists(c.outDir + "/checkpoints/step-0000000006.imx"));
    QVERIFY(!fs::exists(c.outDir + "/checkpoints/step-0000000003.imx"));
  }

  void timeBudgetEndsTheRun() {
    // A budget spent after the first step: the run ends there, finished and checkpointed; a
    // resume with more budget continues from that step.
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.steps = 1000;
    c.minutes = 1e-9;
    c.outDir = dir.filePath("run").toStdString();
    RunResult r;
    {
      Trainer t(c);
      r = t.run();
    }
    QCOMPARE(r.status, RunStatus::Finished);
    QVERIFY2(QString::fromStdString(r.message).contains("time budget"), r.message.c_str());
    QVERIFY(r.step >= 1 && r.step < 1000);
    QVERIFY(fs::exists(r.lastCheckpoint));
    TrainConfig bad = smallConfig();
    bad.minutes = -1;
    QVERIFY_THROWS_EXCEPTION(Error, Trainer{bad});
  }

  void cosineScheduleSetsEachStepsRate() {
    // Step k (1-based) runs at progress (k - 1) / total: warm-up over the first 2 of 12 steps,
    // then the cosine down to the last step's small rate; the logged lr is the rate used.
    TrainConfig c = smallConfig();
    c.lr = 1e-3;
    c.lrSchedule = LrSchedule::Cosine;
    c.warmupFraction = 2.0 / 12;
    Trainer t(c);
    auto s = runAll(t);
    QCOMPARE(s.size(), size_t(12));
    for (size_t i = 0; i < s.size(); ++i) {
      const double want = 1e-3 * lrFactor(LrSchedule::Cosine, 2.0 / 12, i / 12.0);
      QVERIFY2(std::abs(s[i].lr - want) < 1e-12, qPrintable(QString::number(i)));
    }
    QVERIFY(s[0].lr < 1e-4);                       // warming up
    QVERIFY(std::abs(s[2].lr - 1e-3) < 1e-12);     // the peak
    QVERIFY(s[11].lr < 0.05e-3 && s[11].lr > 0);  // near the end of the decay
    // A constant schedule logs the base rate on every step.
    Trainer plain(smallConfig());
    auto p = runAll(plain);
    QCOMPARE(p.back().lr, 1e-4);
  }

  void corruptCheckpoints() {
    QTemporaryDir dir;
    TrainConfig c = smallConfig();
    c.steps = 2;
    c.outDir = dir.filePath("run").toStdString();
    std::string ckpt;
    {
      Trainer t(c);
      ckpt = t.run().lastCheckpoint;
    }
    std::string bytes;
    {
      std::ifstream in(ckpt, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto expectError = [&](const std::string& content, const QString& needle) {
      const std::string path = dir.filePath("bad.imx").toStdString();
      std::ofstream(path, std::ios::binary).write(content.data(), content.size());
      try {
        Trainer::resume(path);
        QFAIL("accepted a broken checkpoint");
      } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(needle), e.what());
        QVERIFY2(QString(e.what()).contains("bad.imx"), e.what());
      }
    };
    expectError(bytes.substr(0, bytes.size() / 2), "truncated");
    std::string flipped = bytes;
    flipped[flipped.size() / 2] ^= 0x40;
    expectError(flipped, "checksum");
    expectError("hello world, not a checkpoint", "magic");
    expectError(std::string(), "magic");
    QVERIFY(describeCheckpoint(ckpt).find("\"step\": 2") != std::string::npos);
    // A folder where a checkpoint file is expected (was std::bad_alloc: read as a file of 2^63
    // bytes).
    const std::string folder = dir.filePath("folder.imx").toStdString();
    QVERIFY(QDir().mkpath(QString::fromStdString(folder)));
    try {
      describeCheckpoint(folder);
      QFAIL("accepted a folder as a checkpoint");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("folder.imx") && QString(e.what()).contains("folder"), e.what());
    }
  }

  void localDimLossFalls() {
    TrainConfig c;
    c.dataLimit = 4096;
    c.batch = 32;
    c.headUnits = 64;
    c.steps = 160;
    c.logEvery = 1;
    c.checkpointEvery = 0;
    c.lr = 1e-3;
    c.gamma = 0;
    Trainer t(c);
    auto s = runAll(t);
    QCOMPARE(s.size(), size_t(160));
    double first = 0, last = 0, miFirst = 0, miLast = 0;
    for (int i = 0; i < 20; ++i) {
      first += s[i].local.loss / 20;
      last += s[s.size() - 1 - i].local.loss / 20;
      miFirst += s[i].local.mi / 20;
      miLast += s[s.size() - 1 - i].local.mi / 20;
    }
    qInfo("local JSD loss %.4f -> %.4f, DV readout %.3f -> %.3f nats", first, last, miFirst, miLast);
    QVERIFY2(last < first - 0.1, qPrintable(QString("%1 -> %2").arg(first).arg(last)));
    QVERIFY(miLast > miFirst);
  }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"
