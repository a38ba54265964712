// infomax-studio: the desktop app's entry point.

#include <QApplication>

#include "mainwindow.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("InfoMax Studio");
  QApplication::setOrganizationName("InfoMax");
  infomax::ui::MainWindow w;
  w.show();
  return QApplication::exec();
}
