#include "pairinspectorview.h"

#include "imageutil.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <qcustomplot.h>
#include <QAbstractTableModel>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "infomax/architecture.h"

namespace infomax::ui {

namespace {

constexpr int kCropIcon = 40;
constexpr int kHardest = 20;

QString weightTitle(Estimator e) {
  switch (e) {
    case Estimator::Jsd:
      return QObject::tr("P(positive)");
    case Estimator::Nce:
      return QObject::tr("P(picked)");
    case Estimator::Dv:
    case Estimator::Nwj:
      break;
  }
  return QObject::tr("weight");
}

}  // namespace

// The pairs of one anchor after filtering, sortable; crops are drawn on demand and cached.
class PairTableModel final : public QAbstractTableModel {
 public:
  enum Column { kPatch, kKind, kImage, kLabel, kLocation, kScore, kWeight, kColumns };

  explicit PairTableModel(PairInspectorView* view) : QAbstractTableModel(view), m_view(view) {}

  void setPairs(std::vector<InspectedPair> pairs, const PairInspection* inspection,
                const ImageSet* data, std::function<QImage(int, int)> crop) {
    beginResetModel();
    m_pairs = std::move(pairs);
    m_inspection = inspection;
    m_data = data;
    m_crop = std::move(crop);
    m_icons.clear();
    applySort();
    endResetModel();
  }
  const InspectedPair& pair(int row) const { return m_pairs[row]; }

  int rowCount(const QModelIndex& parent = {}) const override {
    return parent.isValid() ? 0 : static_cast<int>(m_pairs.size());
  }
  int columnCount(const QModelIndex& parent = {}) const override {
    return parent.isValid() ? 0 : kColumns;
  }

  QVariant data(const QModelIndex& index, int role) const override {
    if (!index.isValid() || !m_inspection) return {};
    const InspectedPair& p = m_pairs[index.row()];
    const int w = m_inspection->mapWidth;
    if (role == Qt::DecorationRole && index.column() == kPatch) {
      const qint64 key = static_cast<qint64>(p.image) * m_inspection->locations() + p.location;
      auto it = m_icons.find(key);
      if (it == m_icons.end())
        it = m_icons.insert(key, QPixmap::fromImage(m_crop(p.image, p.location)
                                                        .scaled(kCropIcon, kCropIcon,
                                                                Qt::KeepAspectRatio,
                                                                Qt::FastTransformation)));
      return *it;
    }
    if (role == Qt::ForegroundRole && index.column() == kKind)
      return QColor(p.positive ? QColor(30, 130, 60) : QColor(180, 40, 40));
    if (role == Qt::TextAlignmentRole && index.column() >= kScore)
      return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
    const int dataIndex = m_inspection->indices[p.image];
    switch (index.column()) {
      case kKind:
        return p.positive ? QObject::tr("positive") : QObject::tr("negative");
      case kImage:
        if (role == Qt::UserRole) return p.image;
        return QObject::tr("#%1 (image %2)").arg(p.image).arg(dataIndex);
      case kLabel: {
        if (!m_data || !m_data->labelled()) return QStringLiteral("–");
        const auto label = m_data->labels[dataIndex];
        if (label < 0) return QStringLiteral("–");
        return label < static_cast<std::int64_t>(m_data->classNames.size())
                   ? QString::fromStdString(m_data->classNames[label])
                   : QString::number(label);
      }
      case kLocation:
        if (role == Qt::UserRole) return p.location;
        return QStringLiteral("(%1, %2)").arg(p.location / w).arg(p.location % w);
      case kScore:
        return role == Qt::UserRole ? QVariant(p.score) : QVariant(QString::number(p.score, 'f', 3));
      case kWeight:
        return role == Qt::UserRole ? QVariant(p.weight)
                                    : QVariant(QString::number(p.weight, 'g', 3));
      default:
        return {};
    }
  }

  QVariant headerData(int section, Qt::Orientation o, int role) const override {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
      case kPatch:
        return QObject::tr("Patch");
      case kKind:
        return QObject::tr("Pair");
      case kImage:
        return QObject::tr("Image");
      case kLabel:
        return QObject::tr("Label");
      case kLocation:
        return QObject::tr("Location");
      case kScore:
        return QObject::tr("Score");
      case kWeight:
        return m_inspection ? weightTitle(m_inspection->estimator) : QObject::tr("Weight");
      default:
        return {};
    }
  }

  void sort(int column, Qt::SortOrder order) override {
    m_sortColumn = column;
    m_order = order;
    beginResetModel();
    applySort();
    endResetModel();
  }

 private:
  void applySort() {
    if (m_sortColumn < 0) return;
    auto key = [&](const InspectedPair& p) -> double {
      switch (m_sortColumn) {
        case kKind:
          return p.positive ? 0 : 1;
        case kImage:
        case kLabel:
          return p.image;
        case kLocation:
          return p.location;
        case kWeight:
          return p.weight;
        default:
          return p.score;
      }
    };
    std::stable_sort(m_pairs.begin(), m_pairs.end(), [&](const auto& a, const auto& b) {
      return m_order == Qt::AscendingOrder ? key(a) < key(b) : key(a) > key(b);
    });
  }

  PairInspectorView* m_view;
  std::vector<InspectedPair> m_pairs;
  const PairInspection* m_inspection = nullptr;
  const ImageSet* m_data = nullptr;
  std::function<QImage(int, int)> m_crop;
  mutable QHash<qint64, QPixmap> m_icons;
  int m_sortColumn = -1;
  Qt::SortOrder m_order = Qt::AscendingOrder;
};

struct PairInspectorView::Job {
  QString source;
  bool reload = false;
  std::shared_ptr<PairInspector> inspector;
  std::shared_ptr<const ImageSet> data;
  std::string dataKey;
  int batchSize = 0;
  std::uint64_t seed = 1;
  std::unique_ptr<PairInspection> result;
  QString error;
};

PairInspectorView::PairInspectorView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);

  auto* bar = new QHBoxLayout;
  auto* open = new QPushButton(tr("Open checkpoint…"), this);
  open->setToolTip(tr("A checkpoint file, or a run folder (its newest checkpoint)"));
  m_sourceLabel = new QLabel(tr("No model: open a checkpoint or train a run."), this);
  m_sourceLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* refresh = new QPushButton(tr("Refresh"), this);
  refresh->setToolTip(tr("Re-read the run's newest checkpoint and score the batch again (F5)"));
  refresh->setShortcut(QKeySequence::Refresh);
  m_checkpointButton = new QPushButton(tr("Checkpoint now && refresh"), this);
  m_checkpointButton->setToolTip(
      tr("While training: ask the trainer for a checkpoint of the current weights, then inspect "
         "it"));
  auto* batchButton = new QPushButton(tr("New batch"), this);
  batchButton->setToolTip(tr("Score another random batch of the data set (Ctrl+B)"));
  batchButton->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
  m_batchSpin = new QSpinBox(this);
  m_batchSpin->setRange(0, 256);
  m_batchSpin->setSpecialValueText(tr("run's"));
  m_batchSpin->setPrefix(tr("batch "));
  m_batchSpin->setToolTip(tr("Images per batch; 'run's' uses the run's training batch size"));
  bar->addWidget(open);
  bar->addWidget(m_sourceLabel, 1);
  bar->addWidget(m_batchSpin);
  bar->addWidget(batchButton);
  bar->addWidget(refresh);
  bar->addWidget(m_checkpointButton);
  auto* exportButton = new QPushButton(tr("Export PNG…"), this);
  exportButton->setToolTip(tr("Save this view as a PNG image"));
  bar->addWidget(exportButton);
  layout->addLayout(bar);
  connect(exportButton, &QPushButton::clicked, this, [this] {
    QString path = QFileDialog::getSaveFileName(this, tr("Export pair inspector"),
                                                QStringLiteral("pairs.png"), tr("PNG image (*.png)"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".png");
    const QString error = exportPng(path);
    m_status->setText(error.isEmpty() ? tr("Wrote %1").arg(path) : error);
    if (!error.isEmpty()) Q_EMIT failed(error);
  });

  m_anchors = new QListWidget(this);
  m_anchors->setObjectName(QStringLiteral("anchorStrip"));
  m_anchors->setViewMode(QListView::IconMode);
  m_anchors->setFlow(QListView::LeftToRight);
  m_anchors->setWrapping(false);
  m_anchors->setMovement(QListView::Static);
  m_anchors->setIconSize(QSize(44, 44));
  m_anchors->setFixedHeight(84);
  m_anchors->setToolTip(tr("The batch: click an image to make it the anchor"));
  layout->addWidget(m_anchors);

  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* left = new QWidget(split);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->setContentsMargins(0, 0, 0, 0);
  auto* filterRow = new QHBoxLayout;
  filterRow->addWidget(new QLabel(tr("Show:"), left));
  m_filterCombo = new QComboBox(left);
  m_filterCombo->setObjectName(QStringLiteral("pairFilter"));
  m_filterCombo->addItems({tr("all pairs of the anchor"), tr("positives (its own patches)"),
                           tr("negatives (other images' patches)"),
                           tr("hardest positives (lowest scores)"),
                           tr("hardest negatives (highest scores)")});
  filterRow->addWidget(m_filterCombo, 1);
  leftLayout->addLayout(filterRow);
  m_table = new QTableView(left);
  m_table->setObjectName(QStringLiteral("pairTable"));
  m_model = new PairTableModel(this);
  m_table->setModel(m_model);
  m_table->setSortingEnabled(true);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->verticalHeader()->setDefaultSectionSize(kCropIcon + 4);
  m_table->verticalHeader()->hide();
  m_table->setIconSize(QSize(kCropIcon, kCropIcon));
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->sortByColumn(PairTableModel::kScore, Qt::DescendingOrder);
  leftLayout->addWidget(m_table, 1);

  auto* right = new QWidget(split);
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->setContentsMargins(0, 0, 0, 0);
  m_summary = new QLabel(right);
  m_summary->setObjectName(QStringLiteral("pairSummary"));
  m_summary->setWordWrap(true);
  m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  rightLayout->addWidget(m_summary);
  m_histogram = new QCustomPlot(right);
  m_histogram->setMinimumHeight(180);
  m_histogram->xAxis->setLabel(tr("discriminator score (whole batch)"));
  m_histogram->yAxis->setLabel(tr("share of pairs"));
  m_histogram->legend->setVisible(true);
  m_histogram->legend->setFont(QFont(font().family(), 8));
  rightLayout->addWidget(m_histogram, 1);
  m_selection = new QLabel(right);
  m_selection->setObjectName(QStringLiteral("pairSelection"));
  m_selection->setAlignment(Qt::AlignCenter);
  m_selection->setMinimumHeight(150);
  m_selection->setText(tr("Click a pair to see both images with the patch outlined."));
  rightLayout->addWidget(m_selection);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);

  m_status = new QLabel(this);
  m_status->setObjectName(QStringLiteral("pairStatus"));
  layout->addWidget(m_status);

  connect(open, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open checkpoint"), m_source, tr("Checkpoints (*.imx);;All files (*)"));
    if (!path.isEmpty()) setSource(path);
  });
  connect(refresh, &QPushButton::clicked, this, &PairInspectorView::refresh);
  connect(m_checkpointButton, &QPushButton::clicked, this,
          &PairInspectorView::checkpointRequested);
  connect(batchButton, &QPushButton::clicked, this, &PairInspectorView::newBatch);
  connect(m_batchSpin, &QSpinBox::editingFinished, this,
          [this] { setBatchSize(m_batchSpin->value()); });
  connect(m_anchors, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0 && row != m_anchor) setAnchor(row);
  });
  connect(m_filterCombo, &QComboBox::currentIndexChanged, this,
          [this](int i) { setFilter(static_cast<Filter>(i)); });
  connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) { showSelection(current.row()); });
}

PairInspectorView::~PairInspectorView() = default;

QAbstractItemModel* PairInspectorView::pairsModel() const { return m_model; }
QString PairInspectorView::summaryText() const { return m_summary->text(); }
QImage PairInspectorView::selectionImage() const { return m_selectionImage; }

void PairInspectorView::setSource(const QString& checkpointOrRunDir) {
  m_source = checkpointOrRunDir;
  m_inspector.reset();
  start(true);
}

void PairInspectorView::refresh() {
  if (!m_source.isEmpty()) start(true);
}

void PairInspectorView::newBatch() {
  ++m_seed;
  if (m_inspector || !m_source.isEmpty()) start(!m_inspector);
}

void PairInspectorView::setBatchSize(int size) {
  m_batchSize = std::max(0, size);
  const QSignalBlocker block(m_batchSpin);
  m_batchSpin->setValue(m_batchSize);
  if (m_inspector) start(false);
}

void PairInspectorView::start(bool reloadModel) {
  if (m_busy) {  // the newest request runs when the current one ends
    m_pending = true;
    m_pendingReload = m_pendingReload || reloadModel;
    return;
  }
  if (m_source.isEmpty()) return;
  m_busy = true;
  auto* job = new Job;
  job->source = m_source;
  job->reload = reloadModel || !m_inspector;
  job->inspector = job->reload ? nullptr : m_inspector;
  job->data = m_data;
  job->dataKey = m_dataKey;
  job->batchSize = m_batchSize;
  job->seed = m_seed;
  m_status->setText(job->reload ? tr("Loading the model and scoring a batch…")
                                : tr("Scoring a batch…"));
  auto* watcher = new QFutureWatcher<void>(this);
  connect(watcher, &QFutureWatcher<void>::finished, this, [this, watcher, job] {
    watcher->deleteLater();
    finish(job);
  });
  watcher->setFuture(QtConcurrent::run([job] {
    try {
      if (!job->inspector)
        job->inspector = PairInspector::fromCheckpoint(job->source.toStdString());
      const TrainConfig& cfg = job->inspector->config();
      DataSpec spec;
      spec.path = cfg.dataPath.empty() ? defaultDataPath() : cfg.dataPath;
      spec.format = cfg.format;
      spec.split = cfg.split;
      spec.resize = cfg.resize;
      spec.limit = cfg.dataLimit;
      // Reuse the loaded set while the run reads the same one.
      const std::string key = spec.path + "|" + toString(spec.format) + "|" + spec.split + "|" +
                              std::to_string(spec.resize) + "|" + std::to_string(spec.limit);
      if (!job->data || job->dataKey != key) {
        job->data = std::make_shared<const ImageSet>(loadImageSet(spec));
        job->dataKey = key;
      }
      const int size = job->batchSize > 0 ? job->batchSize : cfg.batch;
      const std::vector<int> batch =
          PairInspector::sampleBatch(job->data->count, std::max(2, size), job->seed);
      job->result = std::make_unique<PairInspection>(job->inspector->inspect(*job->data, batch));
    } catch (const std::exception& e) {
      job->error = QString::fromStdString(e.what());
    }
  }));
}

void PairInspectorView::finish(Job* job) {
  std::unique_ptr<Job> owned(job);
  m_busy = false;
  if (!job->error.isEmpty()) {
    m_status->setText(tr("Error: %1").arg(job->error));
    m_status->setStyleSheet(QStringLiteral("color: #b00020;"));
    Q_EMIT failed(job->error);
  } else {
    m_status->setStyleSheet(QString());
    m_inspector = job->inspector;
    m_data = job->data;
    m_dataKey = job->dataKey;
    m_inspection = std::move(job->result);
    m_images.clear();
    for (int i = 0; i < m_inspection->count(); ++i) m_images.push_back(inputImage(i));
    m_sourceLabel->setText(tr("%1 · step %2 · %3 · layer %4 (%5×%6 locations)")
                               .arg(QString::fromStdString(m_inspector->checkpointPath()))
                               .arg(m_inspector->step())
                               .arg(QString::fromLatin1(toString(m_inspection->estimator)))
                               .arg(QString::fromStdString(m_inspection->localLayer))
                               .arg(m_inspection->mapHeight)
                               .arg(m_inspection->mapWidth));
    m_sourceLabel->setToolTip(m_sourceLabel->text());
    {
      const QSignalBlocker block(m_anchors);
      m_anchors->clear();
      for (int i = 0; i < m_inspection->count(); ++i) {
        auto* item = new QListWidgetItem(
            QIcon(QPixmap::fromImage(m_images[i].scaled(44, 44, Qt::KeepAspectRatio,
                                                        Qt::FastTransformation))),
            QString::number(i), m_anchors);
        item->setToolTip(tr("batch #%1: image %2 of the data set")
                             .arg(i)
                             .arg(m_inspection->indices[i]));
      }
    }
    m_anchor = std::clamp(m_anchor, 0, m_inspection->count() - 1);
    updateHistogram();
    showAnchor();
    m_status->setText(tr("Batch of %1 images (seed %2). Click a column header to sort.")
                          .arg(m_inspection->count())
                          .arg(m_seed));
    Q_EMIT inspected();
  }
  if (m_pending) {
    const bool reload = m_pendingReload;
    m_pending = m_pendingReload = false;
    start(reload);
  }
}

void PairInspectorView::setAnchor(int batchPosition) {
  if (!m_inspection || batchPosition < 0 || batchPosition >= m_inspection->count()) return;
  m_anchor = batchPosition;
  showAnchor();
}

void PairInspectorView::setFilter(Filter filter) {
  m_filter = filter;
  const QSignalBlocker block(m_filterCombo);
  m_filterCombo->setCurrentIndex(static_cast<int>(filter));
  if (m_inspection) showAnchor();
}

void PairInspectorView::showAnchor() {
  {
    const QSignalBlocker block(m_anchors);
    m_anchors->setCurrentRow(m_anchor);
  }
  std::vector<InspectedPair> all = m_inspection->pairsFor(m_anchor);
  std::vector<InspectedPair> rows;
  auto byScore = [](const InspectedPair& a, const InspectedPair& b) { return a.score < b.score; };
  for (const auto& p : all) {
    const bool keep = m_filter == Filter::All ||
                      ((m_filter == Filter::Positives || m_filter == Filter::HardestPositives) &&
                       p.positive) ||
                      ((m_filter == Filter::Negatives || m_filter == Filter::HardestNegatives) &&
                       !p.positive);
    if (keep) rows.push_back(p);
  }
  if (m_filter == Filter::HardestPositives) {
    std::stable_sort(rows.begin(), rows.end(), byScore);
    rows.resize(std::min<std::size_t>(rows.size(), kHardest));
  } else if (m_filter == Filter::HardestNegatives) {
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const auto& a, const auto& b) { return byScore(b, a); });
    rows.resize(std::min<std::size_t>(rows.size(), kHardest));
  }
  m_model->setPairs(std::move(rows), m_inspection.get(), m_data.get(),
                    [this](int image, int location) { return crop(image, location); });
  if (m_filter == Filter::HardestPositives || m_filter == Filter::HardestNegatives)
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
  m_table->resizeColumnsToContents();

  // The anchor's own numbers beside the batch's.
  const int m = m_inspection->locations(), q = m_inspection->negativesPerAnchor;
  double posMean = 0, negMean = 0, negMax = -INFINITY;
  int beaten = 0;
  for (int l = 0; l < m; ++l) posMean += m_inspection->posScores[m_anchor * m + l] / m;
  for (int k = 0; k < q; ++k) {
    const float s = m_inspection->negScores[static_cast<std::size_t>(m_anchor) * q + k];
    negMean += s / q;
    negMax = std::max<double>(negMax, s);
  }
  for (int l = 0; l < m; ++l) beaten += m_inspection->posScores[m_anchor * m + l] > negMax;
  const TermStats& s = m_inspection->stats;
  m_summary->setText(
      tr("<b>Batch</b>: accuracy %1% (positives that outscore every negative of their anchor) · "
         "loss %2 · MI %3 nats · mean score + %4 / − %5<br><b>Anchor #%6</b> (image %7): "
         "%8 positives, mean %9; %10 negatives, mean %11, max %12; %13 of its positives beat "
         "every negative.")
          .arg(100 * s.accuracy, 0, 'f', 1)
          .arg(s.loss, 0, 'g', 4)
          .arg(s.mi, 0, 'g', 4)
          .arg(s.posScore, 0, 'f', 2)
          .arg(s.negScore, 0, 'f', 2)
          .arg(m_anchor)
          .arg(m_inspection->indices[m_anchor])
          .arg(m)
          .arg(posMean, 0, 'f', 2)
          .arg(q)
          .arg(negMean, 0, 'f', 2)
          .arg(negMax, 0, 'f', 2)
          .arg(beaten));
  if (m_model->rowCount() > 0) selectPair(0);
}

void PairInspectorView::updateHistogram() {
  m_histogram->clearPlottables();
  const auto& pos = m_inspection->posScores;
  const auto& neg = m_inspection->negScores;
  float lo = INFINITY, hi = -INFINITY;
  for (float v : pos) lo = std::min(lo, v), hi = std::max(hi, v);
  for (float v : neg) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > lo)) hi = lo + 1;
  const int bins = 40;
  const double width = (hi - lo) / bins;
  auto histogram = [&](const std::vector<float>& v, const QColor& color, const QString& name) {
    QVector<double> keys(bins), shares(bins, 0);
    for (int b = 0; b < bins; ++b) keys[b] = lo + (b + 0.5) * width;
    for (float x : v) shares[std::min(bins - 1, static_cast<int>((x - lo) / width))] += 1.0 / v.size();
    auto* g = m_histogram->addGraph();
    g->setData(keys, shares, true);
    g->setLineStyle(QCPGraph::lsStepCenter);
    g->setPen(QPen(color, 1.5));
    QColor fill = color;
    fill.setAlpha(70);
    g->setBrush(fill);
    g->setName(name);
  };
  histogram(pos, QColor(30, 130, 60), tr("positives (%1)").arg(pos.size()));
  histogram(neg, QColor(180, 40, 40), tr("negatives (%1)").arg(neg.size()));
  m_histogram->rescaleAxes();
  m_histogram->yAxis->setRangeLower(0);
  m_histogram->replot();
}

QImage PairInspectorView::inputImage(int b) const {
  const PairInspection& r = *m_inspection;
  const int plane = r.height * r.width;
  const float* px = r.inputs.data() + static_cast<std::size_t>(b) * r.channels * plane;
  auto byte = [](float v) { return static_cast<int>(std::lround(std::clamp((v + 1.f) * 127.5f, 0.f, 255.f))); };
  QImage img(r.width, r.height, QImage::Format_RGB32);
  for (int y = 0; y < r.height; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < r.width; ++x) {
      const int i = y * r.width + x;
      const int g = byte(px[i]);
      line[x] = r.channels >= 3 ? qRgb(g, byte(px[plane + i]), byte(px[2 * plane + i]))
                                : qRgb(g, g, g);
    }
  }
  return img;
}

QRect PairInspectorView::patchRect(int location) const {
  const int w = m_inspection->mapWidth;
  const InputRegion rf = receptiveField(m_inspector->architecture(), m_inspection->localLayer,
                                        location / w, location % w);
  return QRect(QPoint(rf.left, rf.top), QPoint(rf.right - 1, rf.bottom - 1));
}

QImage PairInspectorView::crop(int b, int location) const {
  // The receptive field of the location, with what lies outside the input (zero padding for
  // the convolutions: grey in this rendering) hatched.
  const QRect rf = patchRect(location);
  QImage out(rf.size(), QImage::Format_RGB32);
  out.fill(QColor(128, 128, 128));
  QPainter p(&out);
  p.fillRect(out.rect(), QBrush(QColor(100, 100, 100), Qt::BDiagPattern));
  const QRect inside = rf.intersected(m_images[b].rect());
  p.drawImage(inside.topLeft() - rf.topLeft(), m_images[b], inside);
  return out;
}

void PairInspectorView::selectPair(int row) {
  if (row < 0 || row >= m_model->rowCount()) return;
  m_table->selectRow(row);
  showSelection(row);
}

void PairInspectorView::showSelection(int row) {
  if (!m_inspection || row < 0 || row >= m_model->rowCount()) return;
  const InspectedPair& pair = m_model->pair(row);
  const int scale = std::max(2, 150 / std::max(1, m_inspection->height));
  // The receptive field of the patch, clipped to the image (the part beyond is padding), scaled.
  const QRect rf = patchRect(pair.location).intersected(m_images[pair.image].rect());
  const QRect outline(rf.topLeft() * scale, rf.size() * scale);
  auto framed = [&](int b, bool withOutline) {
    QImage big = m_images[b].scaled(m_images[b].size() * scale, Qt::KeepAspectRatio,
                                    Qt::FastTransformation);
    if (withOutline) {
      QPainter p(&big);
      p.setPen(QPen(pair.positive ? QColor(40, 200, 90) : QColor(240, 60, 60), 2));
      p.drawRect(outline.adjusted(1, 1, -1, -1));
    }
    return big;
  };
  // The anchor stands for its global vector, which sees the whole image: no outline there.
  const QImage anchor = framed(m_anchor, false);
  const QImage patch = framed(pair.image, true);
  const int cell = std::max({anchor.width(), patch.width(), 210});
  QImage both(2 * cell + 16, std::max(anchor.height(), patch.height()) + 20, QImage::Format_RGB32);
  both.fill(palette().color(QPalette::Window));
  QPainter p(&both);
  p.drawImage((cell - anchor.width()) / 2, 20, anchor);
  const QPoint patchAt(cell + 16 + (cell - patch.width()) / 2, 20);
  p.drawImage(patchAt, patch);
  m_selectionOutline = outline.translated(patchAt);
  p.setPen(palette().color(QPalette::WindowText));
  p.drawText(QRect(0, 0, cell, 18), Qt::AlignCenter,
             tr("anchor #%1 (its global vector)").arg(m_anchor));
  p.drawText(QRect(cell + 16, 0, cell, 18), Qt::AlignCenter,
             tr("%1 #%2 · score %3")
                 .arg(pair.positive ? tr("own patch of") : tr("patch of"))
                 .arg(pair.image)
                 .arg(pair.score, 0, 'f', 2));
  p.end();
  m_selectionImage = both;
  m_selection->setPixmap(QPixmap::fromImage(both));
}

qint64 PairInspectorView::checkpointStep() const {
  return m_inspector ? static_cast<qint64>(m_inspector->step()) : -1;
}

QString PairInspectorView::exportPng(const QString& path) { return saveWidgetPng(this, path); }

}  // namespace infomax::ui
