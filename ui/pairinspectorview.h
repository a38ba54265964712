#pragma once
// PairInspectorView: what the local DIM discriminator pairs. For a batch of images under a
// checkpoint's model (a run folder's latest, refreshable while it trains) it shows an anchor
// image's global vector against each of its own patches (positives) and every other image's
// patches (negatives) as receptive-field crops with the discriminator's score and the
// estimator's probability/weight; sorting, filters for the hardest pairs, a histogram of the
// batch's positive vs negative scores with its accuracy, and both full images with the patch
// outlined for the selected pair. Exportable as PNG.
// Thread rules: GUI thread only. Loading and scoring run on a worker (QtConcurrent); one job at
// a time, the newest request wins.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <QImage>
#include <QString>
#include <QWidget>

#include "infomax/imageset.h"
#include "infomax/pairinspector.h"

class QAbstractItemModel;
class QComboBox;
class QCustomPlot;
class QLabel;
class QListWidget;
class QModelIndex;
class QPushButton;
class QSpinBox;
class QTableView;

namespace infomax::ui {

class PairTableModel;

class PairInspectorView final : public QWidget {
  Q_OBJECT
 public:
  enum class Filter { All, Positives, Negatives, HardestPositives, HardestNegatives };

  explicit PairInspectorView(QWidget* parent = nullptr);
  ~PairInspectorView() override;
  PairInspectorView(const PairInspectorView&) = delete;
  PairInspectorView& operator=(const PairInspectorView&) = delete;

  // A checkpoint file or a run folder (its latest checkpoint, re-read by refresh()). Loads the
  // model and the run's data set on a worker, then inspects a batch: inspected() or failed().
  void setSource(const QString& checkpointOrRunDir);
  QString source() const { return m_source; }
  void refresh();   // re-reads the source (a run folder's newest checkpoint) and re-scores
  void newBatch();  // another random batch (next seed) under the same model
  void setBatchSize(int size);
  void setAnchor(int batchPosition);
  int anchor() const { return m_anchor; }
  void setFilter(Filter filter);
  // Selects a row of the pair table (as a click does): both images show with the patch outlined.
  void selectPair(int row);

  bool isBusy() const { return m_busy; }
  const PairInspection* inspection() const { return m_inspection.get(); }
  QAbstractItemModel* pairsModel() const;
  QString summaryText() const;
  QImage selectionImage() const;  // the two full images with the selected patch outlined
  // Where the selected pair's patch is outlined in selectionImage(): the patch's receptive field,
  // clipped to its image, in selectionImage() pixels (an empty rectangle before a selection).
  QRect selectionOutline() const { return m_selectionOutline; }
  // The training step of the checkpoint shown (-1 before one is loaded).
  qint64 checkpointStep() const;
  const QCustomPlot* histogram() const { return m_histogram; }
  // Writes the whole view as PNG, atomically; empty string or an error naming the file.
  QString exportPng(const QString& path);

 Q_SIGNALS:
  void inspected();
  void failed(const QString& message);
  // "Checkpoint now" was pressed: the window asks the trainer for one and calls refresh().
  void checkpointRequested();

 private:
  struct Job;
  void start(bool reloadModel);
  void finish(Job* job);
  void showAnchor();
  void updateHistogram();
  void showSelection(int row);
  QImage inputImage(int batchPosition) const;
  QImage crop(int batchPosition, int location) const;
  QRect patchRect(int location) const;

  QString m_source;
  std::shared_ptr<PairInspector> m_inspector;
  std::shared_ptr<const ImageSet> m_data;
  std::string m_dataKey;  // the DataSpec m_data was loaded with
  std::unique_ptr<PairInspection> m_inspection;
  std::vector<QImage> m_images;  // the batch as fed
  std::uint64_t m_seed = 1;
  int m_batchSize = 0;  // 0: the run's training batch
  int m_anchor = 0;
  bool m_busy = false;
  bool m_pending = false, m_pendingReload = false;
  Filter m_filter = Filter::All;

  QLabel* m_sourceLabel = nullptr;
  QLabel* m_status = nullptr;
  QSpinBox* m_batchSpin = nullptr;
  QComboBox* m_filterCombo = nullptr;
  QPushButton* m_checkpointButton = nullptr;
  QListWidget* m_anchors = nullptr;
  QTableView* m_table = nullptr;
  PairTableModel* m_model = nullptr;
  QCustomPlot* m_histogram = nullptr;
  QLabel* m_summary = nullptr;
  QLabel* m_selection = nullptr;
  QImage m_selectionImage;
  QRect m_selectionOutline;
};

}  // namespace infomax::ui
