// Data-parallel training over c10d/Gloo, black-box: the real `infomax` binary ($INFOMAX_CLI) is
// started as two ranks on 127.0.0.1 with QProcess. Checks that both ranks end with identical
// parameters (and can resume together), that 2 ranks x batch 32 equal 1 process x batch 64 with
// 2 negative groups for a model without batch norm (and, with --dist-gather-negatives, 1 process
// x batch 64 with all 64 images as negatives), that a run resumes with another world size, and
// that a dead or missing peer makes a rank fail with a clear error within its timeout instead of
// hanging.

#include <QtTest>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>

namespace {

const char* kDefaultCli = "/work/build/app/infomax";
const char* kData = "/usr/share/datasets/fashion-mnist";

QString cli() {
  const QByteArray env = qgetenv("INFOMAX_CLI");
  return env.isEmpty() ? QString::fromLatin1(kDefaultCli) : QString::fromLocal8Bit(env);
}

// A TCP port that was free a moment ago (the kernel's pick for port 0).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// The tiny run every case trains: 256 Fashion-MNIST images, a 32-wide head, one thread.
QStringList tinyRun() {
  return {QStringLiteral("--defaults"), QStringLiteral("paper"), QStringLiteral("--data"),
          QString::fromLatin1(kData), QStringLiteral("--data-limit"), QStringLiteral("256"), QStringLiteral("--head-units"), QStringLiteral("32"),
          QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--precision"),
          QStringLiteral("fp32"), QStringLiteral("--quiet"),
          QStringLiteral("--json")};
}

QStringList rankArgs(int world, int rank, int port) {
  return {QStringLiteral("--world-size"), QString::number(world), QStringLiteral("--rank"),
          QString::number(rank), QStringLiteral("--master"),
          QStringLiteral("127.0.0.1:%1").arg(port)};
}

struct Proc {
  std::unique_ptr<QProcess> p = std::make_unique<QProcess>();
  QString describe() {
    return QStringLiteral("exit %1\n--- stdout:\n%2\n--- stderr:\n%3")
        .arg(p->exitCode())
        .arg(QString::fromUtf8(p->readAllStandardOutput()),
             QString::fromUtf8(p->readAllStandardError()));
  }
};

Proc start(const QStringList& args, const QString& extraEnv = QString()) {
  Proc r;
  r.p->setProgram(cli());
  r.p->setArguments(args);
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                        "INFOMAX_TEST_HOOK_DELAY_MS"})
    env.remove(QString::fromLatin1(v));
  if (const auto eq = extraEnv.indexOf(QLatin1Char('=')); eq > 0)
    env.insert(extraEnv.left(eq), extraEnv.mid(eq + 1));
  r.p->setProcessEnvironment(env);
  r.p->start();
  return r;
}

// Waits for every process; true when all exited with code 0.
bool finishAll(std::vector<Proc>& ps, QString* why, int timeoutMs = 120000) {
  bool ok = true;
  for (auto& pr : ps) {
    if (!pr.p->waitForFinished(timeoutMs)) {
      pr.p->kill();
      pr.p->waitForFinished(5000);
      *why += QStringLiteral("timed out\n");
      ok = false;
    }
    if (pr.p->exitStatus() != QProcess::NormalExit || pr.p->exitCode() != 0) ok = false;
  }
  if (!ok)
    for (auto& pr : ps) *why += pr.describe() + QLatin1Char('\n');
  return ok;
}

QVector<float> readFloats(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  const QByteArray b = f.readAll();
  QVector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.constData(), static_cast<std::size_t>(v.size()) * 4);
  return v;
}

double maxAbsDiff(const QVector<float>& a, const QVector<float>& b) {
  if (a.size() != b.size() || a.isEmpty()) return INFINITY;
  double m = 0;
  for (int i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

// Share of the values that differ by more than tol.
double shareAbove(const QVector<float>& a, const QVector<float>& b, double tol) {
  if (a.size() != b.size() || a.isEmpty()) return 1;
  int n = 0;
  for (int i = 0; i < a.size(); ++i) n += std::abs(double(a[i]) - double(b[i])) > tol;
  return double(n) / a.size();
}

// An encoder without batch norm (and the concat-conv local head, which has none either), so a
// rank's batch statistics cannot make 2 x 32 differ from 1 x 64.
const char* kNoBnArch = R"({
  "name": "nobn28",
  "layers": [
    {"type": "conv", "out": 16, "kernel": 4, "stride": 2, "padding": 1},
    {"type": "relu"},
    {"type": "conv", "out": 32, "kernel": 4, "stride": 2, "padding": 1},
    {"type": "relu", "name": "local"},
    {"type": "flatten"},
    {"type": "linear", "out": 32, "name": "y"}
  ],
  "outputs": {"local": "local", "y": "y"}
})";

QString writeNoBnArch(const QTemporaryDir& dir) {
  const QString arch = dir.filePath(QStringLiteral("nobn.json"));
  QFile f(arch);
  if (f.open(QIODevice::WriteOnly)) f.write(kNoBnArch);
  return arch;
}

// The settings of the equivalence tests: the BN-free model, augmentation on, a large lr.
QStringList noBnRun(const QString& arch) {
  return tinyRun() + QStringList{QStringLiteral("--arch"),
                                 arch,
                                 QStringLiteral("--local-head"),
                                 QStringLiteral("concat-conv"),
                                 QStringLiteral("--crop-pad"),
                                 QStringLiteral("2"),
                                 QStringLiteral("--hflip"),
                                 QStringLiteral("--lr"),
                                 QStringLiteral("1e-3"),
                                 QStringLiteral("--seed"),
                                 QStringLiteral("7")};
}

// max |a - b| / max |b|: a relative difference of two gradients.
double relativeDiff(const QVector<float>& a, const QVector<float>& b) {
  double scale = 0;
  for (float v : b) scale = std::max(scale, double(std::abs(v)));
  return scale > 0 ? maxAbsDiff(a, b) / scale : INFINITY;
}

// `got` must equal `want` to float rounding, while `control` (another objective) moves most
// weights. Adam divides by sqrt(v): where a gradient is near zero, summation-order rounding (the
// all-reduce adds in another order than one process) can flip its sign and move that weight by
// up to lr (1e-3) per step, so single weights may differ by a few 1e-4 (seen: 6.5e-6 and 4.9e-4
// on different runs). What must hold: almost every weight agrees to float rounding.
void expectEquivalent(const QVector<float>& got, const QVector<float>& want,
                      const QVector<float>& control, const char* what) {
  const double d = maxAbsDiff(got, want), c = maxAbsDiff(want, control);
  const double off = shareAbove(got, want, 1e-5), ctlOff = shareAbove(want, control, 1e-5);
  qInfo("%s: max |diff| %.3g, %.4f%% of weights off by > 1e-5; control: %.3g, %.1f%%", what, d,
        100 * off, c, 100 * ctlOff);
  QVERIFY2(d <= 2 * 3 * 1e-3, qPrintable(QString::number(d)));  // 2 lr per step, 3 steps
  QVERIFY2(off < 0.005, qPrintable(QString::number(off)));
  QVERIFY2(ctlOff > 0.2, qPrintable(QString::number(ctlOff)));
  QVERIFY2(c > d, qPrintable(QStringLiteral("%1 vs %2").arg(c).arg(d)));
}

}  // namespace

class TestDistributed : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    if (!QFileInfo::exists(cli())) QSKIP("infomax binary not built");
    if (!QFileInfo::exists(QString::fromLatin1(kData))) QSKIP("Fashion-MNIST not installed");
  }

  // Two ranks train 3 steps of the default (batch-norm) model: identical parameters on both,
  // only rank 0 writes the run folder; then both resume from that checkpoint for 2 more steps.
  void twoRanksAgreeAndResume() {
    QTemporaryDir dir;
    const QString run = dir.filePath(QStringLiteral("run"));
    const QString dump = dir.filePath(QStringLiteral("p{rank}.bin"));
    int port = freePort();
    std::vector<Proc> ps;
    for (int r = 0; r < 2; ++r)
      ps.push_back(start(QStringList{QStringLiteral("train")} + tinyRun() + rankArgs(2, r, port) +
                         QStringList{QStringLiteral("--batch"), QStringLiteral("8"),
                                     QStringLiteral("--steps"), QStringLiteral("3"),
                                     QStringLiteral("--log-every"), QStringLiteral("1"),
                                     QStringLiteral("--out"), run, QStringLiteral("--dump-params"),
                                     dump}));
    QString why;
    QVERIFY2(finishAll(ps, &why), qPrintable(why));
    const QJsonObject r0 = QJsonDocument::fromJson(ps[0].p->readAllStandardOutput()).object();
    const QJsonObject r1 = QJsonDocument::fromJson(ps[1].p->readAllStandardOutput()).object();
    QCOMPARE(r0.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
    QCOMPARE(r1.value(QStringLiteral("rank")).toInt(), 1);
    QCOMPARE(r1.value(QStringLiteral("run_dir")).toString(), QString());  // rank 1 writes nothing
    QVERIFY(r0.value(QStringLiteral("gradient_bytes_per_step")).toDouble() > 0);
    const auto p0 = readFloats(dir.filePath(QStringLiteral("p0.bin")));
    const auto p1 = readFloats(dir.filePath(QStringLiteral("p1.bin")));
    QVERIFY(!p0.isEmpty());
    QCOMPARE(p0.size(), p1.size());
    QVERIFY2(std::memcmp(p0.constData(), p1.constData(), p0.size() * 4) == 0,
             qPrintable(QStringLiteral("max |diff| %1").arg(maxAbsDiff(p0, p1))));
    QVERIFY(QFileInfo::exists(run + QStringLiteral("/checkpoints/step-0000000003.imx")));
    QFile csv(run + QStringLiteral("/metrics.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QCOMPARE(csv.readAll().count('\n'), 4);  // header + 3 rows, from rank 0 alone

    port = freePort();
    std::vector<Proc> rs;
    for (int r = 0; r < 2; ++r)
      rs.push_back(start(QStringList{QStringLiteral("resume"), run, QStringLiteral("--steps"),
                                     QStringLiteral("2"), QStringLiteral("--json"),
                                     QStringLiteral("--quiet"), QStringLiteral("--dump-params"),
                                     dump} +
                         rankArgs(2, r, port)));
    QVERIFY2(finishAll(rs, &why), qPrintable(why));
    const auto q0 = readFloats(dir.filePath(QStringLiteral("p0.bin")));
    const auto q1 = readFloats(dir.filePath(QStringLiteral("p1.bin")));
    QCOMPARE(q0.size(), p0.size());
    QVERIFY(maxAbsDiff(q0, p0) > 0);  // it trained
    QVERIFY(std::memcmp(q0.constData(), q1.constData(), q0.size() * 4) == 0);
    QVERIFY(QFileInfo::exists(run + QStringLiteral("/checkpoints/step-0000000005.imx")));

    // A world size that cannot split the global batch (2 x 8 = 16) evenly is refused before any
    // rendezvous (resumeWithOtherWorldSize covers the ones that can).
    Proc three = start(QStringList{QStringLiteral("resume"), run, QStringLiteral("--steps"),
                                   QStringLiteral("1"), QStringLiteral("--quiet")} +
                       rankArgs(3, 0, freePort()));
    QVERIFY(three.p->waitForFinished(60000));
    QCOMPARE(three.p->exitCode(), 1);
    const QByteArray err = three.p->readAllStandardError();
    QVERIFY2(err.contains("world size 2") && err.contains("divides 16"), err.constData());
  }

  // No batch norm anywhere: 2 ranks x 32 images end where 1 process x 64 images with 2 negative
  // groups ends (same data order and augmentation), within float rounding; 1 x 64 with negatives
  // across the whole batch is the control showing the comparison is sensitive.
  void twoRanksEqualOneProcessWithGlobalBatch() {
    QTemporaryDir dir;
    const QString arch = writeNoBnArch(dir);
    const QStringList common =
        noBnRun(arch) + QStringList{QStringLiteral("--steps"), QStringLiteral("3")};
    const int port = freePort();
    std::vector<Proc> ps;
    for (int r = 0; r < 2; ++r)
      ps.push_back(start(QStringList{QStringLiteral("train")} + common + rankArgs(2, r, port) +
                         QStringList{QStringLiteral("--batch"), QStringLiteral("32"),
                                     QStringLiteral("--out"), dir.filePath(QStringLiteral("two")),
                                     QStringLiteral("--dump-params"),
                                     dir.filePath(QStringLiteral("two{rank}.bin"))}));
    ps.push_back(start(QStringList{QStringLiteral("train")} + common +
                       QStringList{QStringLiteral("--batch"), QStringLiteral("64"),
                                   QStringLiteral("--negative-groups"), QStringLiteral("2"),
                                   QStringLiteral("--out"), dir.filePath(QStringLiteral("one")),
                                   QStringLiteral("--dump-params"),
                                   dir.filePath(QStringLiteral("one.bin"))}));
    ps.push_back(start(QStringList{QStringLiteral("train")} + common +
                       QStringList{QStringLiteral("--batch"), QStringLiteral("64"),
                                   QStringLiteral("--out"), dir.filePath(QStringLiteral("ctl")),
                                   QStringLiteral("--dump-params"),
                                   dir.filePath(QStringLiteral("ctl.bin"))}));
    QString why;
    QVERIFY2(finishAll(ps, &why), qPrintable(why));
    const auto two = readFloats(dir.filePath(QStringLiteral("two0.bin")));
    const auto one = readFloats(dir.filePath(QStringLiteral("one.bin")));
    const auto ctl = readFloats(dir.filePath(QStringLiteral("ctl.bin")));
    const auto rank1 = readFloats(dir.filePath(QStringLiteral("two1.bin")));
    QCOMPARE(two, rank1);  // both ranks agree bit for bit
    expectEquivalent(two, one, ctl, "2 x 32 vs 1 x 64 (2 groups)");
  }

  // With --dist-gather-negatives and no batch norm, 2 ranks x 32 compute the gradient of 1
  // process x 64 with negatives from all 64 images (InfoNCE, whose per-anchor softmax couples
  // every negative; local concat-conv and global-disc heads: the gathered feature codes'
  // gradients must flow back to the rank that owns them). Compared on the first step's averaged
  // gradients: after a few Adam steps at lr 1e-3 the two runs' parameters drift apart from float
  // rounding alone (a B x 64 matrix product and two B x 32 ones plus an all-reduce add in other
  // orders; Adam divides by sqrt(v) and so magnifies differences in near-zero gradients). The
  // control is 1 x 64 with 2 negative groups, i.e. what the ranks compute without the gather.
  void gatherNegativesEqualsOneProcessWithAllNegatives() {
    QTemporaryDir dir;
    const QString arch = writeNoBnArch(dir);
    const QStringList common =
        noBnRun(arch) + QStringList{QStringLiteral("--estimator"),   QStringLiteral("nce"),
                                    QStringLiteral("--mode"),        QStringLiteral("local+global"),
                                    QStringLiteral("--global-head"), QStringLiteral("global-disc"),
                                    QStringLiteral("--steps"),       QStringLiteral("1")};
    const int port = freePort();
    std::vector<Proc> ps;
    for (int r = 0; r < 2; ++r)
      ps.push_back(
          start(QStringList{QStringLiteral("train")} + common + rankArgs(2, r, port) +
                QStringList{QStringLiteral("--batch"), QStringLiteral("32"),
                            QStringLiteral("--dist-gather-negatives"), QStringLiteral("--out"),
                            dir.filePath(QStringLiteral("two")), QStringLiteral("--dump-params"),
                            dir.filePath(QStringLiteral("two{rank}.bin"))}));
    ps.push_back(
        start(QStringList{QStringLiteral("train")} + common +
              QStringList{QStringLiteral("--batch"), QStringLiteral("64"), QStringLiteral("--out"),
                          dir.filePath(QStringLiteral("one")), QStringLiteral("--dump-params"),
                          dir.filePath(QStringLiteral("one.bin"))}));
    ps.push_back(start(QStringList{QStringLiteral("train")} + common +
                       QStringList{QStringLiteral("--batch"), QStringLiteral("64"),
                                   QStringLiteral("--negative-groups"), QStringLiteral("2"),
                                   QStringLiteral("--out"), dir.filePath(QStringLiteral("ctl")),
                                   QStringLiteral("--dump-params"),
                                   dir.filePath(QStringLiteral("ctl.bin"))}));
    QString why;
    QVERIFY2(finishAll(ps, &why), qPrintable(why));
    const QJsonObject r0 = QJsonDocument::fromJson(ps[0].p->readAllStandardOutput()).object();
    QVERIFY(r0.value(QStringLiteral("feature_gather_ms_per_step")).toDouble() > 0);
    QCOMPARE(readFloats(dir.filePath(QStringLiteral("two0.bin"))),
             readFloats(dir.filePath(QStringLiteral("two1.bin"))));
    const auto two = readFloats(dir.filePath(QStringLiteral("two0.bin.grad")));
    const auto one = readFloats(dir.filePath(QStringLiteral("one.bin.grad")));
    const auto ctl = readFloats(dir.filePath(QStringLiteral("ctl.bin.grad")));
    const double e = relativeDiff(two, one), c = relativeDiff(ctl, one);
    qInfo(
        "first step's gradient, max |diff| / max |g|: %.3g (2 x 32 gathered vs 1 x 64), %.3g "
        "(control: 1 x 64 in 2 groups)",
        e, c);
    QVERIFY2(e < 1e-3, qPrintable(QString::number(e)));                // measured 8e-5
    QVERIFY2(c > 10 * e && c > 1e-2, qPrintable(QString::number(c)));  // measured 0.11
  }

  // A run resumes with another world size as it would with its own: from a 1 x 64 run's step-3
  // checkpoint, 2 ranks x 32 (gathered negatives) compute step 4's gradient as 1 x 64 does; from
  // a 2 x 32 run's, 1 x 64 computes it as 2 x 32 does (same images, augmentation, location
  // subset and prior samples, so the sampler position was recomputed right).
  void resumeWithOtherWorldSize() {
    QTemporaryDir dir;
    const QString arch = writeNoBnArch(dir);
    const QStringList common =
        noBnRun(arch) + QStringList{QStringLiteral("--dist-gather-negatives"),
                                    QStringLiteral("--steps"), QStringLiteral("3")};
    auto path = [&](const QString& name) { return dir.filePath(name); };
    int port = freePort();
    std::vector<Proc> ps;
    ps.push_back(start(QStringList{QStringLiteral("train")} + common +
                       QStringList{QStringLiteral("--batch"), QStringLiteral("64"),
                                   QStringLiteral("--out"), path(QStringLiteral("x"))}));
    for (int r = 0; r < 2; ++r)
      ps.push_back(start(QStringList{QStringLiteral("train")} + common + rankArgs(2, r, port) +
                         QStringList{QStringLiteral("--batch"), QStringLiteral("32"),
                                     QStringLiteral("--out"), path(QStringLiteral("y"))}));
    QString why;
    QVERIFY2(finishAll(ps, &why), qPrintable(why));

    // One more step from each step-3 checkpoint, with 1 and with 2 ranks (the run with its own
    // world size first: both write the folder's step-4 checkpoint).
    const QString step3 = QStringLiteral("/checkpoints/step-0000000003.imx");
    auto resume = [&](const QString& run, int world, const QString& dump) {
      std::vector<Proc> rs;
      const int p = freePort();
      for (int r = 0; r < world; ++r)
        rs.push_back(start(QStringList{QStringLiteral("resume"), path(run) + step3,
                                       QStringLiteral("--steps"), QStringLiteral("1"),
                                       QStringLiteral("--quiet"), QStringLiteral("--dump-params"),
                                       path(dump)} +
                           (world > 1 ? rankArgs(world, r, p) : QStringList())));
      return rs;
    };
    for (int round = 0; round < 2; ++round) {
      auto a = resume(
          QStringLiteral("x"), round == 0 ? 1 : 2,
          round == 0 ? QStringLiteral("x-own{rank}.bin") : QStringLiteral("x-other{rank}.bin"));
      auto b = resume(
          QStringLiteral("y"), round == 0 ? 2 : 1,
          round == 0 ? QStringLiteral("y-own{rank}.bin") : QStringLiteral("y-other{rank}.bin"));
      std::vector<Proc> all;
      for (auto& pr : a) all.push_back(std::move(pr));
      for (auto& pr : b) all.push_back(std::move(pr));
      QVERIFY2(finishAll(all, &why), qPrintable(why));
      if (round == 1) {
        const QByteArray note = all[2].p->readAllStandardError();  // y resumed by 1 rank
        QVERIFY2(note.contains("per-rank batch 32 -> 64"), note.constData());
      }
    }
    auto grad = [&](const char* name) { return readFloats(path(QLatin1String(name))); };
    const double x = relativeDiff(grad("x-other0.bin.grad"), grad("x-own0.bin.grad"));
    const double y = relativeDiff(grad("y-other0.bin.grad"), grad("y-own0.bin.grad"));
    qInfo(
        "step 4's gradient after a world-size change on resume, max |diff| / max |g|: %.3g "
        "(1 -> 2 ranks), %.3g (2 -> 1)",
        x, y);
    QVERIFY2(x < 1e-3, qPrintable(QString::number(x)));
    QVERIFY2(y < 1e-3, qPrintable(QString::number(y)));
    QCOMPARE(readFloats(path(QStringLiteral("x-other0.bin"))),
             readFloats(path(QStringLiteral("x-other1.bin"))));
    QVERIFY(QFileInfo::exists(path(QStringLiteral("y/checkpoints/step-0000000004.imx"))));
  }

  // The overlapped all-reduce (buckets sent from gradient hooks during backward) must give the
  // same bits as reducing after backward, even when one rank's backward is stretched by a sleep
  // in every hook (its buckets then go out long after its peer's, and the peer's all-reduces run
  // while it still computes gradients) — also with the feature gather, whose backward
  // all-reduce is interleaved with the bucket all-reduces on the same process group.
  void overlapGivesTheSameBitsUnderSkew() {
    QTemporaryDir dir;
    const QStringList base =
        tinyRun() + QStringList{QStringLiteral("--batch"), QStringLiteral("8"),
                                QStringLiteral("--steps"), QStringLiteral("3"),
                                QStringLiteral("--mode"),  QStringLiteral("local+global")};
    auto pair = [&](const QString& name, const QStringList& extra, const QString& rank1Env) {
      const int port = freePort();
      std::vector<Proc> ps;
      for (int r = 0; r < 2; ++r)
        ps.push_back(start(QStringList{QStringLiteral("train")} + base + extra +
                               rankArgs(2, r, port) +
                               QStringList{QStringLiteral("--dump-params"),
                                           dir.filePath(name + QStringLiteral("{rank}.bin"))},
                           r == 1 ? rank1Env : QString()));
      QString why;
      const bool ok = finishAll(ps, &why);
      if (!ok) qWarning("%s", qPrintable(why));
      return ok;
    };
    const QString skew = QStringLiteral("INFOMAX_TEST_HOOK_DELAY_MS=3");
    const QStringList gather{QStringLiteral("--dist-gather-negatives")};
    QVERIFY(pair(QStringLiteral("after"), {}, QString()));
    QVERIFY(pair(QStringLiteral("overlap"), {QStringLiteral("--dist-overlap")}, skew));
    QVERIFY(pair(QStringLiteral("gafter"), gather, QString()));
    QVERIFY(pair(QStringLiteral("goverlap"), gather + QStringList{QStringLiteral("--dist-overlap")},
                 skew));
    auto bits = [&](const char* name) { return readFloats(dir.filePath(QLatin1String(name))); };
    const auto after = bits("after0.bin"), gafter = bits("gafter0.bin");
    QVERIFY(!after.isEmpty());
    for (const char* name : {"after1.bin", "overlap0.bin", "overlap1.bin"})
      QVERIFY2(bits(name) == after, qPrintable(QStringLiteral("%1: max |diff| %2")
                                                   .arg(QLatin1String(name))
                                                   .arg(maxAbsDiff(bits(name), after))));
    for (const char* name : {"gafter1.bin", "goverlap0.bin", "goverlap1.bin"})
      QVERIFY2(bits(name) == gafter, qPrintable(QStringLiteral("%1: max |diff| %2")
                                                    .arg(QLatin1String(name))
                                                    .arg(maxAbsDiff(bits(name), gafter))));
    QVERIFY(maxAbsDiff(after, gafter) > 0);  // the gather changes the objective
  }

  // A rank alone (no rank 0) fails the rendezvous with a message naming the address.
  void missingRankZeroTimesOut() {
    const int port = freePort();
    QElapsedTimer t;
    t.start();
    Proc p = start(QStringList{QStringLiteral("train")} + tinyRun() + rankArgs(2, 1, port) +
                   QStringList{QStringLiteral("--batch"), QStringLiteral("8"), QStringLiteral("--steps"),
                               QStringLiteral("3"), QStringLiteral("--dist-timeout"), QStringLiteral("3")});
    QVERIFY(p.p->waitForFinished(60000));
    QCOMPARE(p.p->exitCode(), 1);
    const QByteArray err = p.p->readAllStandardError();
    QVERIFY2(err.contains("rendezvous at 127.0.0.1:" + QByteArray::number(port)), err.constData());
    QVERIFY2(t.elapsed() < 30000, qPrintable(QString::number(t.elapsed())));
  }

  // Killing rank 1 mid-run makes rank 0 stop with an error naming the failure within the timeout.
  void deadPeerFailsTheOther() {
    QTemporaryDir dir;
    const QString run = dir.filePath(QStringLiteral("run"));
    const int port = freePort();
    std::vector<Proc> ps;
    for (int r = 0; r < 2; ++r)
      ps.push_back(start(QStringList{QStringLiteral("train")} + tinyRun() + rankArgs(2, r, port) +
                         QStringList{QStringLiteral("--batch"), QStringLiteral("8"),
                                     QStringLiteral("--steps"), QStringLiteral("100000"),
                                     QStringLiteral("--log-every"), QStringLiteral("1"),
                                     QStringLiteral("--dist-timeout"), QStringLiteral("10"),
                                     QStringLiteral("--out"), run}));
    // Wait until training runs (rank 0 logged a step), then kill rank 1.
    QElapsedTimer t;
    t.start();
    QFile csv(run + QStringLiteral("/metrics.csv"));
    while (t.elapsed() < 60000) {
      if (csv.open(QIODevice::ReadOnly)) {
        const bool rows = csv.readAll().count('\n') >= 3;
        csv.close();
        if (rows) break;
      }
      QTest::qWait(100);
    }
    QVERIFY2(ps[0].p->state() == QProcess::Running, qPrintable(ps[0].describe()));
    ps[1].p->kill();
    ps[1].p->waitForFinished(5000);
    t.restart();
    QVERIFY2(ps[0].p->waitForFinished(30000), "rank 0 still running 30 s after its peer died");
    const qint64 ms = t.elapsed();
    const QByteArray err = ps[0].p->readAllStandardError();
    QCOMPARE(ps[0].p->exitCode(), 1);
    QVERIFY2(err.contains("rank 0 of 2"), err.constData());
    qInfo("rank 0 exited %lld ms after rank 1 was killed: %s", static_cast<long long>(ms),
          err.trimmed().constData());
    QVERIFY(ms < 15000);
  }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
