#include "neighbourview.h"

#include "imageutil.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <qcustomplot.h>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace infomax::ui {

namespace {

constexpr int kThumb = 56;
constexpr int kScatterPoints = 6000;  // points drawn in the embedding view (a fixed sample)

QColor classColor(std::int64_t label) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return label < 0 ? QColor(90, 90, 90) : colors[label % 10];
}

}  // namespace

NeighbourView::NeighbourView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  auto* bar = new QHBoxLayout;
  m_sourceLabel = new QLabel(tr("No run: train or open one, then build an index."), this);
  bar->addWidget(m_sourceLabel, 1);
  bar->addWidget(new QLabel(tr("Layer"), this));
  m_layer = new QComboBox(this);
  m_layer->addItems({QStringLiteral("y"), QStringLiteral("fc"), QStringLiteral("conv"),
                     QStringLiteral("local")});
  bar->addWidget(m_layer);
  bar->addWidget(new QLabel(tr("Split"), this));
  m_split = new QComboBox(this);
  m_split->addItems({QStringLiteral("test"), QStringLiteral("train")});
  bar->addWidget(m_split);
  m_limit = new QSpinBox(this);
  m_limit->setRange(0, 10'000'000);
  m_limit->setSpecialValueText(tr("all images"));
  m_limit->setPrefix(tr("first "));
  m_limit->setToolTip(tr("Index only the first N images of the split (0 = all)"));
  bar->addWidget(m_limit);
  m_build = new QPushButton(tr("Build index"), this);
  m_build->setObjectName(QStringLiteral("buildIndexButton"));
  bar->addWidget(m_build);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 100);
  m_progress->setMaximumWidth(160);
  m_progress->setVisible(false);
  bar->addWidget(m_progress);
  layout->addLayout(bar);

  auto* queryRow = new QHBoxLayout;
  queryRow->addWidget(new QLabel(tr("Query image"), this));
  m_queryIndex = new QSpinBox(this);
  m_queryIndex->setRange(0, 0);
  queryRow->addWidget(m_queryIndex);
  auto* openImage = new QPushButton(tr("Image file…"), this);
  queryRow->addWidget(openImage);
  queryRow->addWidget(new QLabel(tr("k"), this));
  m_k = new QSpinBox(this);
  m_k->setRange(1, 200);
  m_k->setValue(16);
  queryRow->addWidget(m_k);
  m_metric = new QComboBox(this);
  m_metric->addItems({QStringLiteral("cosine"), QStringLiteral("l2")});
  queryRow->addWidget(m_metric);
  queryRow->addSpacing(16);
  queryRow->addWidget(new QLabel(tr("Patch (row, col)"), this));
  m_patchRow = new QSpinBox(this);
  m_patchCol = new QSpinBox(this);
  queryRow->addWidget(m_patchRow);
  queryRow->addWidget(m_patchCol);
  auto* patchButton = new QPushButton(tr("Find similar patches"), this);
  queryRow->addWidget(patchButton);
  auto* exportButton = new QPushButton(tr("Export PNG…"), this);
  queryRow->addStretch(1);
  queryRow->addWidget(exportButton);
  layout->addLayout(queryRow);

  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* left = new QWidget(split);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->setContentsMargins(0, 0, 0, 0);
  auto* head = new QHBoxLayout;
  m_queryImage = new QLabel(left);
  m_queryImage->setFixedSize(112, 112);
  m_queryImage->setAlignment(Qt::AlignCenter);
  m_queryImage->setFrameShape(QFrame::StyledPanel);
  head->addWidget(m_queryImage);
  m_summary = new QLabel(left);
  m_summary->setObjectName(QStringLiteral("neighbourSummary"));
  m_summary->setWordWrap(true);
  head->addWidget(m_summary, 1);
  leftLayout->addLayout(head);
  m_list = new QListWidget(left);
  m_list->setObjectName(QStringLiteral("neighbourList"));
  m_list->setViewMode(QListView::IconMode);
  m_list->setIconSize(QSize(kThumb, kThumb));
  m_list->setResizeMode(QListView::Adjust);
  m_list->setMovement(QListView::Static);
  m_list->setGridSize(QSize(kThumb + 40, kThumb + 38));
  m_list->setToolTip(tr("Double-click a neighbour to make it the query"));
  leftLayout->addWidget(m_list, 2);
  leftLayout->addWidget(new QLabel(tr("Patches nearest to the chosen location (receptive-field crops):"), left));
  m_patchList = new QListWidget(left);
  m_patchList->setViewMode(QListView::IconMode);
  m_patchList->setIconSize(QSize(40, 40));
  m_patchList->setResizeMode(QListView::Adjust);
  m_patchList->setMovement(QListView::Static);
  m_patchList->setGridSize(QSize(84, 74));
  leftLayout->addWidget(m_patchList, 1);

  auto* right = new QWidget(split);
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->setContentsMargins(0, 0, 0, 0);
  m_scatter = new QCustomPlot(right);
  m_scatter->setObjectName(QStringLiteral("embeddingScatter"));
  m_scatter->xAxis->setLabel(tr("PC 1"));
  m_scatter->yAxis->setLabel(tr("PC 2"));
  m_scatter->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_scatter->legend->setVisible(true);
  m_scatter->legend->setFont(QFont(font().family(), 7));
  m_scatter->setToolTip(tr("Principal-component projection coloured by label; click a point to "
                           "query that image"));
  rightLayout->addWidget(m_scatter, 3);
  m_spectrum = new QCustomPlot(right);
  m_spectrum->xAxis->setLabel(tr("component"));
  m_spectrum->yAxis->setLabel(tr("singular value"));
  m_spectrum->yAxis->setScaleType(QCPAxis::stLogarithmic);
  m_spectrum->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  m_spectrum->setToolTip(tr("Singular values of the centred embeddings: a sharp drop to ~0 after "
                            "a few components means the representation collapsed"));
  rightLayout->addWidget(m_spectrum, 2);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  split->setSizes({650, 550});
  layout->addWidget(split, 1);
  m_scatter->legend->setBrush(QColor(255, 255, 255, 190));
  m_scatter->legend->setRowSpacing(-3);
  m_scatter->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

  connect(m_build, &QPushButton::clicked, this, &NeighbourView::buildIndex);
  connect(m_queryIndex, &QSpinBox::valueChanged, this, [this](int i) {
    if (m_index) queryIndex(i);
  });
  connect(m_k, &QSpinBox::valueChanged, this, [this] {
    if (m_index && m_query >= 0) queryIndex(m_query);
  });
  connect(m_metric, &QComboBox::currentIndexChanged, this, [this] {
    if (m_index && m_query >= 0) queryIndex(m_query);
  });
  connect(openImage, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Query image"), QString(), tr("Images (*.png *.jpg *.jpeg *.bmp *.pgm *.ppm);;All files (*)"));
    if (path.isEmpty()) return;
    const QString error = queryImageFile(path);
    if (!error.isEmpty()) Q_EMIT failed(error);
  });
  connect(m_list, &QListWidget::itemDoubleClicked, this, [this](QListWidgetItem* item) {
    m_queryIndex->setValue(item->data(Qt::UserRole).toInt());
  });
  connect(patchButton, &QPushButton::clicked, this,
          [this] { patchSearch(m_patchRow->value(), m_patchCol->value()); });
  connect(m_scatter, &QCustomPlot::plottableClick, this,
          [this](QCPAbstractPlottable* p, int dataIndex, QMouseEvent*) {
            const QVariant rows = p->property("rows");
            if (!rows.isValid()) return;
            const QList<int> list = rows.value<QList<int>>();
            if (dataIndex >= 0 && dataIndex < list.size()) m_queryIndex->setValue(list[dataIndex]);
          });
  connect(exportButton, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export neighbours"),
                                                      QStringLiteral("neighbours.png"),
                                                      tr("PNG image (*.png)"));
    if (path.isEmpty()) return;
    const QString error = exportPng(path);
    if (!error.isEmpty()) Q_EMIT failed(error);
  });
}

NeighbourView::~NeighbourView() = default;

void NeighbourView::setSource(const QString& checkpointOrRunDir) {
  if (checkpointOrRunDir == m_source) return;
  m_source = checkpointOrRunDir;
  m_sourceLabel->setText(tr("Run %1 — build an index to search it").arg(checkpointOrRunDir));
}

void NeighbourView::setIndexSettings(const QString& layer, const QString& split, int limit) {
  m_layer->setCurrentText(layer);
  m_split->setCurrentText(split);
  m_limit->setValue(limit);
}

void NeighbourView::buildIndex() {
  if (m_building || m_source.isEmpty()) return;
  m_building = true;
  m_build->setEnabled(false);
  m_progress->setValue(0);
  m_progress->setVisible(true);
  NeighbourOptions o;
  o.layer = m_layer->currentText().toStdString();
  o.split = m_split->currentText().toStdString();
  o.limit = m_limit->value();
  o.patchImages = 2000;
  QPointer<QProgressBar> bar(m_progress);
  o.progress = [bar](double f, const std::string& what) {
    const QString text = QString::fromStdString(what);
    QMetaObject::invokeMethod(bar, [bar, f, text] {
      if (!bar) return;
      bar->setValue(static_cast<int>(100 * f));
      bar->setToolTip(text);
    });
  };
  const std::string source = m_source.toStdString();
  struct Built {
    std::shared_ptr<NeighbourIndex> index;
    std::vector<float> pca;
    std::vector<double> spectrum;
    QString error;
  };
  auto* watcher = new QFutureWatcher<std::shared_ptr<Built>>(this);
  connect(watcher, &QFutureWatcher<std::shared_ptr<Built>>::finished, this, [this, watcher] {
    const auto built = watcher->result();
    watcher->deleteLater();
    m_building = false;
    m_build->setEnabled(true);
    m_progress->setVisible(false);
    if (!built->error.isEmpty()) {
      m_sourceLabel->setText(tr("Error: %1").arg(built->error));
      Q_EMIT failed(built->error);
      return;
    }
    m_index = built->index;
    m_pca = built->pca;
    const ImageSet* set = m_index->images();
    m_sourceLabel->setText(tr("%1 images of %2 · layer %3 (%4 dimensions)")
                               .arg(m_index->count())
                               .arg(QString::fromStdString(set->source))
                               .arg(QString::fromStdString(m_index->layer()))
                               .arg(m_index->dim()));
    const QSignalBlocker block(m_queryIndex);
    m_queryIndex->setRange(0, m_index->count() - 1);
    if (const ArchitectureInfo* a = m_index->architecture()) {
      const LayerInfo& l = a->layer(a->localLayer);
      m_patchRow->setRange(0, l.height - 1);
      m_patchCol->setRange(0, l.width - 1);
      m_patchRow->setValue(l.height / 2);
      m_patchCol->setValue(l.width / 2);
    }
    // The spectrum.
    m_spectrum->clearPlottables();
    auto* g = m_spectrum->addGraph();
    QVector<double> x, y;
    for (std::size_t i = 0; i < built->spectrum.size(); ++i) {
      x << double(i + 1);
      y << std::max(built->spectrum[i], 1e-6);
    }
    g->setData(x, y, true);
    g->setLineStyle(QCPGraph::lsImpulse);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 4));
    m_spectrum->rescaleAxes();
    m_spectrum->replot();
    showEmbedding();
    queryIndex(m_queryIndex->value());
    Q_EMIT indexReady();
  });
  watcher->setFuture(QtConcurrent::run([source, o]() {
    auto b = std::make_shared<Built>();
    try {
      b->index = NeighbourIndex::build(source, o);
      b->pca = b->index->pca2();
      b->spectrum = b->index->singularValues();
    } catch (const std::exception& e) {
      b->error = QString::fromStdString(e.what());
    }
    return b;
  }));
}

QString NeighbourView::labelText(std::int64_t label) const {
  const ImageSet* set = m_index ? m_index->images() : nullptr;
  if (!set || label < 0) return QStringLiteral("–");
  return label < static_cast<std::int64_t>(set->classNames.size())
             ? QString::fromStdString(set->classNames[label])
             : QString::number(label);
}

QImage NeighbourView::thumbnail(int i) const { return imageSetImage(*m_index->images(), i); }

void NeighbourView::queryIndex(int dataIndex) {
  if (!m_index || dataIndex < 0 || dataIndex >= m_index->count()) return;
  m_query = dataIndex;
  const Metric metric = metricFromString(m_metric->currentText().toStdString());
  m_results = m_index->queryIndex(dataIndex, m_k->value(), metric);
  m_queryImage->setPixmap(QPixmap::fromImage(thumbnail(dataIndex).scaled(
      104, 104, Qt::KeepAspectRatio, Qt::FastTransformation)));
  showResults();
}

QString NeighbourView::queryImageFile(const QString& path) {
  if (!m_index) return tr("build an index first");
  try {
    const Metric metric = metricFromString(m_metric->currentText().toStdString());
    m_results = m_index->query(m_index->embedImageFile(path.toStdString()), m_k->value(), metric);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  m_query = -1;
  QImage file(path);
  m_queryImage->setPixmap(QPixmap::fromImage(file.scaled(104, 104, Qt::KeepAspectRatio,
                                                         Qt::SmoothTransformation)));
  showResults();
  return {};
}

void NeighbourView::showResults() {
  m_list->clear();
  for (const auto& n : m_results) {
    auto* item = new QListWidgetItem(
        QIcon(QPixmap::fromImage(thumbnail(n.index).scaled(kThumb, kThumb, Qt::KeepAspectRatio,
                                                           Qt::FastTransformation))),
        QStringLiteral("%1\n%2 · %3").arg(labelText(n.label)).arg(n.index).arg(n.distance, 0, 'f', 3),
        m_list);
    item->setData(Qt::UserRole, n.index);
    item->setToolTip(tr("image %1 (%2), distance %3").arg(n.index).arg(labelText(n.label)).arg(n.distance));
  }
  const ImageSet& set = *m_index->images();
  QString text = m_query >= 0 ? tr("<b>Query</b>: image %1 (%2)").arg(m_query).arg(labelText(set.labelled() ? set.labels[m_query] : -1))
                              : tr("<b>Query</b>: an image file");
  if (m_query >= 0 && set.labelled()) {
    int same = 0;
    for (const auto& n : m_results) same += n.label == set.labels[m_query];
    text += tr("<br>%1 of %2 neighbours share its label").arg(same).arg(m_results.size());
  }
  m_summary->setText(text);
}

void NeighbourView::patchSearch(int row, int col) {
  if (!m_index || m_query < 0) return;
  try {
    m_patchResults = m_index->queryPatch(m_query, row, col, m_k->value());
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
    return;
  }
  m_patchList->clear();
  for (const auto& p : m_patchResults) {
    const QImage img = thumbnail(p.image);
    const QRect rf(QPoint(p.region.left, p.region.top), QPoint(p.region.right - 1, p.region.bottom - 1));
    QImage crop(rf.size(), QImage::Format_RGB32);
    crop.fill(QColor(128, 128, 128));
    QPainter painter(&crop);
    const QRect inside = rf.intersected(img.rect());
    painter.drawImage(inside.topLeft() - rf.topLeft(), img, inside);
    painter.end();
    auto* item = new QListWidgetItem(
        QIcon(QPixmap::fromImage(crop.scaled(40, 40, Qt::KeepAspectRatio, Qt::FastTransformation))),
        QStringLiteral("%1 (%2,%3)\n%4").arg(p.image).arg(p.row).arg(p.col).arg(p.distance, 0, 'f', 3),
        m_patchList);
    item->setToolTip(tr("image %1 (%2), location (%3, %4)").arg(p.image).arg(labelText(p.label)).arg(p.row).arg(p.col));
  }
}

void NeighbourView::showEmbedding() {
  m_scatter->clearPlottables();
  const ImageSet& set = *m_index->images();
  const int n = m_index->count();
  const int step = std::max(1, n / kScatterPoints);
  std::map<std::int64_t, std::pair<QVector<double>, QVector<double>>> byLabel;
  std::map<std::int64_t, QList<int>> rows;
  for (int i = 0; i < n; i += step) {
    const std::int64_t l = set.labelled() ? set.labels[i] : -1;
    byLabel[l].first << m_pca[2 * i];
    byLabel[l].second << m_pca[2 * i + 1];
    rows[l] << i;
  }
  for (auto& [label, xy] : byLabel) {
    // A curve keeps its points in insertion order (a graph would sort them by x), so a clicked
    // point's data index maps back to its row.
    auto* g = new QCPCurve(m_scatter->xAxis, m_scatter->yAxis);
    g->setData(xy.first, xy.second);
    g->setLineStyle(QCPCurve::lsNone);
    QColor c = classColor(label);
    c.setAlpha(150);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 4));
    g->setName(labelText(label));
    g->setProperty("rows", QVariant::fromValue(rows[label]));
    g->setSelectable(QCP::stSingleData);
  }
  m_scatter->rescaleAxes();
  m_scatter->replot();
}

QString NeighbourView::exportPng(const QString& path) { return saveWidgetPng(this, path); }

}  // namespace infomax::ui
