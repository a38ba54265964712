#pragma once
// MainWindow: the desktop app's top-level window. GUI thread only.
// The full interactive workbench is the desktop issue's work; this window is its frame.

#include <QMainWindow>

namespace infomax::ui {

class MainWindow final : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
};

}  // namespace infomax::ui
