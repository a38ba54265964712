#pragma once
// RunSetupPanel: the form that edits a TrainConfig (data, architecture, objective, optimiser,
// output) and says, beside the form, why the settings cannot run yet. The data set is loaded
// and summarised on a pool thread so typing a path never blocks the window.
// Thread rules: GUI thread only.

#include <QString>
#include <QImage>
#include <QList>
#include <QStringList>
#include <QWidget>

#include "infomax/config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTimer;

namespace infomax::ui {

class RunSetupPanel final : public QWidget {
  Q_OBJECT
 public:
  explicit RunSetupPanel(QWidget* parent = nullptr);
  ~RunSetupPanel() override;
  RunSetupPanel(const RunSetupPanel&) = delete;
  RunSetupPanel& operator=(const RunSetupPanel&) = delete;

  // Shows a config; settings without a field here (data limit, log interval, ...) are kept and
  // come back from config().
  void setConfig(const TrainConfig& config);
  TrainConfig config() const;

  bool isValid() const { return m_valid; }
  QString validationMessage() const { return m_message; }
  // Non-blocking: the architecture's local layer sees the whole input (empty when fine).
  QString architectureWarning() const;
  QString dataSummary() const;
  // Thumbnails of the loaded data set (one per class where labelled), with their labels.
  int sampleCount() const { return static_cast<int>(m_sampleCaptions.size()); }
  QStringList sampleCaptions() const { return m_sampleCaptions; }
  QImage sampleGrid() const { return m_sampleGrid; }

 Q_SIGNALS:
  void validityChanged(bool valid);
  void dataSummaryChanged(const QString& summary);

 private:
  void revalidate();
  void loadDataSummary();
  void setSummary(const QString& text, bool error);
  void setSamples(const QList<QImage>& images, const QStringList& captions);

  TrainConfig m_base;
  bool m_valid = false;
  bool m_filling = false;  // setConfig is writing the widgets
  QString m_message;
  int m_loadGeneration = 0;
  QTimer* m_loadTimer = nullptr;

  QLineEdit* m_dataPath = nullptr;
  QLabel* m_dataSummary = nullptr;
  QLabel* m_samples = nullptr;
  QImage m_sampleGrid;
  QStringList m_sampleCaptions;
  QComboBox* m_arch = nullptr;
  QComboBox* m_mode = nullptr;
  QComboBox* m_estimator = nullptr;
  QDoubleSpinBox* m_alpha = nullptr;
  QDoubleSpinBox* m_beta = nullptr;
  QDoubleSpinBox* m_gamma = nullptr;
  QSpinBox* m_batch = nullptr;
  QDoubleSpinBox* m_lr = nullptr;
  QComboBox* m_lrSchedule = nullptr;
  QSpinBox* m_steps = nullptr;
  QDoubleSpinBox* m_epochs = nullptr;
  QSpinBox* m_seed = nullptr;
  QSpinBox* m_threads = nullptr;
  QComboBox* m_precision = nullptr;
  QSpinBox* m_headUnits = nullptr;
  QSpinBox* m_evalEvery = nullptr;
  QDoubleSpinBox* m_minutes = nullptr;
  QSpinBox* m_cropPad = nullptr;
  QDoubleSpinBox* m_cropScale = nullptr;
  QDoubleSpinBox* m_jitter = nullptr;
  QDoubleSpinBox* m_rotation = nullptr;
  QDoubleSpinBox* m_erasing = nullptr;
  QDoubleSpinBox* m_decorrelation = nullptr;
  QCheckBox* m_hflip = nullptr;
  QComboBox* m_views = nullptr;
  QLineEdit* m_outDir = nullptr;
  QLabel* m_validation = nullptr;
  QLabel* m_archWarning = nullptr;
  int m_dataChannels = 0, m_dataHeight = 0, m_dataWidth = 0;  // of the loaded data set
};

}  // namespace infomax::ui
