#include "mainwindow.h"

#include <QLabel>

#include "infomax/architecture.h"

namespace infomax::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("InfoMax Studio"));
  QString presets;
  for (const auto& p : presetNames()) presets += QString::fromStdString(p) + " ";
  auto* label = new QLabel(tr("InfoMax Studio\n\nThe training engine is available from the "
                              "command line: infomax train --help\nBuilt-in encoders: %1")
                               .arg(presets),
                           this);
  label->setAlignment(Qt::AlignCenter);
  setCentralWidget(label);
  resize(640, 400);
}

}  // namespace infomax::ui
