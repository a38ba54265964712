// GUI benchmarks (docs/BENCHMARKS.md):
//   bench_gui responsiveness [--seconds S] [--warmup S] [--rounds N] [--threads N]
//                            [--user-ms M]   (the scripted user's interval; 0 = only watching)
//                            [--probe-ms P]  (the lateness probe's period, default 10)
//                            [--headless-nice N] (the headless trainer's nice; the window's
//                                                 worker runs at nice 4)
//     Trains the default model on Fashion-MNIST headless (Trainer on a thread, no GUI) and from
//     the main window (plot, status bar and a user zooming and hovering every 250 ms), in
//     alternating rounds. Reports training images/s of each and their ratio, and the GUI
//     thread's responsiveness: the lateness of a 10 ms precise timer (p50, p99, max), which
//     runs in the headless rounds too so that both carry the same instrument.
//   bench_gui plot [--points N] [--frames N]
//     Replot time of the metrics plot with N samples per curve through its min/max decimation,
//     against a baseline: the same points handed whole to QCustomPlot (its own adaptive
//     sampling), both zoomed and panned the same way.
// Run it on a quiet machine; under Xvfb or with QT_QPA_PLATFORM=offscreen.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <qcustomplot.h>
#include <QApplication>
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "infomax/config.h"
#include "infomax/imageset.h"
#include "infomax/trainer.h"
#include "mainwindow.h"
#include "metricsplot.h"
#include "runsetuppanel.h"
#include "trainingcontroller.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

double argValue(int argc, char** argv, const char* name, double fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atof(argv[i + 1]);
  return fallback;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

TrainConfig benchConfig(const QString& out, int threads) {
  TrainConfig c;  // the paper's DIM(L) (--defaults paper): Fashion-MNIST, dcgan28, local JSD, head 2048, batch 64
  c.steps = 1'000'000;
  c.logEvery = 2;  // what `infomax-studio --train` uses: the GUI's densest regular load
  c.checkpointEvery = 0;
  c.autosaveMinutes = 0;
  c.threads = threads;
  c.outDir = out.toStdString();
  return c;
}

// The instrument of both kinds of round: a precise timer on the calling (GUI) thread whose
// lateness is recorded. It wakes that thread 1000/ms times a second, and on two cores every wakeup
// preempts a training thread, so the headless rounds carry it too: the ratio then measures the
// window, not the instrument.
class LatenessProbe {
 public:
  explicit LatenessProbe(int ms) : m_ms(ms) {
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, [this] {
      const qint64 now = m_clock.nsecsElapsed();
      if (m_last >= 0) late.push_back(std::max(0.0, (now - m_last) / 1e6 - m_ms));
      m_last = now;
    });
    m_clock.start();
    m_timer.start(ms);
  }
  std::vector<double> late;

 private:
  int m_ms;
  QTimer m_timer;
  QElapsedTimer m_clock;
  qint64 m_last = -1;
};

// Images/s between the first sample at or after step s0 and the last one at or before step s1,
// timed by the trainer's own wall clock of those samples: whole steps over the time they took,
// without the quantisation of counting steps in a fixed window (one step is ~1.5% of a 30 s
// window here).
double rateFromSamples(const std::vector<MetricSample>& samples, std::int64_t s0, std::int64_t s1,
                       int batch) {
  const MetricSample* first = nullptr;
  const MetricSample* last = nullptr;
  for (const MetricSample& m : samples) {
    if (m.step >= s0 && !first) first = &m;
    if (m.step <= s1) last = &m;
  }
  if (!first || !last || last->step <= first->step || last->wallSeconds <= first->wallSeconds) {
    std::fprintf(stderr, "bench_gui: too few samples in the window (steps %lld-%lld)\n",
                 static_cast<long long>(s0), static_cast<long long>(s1));
    std::exit(1);
  }
  return double(last->step - first->step) * batch / (last->wallSeconds - first->wallSeconds);
}

// Runs the event loop for `seconds`.
void runLoop(double seconds) {
  QEventLoop loop;
  QTimer::singleShot(static_cast<int>(seconds * 1000), &loop, &QEventLoop::quit);
  loop.exec();
}

// Images/s of a headless run measured over `seconds` after `warmup`.
double headless(const QString& out, int threads, double warmup, double seconds, int probeMs,
                int nice) {
  Trainer trainer(benchConfig(out, threads));
  std::thread worker([&] {
#ifdef __linux__
    // The threads the trainer starts (OpenMP pool, prefetcher) inherit this.
    if (nice) setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
#endif
    trainer.run();
  });
  std::vector<MetricSample> samples;
  QTimer drain;  // what the CLI does with the samples; keeps the queue short
  QObject::connect(&drain, &QTimer::timeout, [&] {
    for (MetricSample& m : trainer.takeSamples()) samples.push_back(std::move(m));
  });
  drain.start(100);
  runLoop(warmup);
  LatenessProbe probe(probeMs);
  const std::int64_t s0 = trainer.step();
  runLoop(seconds);
  const std::int64_t s1 = trainer.step();
  trainer.stop();
  worker.join();
  for (MetricSample& m : trainer.takeSamples()) samples.push_back(std::move(m));
  return rateFromSamples(samples, s0, s1, trainer.config().batch);
}

struct GuiResult {
  double imagesPerSecond = 0;
  std::vector<double> lateMs;
};

GuiResult withGui(const QString& out, int threads, double warmup, double seconds, int userMs,
                  int probeMs) {
  GuiResult r;
  MainWindow w;
  w.resize(1400, 900);
  w.show();
  if (!w.startTraining(benchConfig(out, threads))) {
    std::fprintf(stderr, "bench_gui: cannot start: %s\n",
                 qPrintable(w.setupPanel()->validationMessage()));
    std::exit(1);
  }
  runLoop(warmup);
  MetricsPlot* plot = w.metricsPlot();
  // A user at work: zooms into the recent half, pans, hovers, then fits again.
  QTimer user;
  int tick = 0;
  QObject::connect(&user, &QTimer::timeout, [&] {
    auto* x = plot->plot()->axisRect(0)->axis(QCPAxis::atBottom);
    switch (tick++ % 4) {
      case 0:
        x->scaleRange(0.5, x->range().upper);
        plot->plot()->replot();
        break;
      case 1:
        x->moveRange(-x->range().size() * 0.1);
        plot->plot()->replot();
        break;
      case 2:
        plot->setCrosshair(x->range().center());
        break;
      default:
        plot->resetView();
    }
  });
  if (userMs > 0) user.start(userMs);
  LatenessProbe probe(probeMs);
  const std::int64_t s0 = w.controller()->step();
  runLoop(seconds);
  const std::int64_t s1 = w.controller()->step();
  r.lateMs = probe.late;
  user.stop();
  runLoop(1.2);  // the window pulls the samples up to s1 (it pulls at most once a second)
  r.imagesPerSecond =
      rateFromSamples(plot->samples(), s0, s1, w.controller()->runConfig().batch);
  QEventLoop done;
  QObject::connect(w.controller(), &TrainingController::finished, &done, &QEventLoop::quit);
  w.controller()->stop();
  if (w.controller()->isRunning()) done.exec();
  return r;
}

// One round in this process: `bench_gui round headless|gui ...`. Prints "RESULT <img/s>" and, for
// the GUI, "LATE <ms> <ms> ..." (the probe's lateness samples) for the parent to pool.
int oneRound(int argc, char** argv) {
  const bool gui = argc > 2 && std::strcmp(argv[2], "gui") == 0;
  const double seconds = argValue(argc, argv, "--seconds", 60);
  const double warmup = argValue(argc, argv, "--warmup", 15);
  const int threads = static_cast<int>(argValue(argc, argv, "--threads", 0));
  const int userMs = static_cast<int>(argValue(argc, argv, "--user-ms", 250));
  const int probeMs = std::max(1, static_cast<int>(argValue(argc, argv, "--probe-ms", 10)));
  const int headlessNice = static_cast<int>(argValue(argc, argv, "--headless-nice", 0));
  QTemporaryDir dir;
  const QString out = dir.filePath(QStringLiteral("run"));
  if (!gui) {
    std::printf("RESULT %.3f\n", headless(out, threads, warmup, seconds, probeMs, headlessNice));
    return 0;
  }
  const GuiResult g = withGui(out, threads, warmup, seconds, userMs, probeMs);
  std::printf("RESULT %.3f\nLATE", g.imagesPerSecond);
  for (double v : g.lateMs) std::printf(" %.4f", v);
  std::printf("\n");
  return 0;
}

// Alternating rounds, each in a fresh process of this program (so that no round inherits another's
// threads, heap or window), started one after another.
int responsiveness(int argc, char** argv) {
  const int rounds = static_cast<int>(argValue(argc, argv, "--rounds", 2));
  const int probeMs = std::max(1, static_cast<int>(argValue(argc, argv, "--probe-ms", 10)));
  QStringList passOn;
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], "--rounds") == 0)
      ++i;
    else
      passOn << QString::fromLocal8Bit(argv[i]);
  auto run = [&](const char* kind, std::vector<double>* late) {
    QProcess child;
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(),
                QStringList{QStringLiteral("round"), QString::fromLatin1(kind)} + passOn);
    if (!child.waitForFinished(-1) || child.exitStatus() != QProcess::NormalExit ||
        child.exitCode() != 0) {
      std::fprintf(stderr, "bench_gui: the %s round failed\n", kind);
      std::exit(1);
    }
    double ips = 0;
    for (const QByteArray& line : child.readAllStandardOutput().split('\n')) {
      const QList<QByteArray> f = line.split(' ');
      if (f.value(0) == "RESULT") ips = f.value(1).toDouble();
      if (f.value(0) == "LATE" && late)
        for (int i = 1; i < f.size(); ++i) late->push_back(f[i].toDouble());
    }
    return ips;
  };
  std::vector<double> head, gui, late;
  for (int round = 0; round < rounds; ++round) {
    head.push_back(run("headless", nullptr));
    std::printf("round %d headless: %.1f img/s\n", round + 1, head.back());
    std::fflush(stdout);
    std::vector<double> roundLate;
    gui.push_back(run("gui", &roundLate));
    late.insert(late.end(), roundLate.begin(), roundLate.end());
    std::printf("round %d with GUI: %.1f img/s, timer lateness p99 %.2f ms, max %.2f ms\n",
                round + 1, gui.back(), percentile(roundLate, 0.99), percentile(roundLate, 1.0));
    std::fflush(stdout);
  }
  double h = 0, g = 0;
  for (double v : head) h += v / head.size();
  for (double v : gui) g += v / gui.size();
  std::printf("\nheadless %.1f img/s, with GUI %.1f img/s: GUI/headless = %.3f (cost %.1f%%)\n", h,
              g, g / h, 100 * (1 - g / h));
  std::printf("GUI thread, %d ms timer lateness over %zu ticks: p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms\n",
              probeMs, late.size(), percentile(late, 0.5), percentile(late, 0.99),
              percentile(late, 1.0));
  return 0;
}

int plotBench(int argc, char** argv) {
  const int n = static_cast<int>(argValue(argc, argv, "--points", 1'000'000));
  const int frames = static_cast<int>(argValue(argc, argv, "--frames", 40));
  std::vector<MetricSample> samples(n);
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 0.05);
  for (int i = 0; i < n; ++i) {
    MetricSample& s = samples[i];
    s.step = i + 1;
    s.epoch = (i + 1) / 937.5;
    s.wallSeconds = (i + 1) * 0.8;
    s.loss = 1.0 / std::sqrt(i + 1.0) + noise(rng);
    s.local.loss = s.loss;
    s.local.mi = 3 - s.loss;
    s.local.posScore = 2 + noise(rng);
    s.local.negScore = -2 + noise(rng);
    s.imagesPerSecond = 80 + noise(rng) * 100;
  }
  samples[n / 3].loss = 50;  // a spike that must stay visible

  // The same zoom/pan script for both.
  auto script = [&](QCustomPlot* p, std::vector<double>* ms) {
    auto* x = p->axisRect(0)->axis(QCPAxis::atBottom);
    x->setRange(1, n);
    for (int f = 0; f < frames; ++f) {
      if (f % 10 == 0) x->setRange(1, n);
      else if (f % 2) x->scaleRange(0.7, x->range().center());
      else x->moveRange(x->range().size() * 0.2);
      QElapsedTimer t;
      t.start();
      p->replot();
      ms->push_back(t.nsecsElapsed() / 1e6);
    }
  };

  std::vector<double> ours, base;
  QElapsedTimer load;
  load.start();
  {
    MetricsPlot plot;
    plot.resize(1400, 900);
    plot.show();
    plot.setHistory(samples);
    const double loadMs = load.nsecsElapsed() / 1e6;
    plot.plot()->replot();
    script(plot.plot(), &ours);
    std::printf("decimated plot: %d samples x %d curves loaded in %.0f ms; %d points drawn per "
                "curve at full range\n",
                n, static_cast<int>(plot.curveNames().size()), loadMs,
                plot.drawnPointCount(QStringLiteral("loss")));
  }
  {
    // Baseline: the same curves handed whole to QCustomPlot (raw + smoothed per curve), which
    // then relies on its own adaptive sampling.
    QCustomPlot p;
    p.resize(1400, 900);
    p.show();
    load.restart();
    const int curves = 6;
    for (int c = 0; c < curves; ++c) {
      for (int layer = 0; layer < 2; ++layer) {
        QVector<double> k(n), v(n);
        for (int i = 0; i < n; ++i) {
          k[i] = samples[i].step;
          v[i] = c == 0 ? samples[i].loss : samples[i].local.mi + c;
        }
        QCPGraph* g = p.addGraph();
        g->setData(k, v, true);
        // The same pens as the metrics plot: faint 1 px raw line, 2 px smoothed line.
        g->setPen(layer == 0 ? QPen(QColor(31, 119, 180, 60), 1) : QPen(QColor(31, 119, 180), 2));
      }
    }
    std::printf("baseline QCustomPlot: %d x %d points loaded in %.0f ms\n", n, 2 * curves,
                load.nsecsElapsed() / 1e6);
    p.rescaleAxes();
    p.replot();
    script(&p, &base);
  }
  const double o50 = percentile(ours, 0.5), b50 = percentile(base, 0.5);
  std::printf("replot over %d zoom/pan frames: decimated p50 %.1f ms, max %.1f ms; baseline p50 "
              "%.1f ms, max %.1f ms; baseline/decimated = %.1fx\n",
              frames, o50, percentile(ours, 1.0), b50, percentile(base, 1.0), b50 / o50);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool known = argc >= 2 && (std::strcmp(argv[1], "responsiveness") == 0 ||
                                   std::strcmp(argv[1], "plot") == 0 ||
                                   std::strcmp(argv[1], "round") == 0);
  if (!known) {
    std::fprintf(stderr, "usage: bench_gui responsiveness [--seconds S] [--warmup S] [--rounds N] "
                         "[--threads N]\n       bench_gui plot [--points N] [--frames N]\n");
    return 2;
  }
  if (!qEnvironmentVariableIsSet("DISPLAY") && !qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("InfoMaxBench"));
  QApplication::setApplicationName(QStringLiteral("bench_gui"));
  if (std::strcmp(argv[1], "round") == 0) return oneRound(argc, argv);
  return std::strcmp(argv[1], "plot") == 0 ? plotBench(argc, argv) : responsiveness(argc, argv);
}
