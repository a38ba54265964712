// Crash-safety tests of the infomax CLI: SIGKILL mid-run then resume, a torn metrics line,
// a full disk and a read-only output folder (real tmpfs mounts in a private mount namespace).
#include <QtTest>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <csignal>
#include <unistd.h>

namespace {

QString cli() {
  const QByteArray env = qgetenv("INFOMAX_CLI");
  return env.isEmpty() ? QStringLiteral("/work/build/app/infomax") : QString::fromLocal8Bit(env);
}

const QStringList kSmall = {"--defaults", "paper", "--data-limit", "512", "--batch", "16", "--head-units", "32",
                            "--threads", "1", "--quiet"};

QStringList metricsRows(const QString& runDir) {
  QFile f(runDir + "/metrics.csv");
  if (!f.open(QIODevice::ReadOnly)) return {};
  QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
  if (!lines.isEmpty()) lines.removeFirst();  // header
  return lines;
}

QString latestCheckpoint(const QString& runDir) {
  QStringList files = QDir(runDir + "/checkpoints").entryList({"step-*.imx"}, QDir::Files, QDir::Name);
  return files.isEmpty() ? QString() : runDir + "/checkpoints/" + files.last();
}

// Runs a shell script in a private mount namespace (root only); returns exit code and output.
bool canUnshare() {
  if (geteuid() != 0) return false;
  QProcess p;
  p.start("unshare", {"-m", "sh", "-c", "mkdir -p /tmp/.imx-probe && mount -t tmpfs -o size=1m tmpfs /tmp/.imx-probe"});
  return p.waitForFinished(10000) && p.exitCode() == 0;
}

int runScript(const QString& script, QString* output) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start("unshare", {"-m", "sh", "-ec", script});
  p.waitForFinished(180000);
  *output = QString::fromUtf8(p.readAll());
  return p.exitCode();
}

}  // namespace

class TestReliability : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    if (!QFile::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
      QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
  }

  void sigkillThenResume() {
    QTemporaryDir dir;
    const QString run = dir.filePath("run");
    QProcess p;
    p.start(cli(), QStringList{"train", "--steps", "100000", "--checkpoint-every", "5",
                               "--log-every", "1", "--out", run} + kSmall);
    QVERIFY(p.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(metricsRows(run).size() >= 13, 60000);
    ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitStatus(), QProcess::CrashExit);

    const QString ckpt = latestCheckpoint(run);
    QVERIFY(!ckpt.isEmpty());
    const int saved = ckpt.section("step-", 1).section('.', 0, 0).toInt();
    const int logged = metricsRows(run).size();
    QVERIFY2(saved >= 10 && logged - saved <= 5 + 1,
             qPrintable(QString("checkpoint %1, logged %2").arg(saved).arg(logged)));
    // Simulate a write torn by the kill: half a row without its newline.
    {
      QFile f(run + "/metrics.csv");
      QVERIFY(f.open(QIODevice::Append));
      f.write("999,0.5,1.");
    }
    QProcess r;
    r.start(cli(), QStringList{"resume", run, "--steps", "3", "--json", "--quiet"});
    QVERIFY(r.waitForFinished(120000));
    QCOMPARE(r.exitCode(), 0);
    const auto json = QJsonDocument::fromJson(r.readAllStandardOutput()).object();
    QCOMPARE(json["step"].toInt(), saved + 3);
    const QStringList rows = metricsRows(run);
    QCOMPARE(rows.size(), saved + 3);
    const int columns = rows.first().count(',') + 1;
    for (int i = 0; i < rows.size(); ++i) {
      QCOMPARE(rows[i].section(',', 0, 0).toInt(), i + 1);
      QCOMPARE(rows[i].count(',') + 1, columns);
    }
  }

  void diskFullKeepsPreviousCheckpoint() {
    if (!canUnshare()) QSKIP("needs root and unshare to mount a private tmpfs");
    QTemporaryDir dir;
    const QString run = dir.filePath("run");
    QProcess p;
    p.start(cli(), QStringList{"train", "--steps", "2", "--out", run} + kSmall);
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 0);
    const QString ckpt = latestCheckpoint(run);
    const qint64 size = QFileInfo(ckpt).size();
    // A tmpfs with room for the run and a little more, but not for a second checkpoint.
    const qint64 mb = (size * 3 / 2) / (1 << 20) + 2;
    const QString mnt = dir.filePath("small");
    QDir().mkpath(mnt);
    QString out;
    const QString script = QString(
        "mount -t tmpfs -o size=%1m tmpfs %2\n"
        "cp -r %3 %2/run\n"
        "before=$(sha256sum %2/run/checkpoints/*.imx | cut -d' ' -f1)\n"
        "set +e\n"
        "%4 resume %2/run --steps 2 --quiet; echo \"exit=$?\"\n"
        "set -e\n"
        "after=$(sha256sum %2/run/checkpoints/step-0000000002.imx | cut -d' ' -f1)\n"
        "[ \"$before\" = \"$after\" ] && echo intact\n"
        "ls %2/run/checkpoints/ | grep -c tmp || true\n"
        "%4 info %2/run > /dev/null && echo readable\n")
        .arg(mb).arg(mnt, run, cli());
    runScript(script, &out);
    QVERIFY2(out.contains("exit=1"), qPrintable(out));
    QVERIFY2(out.contains("No space left on device"), qPrintable(out));
    QVERIFY2(out.contains("step-0000000004.imx"), qPrintable(out));  // names the file
    QVERIFY2(out.contains("intact"), qPrintable(out));
    QVERIFY2(out.contains("readable"), qPrintable(out));
    QVERIFY2(out.contains("\n0\n"), qPrintable(out));  // no temporary file left behind
  }

  void readOnlyFolderIsAClearError() {
    if (!canUnshare()) QSKIP("needs root and unshare to mount a private tmpfs");
    QTemporaryDir dir;
    const QString run = dir.filePath("run");
    QProcess p;
    p.start(cli(), QStringList{"train", "--steps", "2", "--out", run} + kSmall);
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 0);
    const QString mnt = dir.filePath("ro");
    QDir().mkpath(mnt);
    QString out;
    const QString script = QString(
        "mount -t tmpfs -o size=512m tmpfs %1\n"
        "cp -r %2 %1/run\n"
        "mount -o remount,ro %1\n"
        "set +e\n"
        "%3 resume %1/run --steps 2 --quiet; echo \"exit=$?\"\n"
        "%3 train --steps 2 --out %1/new --quiet; echo \"exit=$?\"\n")
        .arg(mnt, run, cli());
    runScript(script, &out);
    QCOMPARE(out.count("exit=1"), 2);
    QVERIFY2(out.contains("Read-only file system"), qPrintable(out));
    QVERIFY2(!out.contains("terminate called"), qPrintable(out));
  }
};

QTEST_GUILESS_MAIN(TestReliability)
#include "test_reliability.moc"
