// infomax-studio: the desktop app's entry point: parses the command line and opens the window.
// `infomax-studio --train` starts a Fashion-MNIST run with the default settings right away.

#include <cstdio>
#include <cstring>

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QTabWidget>
#include <QTimer>

#include "infomax/config.h"
#include "mainwindow.h"
#include "runsetuppanel.h"

int main(int argc, char** argv) {
  // --help and --version only print: they must work without a display (e.g. over ssh).
  for (int i = 1; i < argc; ++i)
    for (const char* flag : {"-h", "-?", "--help", "--help-all", "-v", "--version"})
      if (std::strcmp(argv[i], flag) == 0 && !qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("InfoMax Studio"));
  QApplication::setOrganizationName(QStringLiteral("InfoMax"));
  QApplication::setApplicationVersion(QStringLiteral(INFOMAX_VERSION));
  // The desktop entry's id (packaging/): lets Wayland compositors and docks match the window to
  // the installed .desktop file and its icon. The window icon itself is compiled in.
  QApplication::setDesktopFileName(QStringLiteral(INFOMAX_APP_ID));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/infomax-studio.svg")));

  QCommandLineParser parser;
  parser.setApplicationDescription(
      QStringLiteral("Deep InfoMax workbench: train encoders and watch their MI estimates."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption train(QStringLiteral("train"),
                                 QStringLiteral("Start training immediately (default settings, "
                                                "Fashion-MNIST unless --data is given)."));
  const QCommandLineOption data(QStringLiteral("data"),
                                QStringLiteral("Training data file or folder."),
                                QStringLiteral("PATH"));
  const QCommandLineOption steps(QStringLiteral("steps"),
                                 QStringLiteral("Training steps (0 = one epoch)."),
                                 QStringLiteral("N"));
  const QCommandLineOption out(
      QStringLiteral("out"),
      QStringLiteral("Run folder (default: a new folder under ~/infomax-runs)."),
      QStringLiteral("DIR"));
  const QCommandLineOption open(QStringLiteral("open"),
                                QStringLiteral("Show a run folder's curves and follow its metrics.csv "
                                               "as it grows (e.g. a run another process writes)."),
                                QStringLiteral("RUN"));
  const QCommandLineOption compare(QStringLiteral("compare"),
                                   QStringLiteral("Overlay a run folder for comparison "
                                                  "(repeatable)."),
                                   QStringLiteral("RUN"));
  const QCommandLineOption tab(QStringLiteral("tab"),
                               QStringLiteral("Open on this tab: curves, pairs, fields, neighbours or milab."),
                               QStringLiteral("NAME"));
  parser.addOptions({train, data, steps, out, open, compare, tab});
  parser.process(app);

  infomax::ui::MainWindow window;
  const bool custom =
      parser.isSet(train) || parser.isSet(data) || parser.isSet(steps) || parser.isSet(out);
  if (custom) {
    // Command-line runs start from the studio's defaults, not from the last session's settings.
    infomax::TrainConfig cfg = infomax::TrainConfig::defaults("studio");
    cfg.logEvery = 2;  // denser curves than the CLI's default: the plot is what one watches
    cfg.dataPath = parser.value(data).toStdString();
    cfg.outDir = parser.value(out).toStdString();
    if (parser.isSet(steps)) {
      bool ok = false;
      cfg.steps = parser.value(steps).toLongLong(&ok);
      cfg.minutes = 0;  // the run's length is the steps asked for, not the defaults' 15 minutes
      if (!ok || cfg.steps < 0) {
        std::fprintf(stderr, "infomax-studio: --steps needs a non-negative number, got '%s'\n",
                     qPrintable(parser.value(steps)));
        return 2;
      }
    }
    window.setupPanel()->setConfig(cfg);
  }
  window.show();
  if (parser.isSet(open)) window.openRunFolder(parser.value(open));
  for (const QString& run : parser.values(compare)) window.addComparisonRun(run);
  if (parser.isSet(tab)) {
    const QString name = parser.value(tab).toLower();
    const QStringList names = {QStringLiteral("curves"), QStringLiteral("pairs"),
                               QStringLiteral("fields"), QStringLiteral("neighbours"),
                               QStringLiteral("milab")};
    const int index = name == QLatin1String("rf") ? 2 : static_cast<int>(names.indexOf(name));
    const bool found = index >= 0 && index < window.tabs()->count();
    if (found) window.tabs()->setCurrentIndex(index);
    if (!found) {
      std::fprintf(stderr, "infomax-studio: no tab '%s' (curves, pairs, fields, neighbours, milab)\n",
                   qPrintable(name));
      return 2;
    }
  }
  if (parser.isSet(train))
    QTimer::singleShot(0, &window, [&window] {
      if (!window.startTraining())
        std::fprintf(stderr, "infomax-studio: cannot start: %s\n",
                     qPrintable(window.setupPanel()->validationMessage()));
    });
  return QApplication::exec();
}
