#pragma once
// NeighbourView: nearest-neighbour browser over a run's learned representation. Indexes a data
// split under the run's newest checkpoint (on a worker, with progress), queries by data-set
// index or image file and shows the neighbours as thumbnails with labels and distances
// (double-click one to make it the query); patch search shows the local features nearest to a
// location of the query as receptive-field crops; the embedding view plots the 2-D PCA
// projection coloured by label (click a point to query it) and the singular-value spectrum.
// Thread rules: GUI thread only; the index is built on a pool thread and then only read here.

#include <memory>

#include <QImage>
#include <QString>
#include <QWidget>

#include "infomax/neighbours.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace infomax::ui {

class NeighbourView final : public QWidget {
  Q_OBJECT
 public:
  explicit NeighbourView(QWidget* parent = nullptr);
  ~NeighbourView() override;
  NeighbourView(const NeighbourView&) = delete;
  NeighbourView& operator=(const NeighbourView&) = delete;

  // The run folder or checkpoint whose encoder is indexed (not built until buildIndex()).
  void setSource(const QString& checkpointOrRunDir);
  QString source() const { return m_source; }
  // The settings buildIndex() uses (also editable in the view): layer y|fc|conv|local, split,
  // and the number of images to index (0 = all).
  void setIndexSettings(const QString& layer, const QString& split, int limit);
  // Builds the index with the view's settings; indexReady() or failed() follows.
  void buildIndex();
  bool hasIndex() const { return m_index != nullptr; }
  const NeighbourIndex* index() const { return m_index.get(); }

  void queryIndex(int dataIndex);
  QString queryImageFile(const QString& path);  // empty on success, else the error
  void patchSearch(int row, int col);
  int queryRow() const { return m_query; }  // -1 for an image-file query
  const std::vector<Neighbour>& results() const { return m_results; }
  const std::vector<PatchNeighbour>& patchResults() const { return m_patchResults; }
  QString exportPng(const QString& path);

 Q_SIGNALS:
  void indexReady();
  void failed(const QString& message);

 private:
  void showResults();
  void showEmbedding();
  QImage thumbnail(int dataIndex) const;
  QString labelText(std::int64_t label) const;

  QString m_source;
  std::shared_ptr<NeighbourIndex> m_index;
  std::vector<Neighbour> m_results;
  std::vector<PatchNeighbour> m_patchResults;
  std::vector<float> m_pca;
  int m_query = -1;
  bool m_building = false;

  QLabel* m_sourceLabel = nullptr;
  QComboBox* m_layer = nullptr;
  QComboBox* m_split = nullptr;
  QComboBox* m_metric = nullptr;
  QSpinBox* m_limit = nullptr;
  QSpinBox* m_k = nullptr;
  QPushButton* m_build = nullptr;
  QProgressBar* m_progress = nullptr;
  QSpinBox* m_queryIndex = nullptr;
  QLabel* m_queryImage = nullptr;
  QLabel* m_summary = nullptr;
  QListWidget* m_list = nullptr;
  QSpinBox* m_patchRow = nullptr;
  QSpinBox* m_patchCol = nullptr;
  QListWidget* m_patchList = nullptr;
  QCustomPlot* m_scatter = nullptr;
  QCustomPlot* m_spectrum = nullptr;
};

}  // namespace infomax::ui
