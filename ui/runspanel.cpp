#include "runspanel.h"

#include <exception>

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "metricscsv.h"
#include "metricsplot.h"

namespace infomax::ui {

struct RunsPanel::Entry {
  QString path;  // run folder ("" for a live run)
  std::unique_ptr<MetricsCsvFollower> follower;
  QString status;
  QTreeWidgetItem* item = nullptr;
};

namespace {

enum Column { kName, kPoints, kStatus, kPath };

QIcon swatch(const QColor& color) {
  QPixmap pm(14, 14);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setBrush(color);
  p.setPen(color.darker(140));
  p.drawRoundedRect(QRectF(1.5, 1.5, 11, 11), 3, 3);
  return QIcon(pm);
}

}  // namespace

RunsPanel::RunsPanel(MetricsPlot* plot, QWidget* parent) : QWidget(parent), m_plot(plot) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  m_tree = new QTreeWidget(this);
  m_tree->setObjectName(QStringLiteral("runsList"));
  m_tree->setRootIsDecorated(false);
  m_tree->setHeaderLabels({tr("Run"), tr("Points"), tr("Status"), tr("Folder")});
  m_tree->header()->setSectionResizeMode(kName, QHeaderView::ResizeToContents);
  m_tree->header()->setSectionResizeMode(kPoints, QHeaderView::ResizeToContents);
  m_tree->setToolTip(tr("Tick a run to show it; each run has its own colour when several are "
                        "shown. Runs read from disk are followed as their metrics.csv grows."));
  layout->addWidget(m_tree, 1);
  auto* buttons = new QHBoxLayout;
  auto* add = new QPushButton(tr("Add run…"), this);
  add->setObjectName(QStringLiteral("addRunButton"));
  add->setToolTip(tr("Overlay another run folder (or its metrics.csv / a checkpoint in it)"));
  m_removeButton = new QPushButton(tr("Remove"), this);
  m_removeButton->setEnabled(false);
  buttons->addWidget(add);
  buttons->addWidget(m_removeButton);
  buttons->addStretch(1);
  layout->addLayout(buttons);

  connect(add, &QPushButton::clicked, this, [this] {
    const QString path = addDialog();
    if (path.isEmpty()) return;
    QString error;
    if (addRun(path, &error) < 0) Q_EMIT followError(error);
  });
  connect(m_removeButton, &QPushButton::clicked, this, [this] {
    if (QTreeWidgetItem* item = m_tree->currentItem())
      removeRun(item->data(kName, Qt::UserRole).toInt());
  });
  connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
    m_removeButton->setEnabled(item &&
                               item->data(kName, Qt::UserRole).toInt() != MetricsPlot::kPrimaryRun);
  });
  connect(m_tree, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem* item, int column) {
    if (column != kName) return;
    m_plot->setRunVisible(item->data(kName, Qt::UserRole).toInt(),
                          item->checkState(kName) == Qt::Checked);
  });

  auto primary = std::make_unique<Entry>();
  primary->status = tr("idle");
  m_entries[MetricsPlot::kPrimaryRun] = std::move(primary);
  refreshRow(MetricsPlot::kPrimaryRun);

  m_timer = new QTimer(this);
  m_timer->setInterval(1000);
  connect(m_timer, &QTimer::timeout, this, &RunsPanel::pollNow);
  m_timer->start();
}

RunsPanel::~RunsPanel() = default;

QString RunsPanel::runFolderOf(const QString& path) {
  const QFileInfo info(path);
  if (info.isDir()) return info.absoluteFilePath();
  QDir dir = info.absoluteDir();
  if (dir.dirName() == QLatin1String("checkpoints") &&
      !QFileInfo::exists(dir.filePath(QStringLiteral("metrics.csv"))))
    dir.cdUp();
  return dir.absolutePath();
}

void RunsPanel::renameRuns() {
  // Each run is named after its folder; runs whose folders share a name (runs/a/run and
  // runs/b/run) are named with their parent folder too.
  std::map<QString, int> seen;
  for (auto& [id, e] : m_entries)
    if (!e->path.isEmpty()) ++seen[QFileInfo(e->path).fileName()];
  for (auto& [id, e] : m_entries) {
    if (e->path.isEmpty()) continue;
    const QFileInfo info(e->path);
    QString name = info.fileName();
    if (seen[name] > 1) name = info.dir().dirName() + QLatin1Char('/') + name;
    m_plot->setRunName(id, name);
    if (e->item) e->item->setText(0, name);
  }
}

QString RunsPanel::addDialog() {
  return QFileDialog::getExistingDirectory(this, tr("Add a run folder to compare"));
}

QString RunsPanel::openPrimary(const QString& path) {
  const QString dir = runFolderOf(path);
  auto follower = std::make_unique<MetricsCsvFollower>(dir);
  std::vector<MetricSample> samples;
  try {
    if (!follower->exists()) {
      return tr("%1: no metrics.csv (not a run folder, or nothing logged yet)")
          .arg(follower->file());
    }
    samples = follower->poll().samples;
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  Entry& e = *m_entries[MetricsPlot::kPrimaryRun];
  e.path = dir;
  e.follower = std::move(follower);
  e.status = tr("following");
  m_plot->setHistory(MetricsPlot::kPrimaryRun, std::move(samples));
  renameRuns();
  refreshRow(MetricsPlot::kPrimaryRun);
  return {};
}

void RunsPanel::setPrimaryLive(const QString& runDir) {
  Entry& e = *m_entries[MetricsPlot::kPrimaryRun];
  e.follower.reset();
  e.path = runDir;
  e.status = runDir.isEmpty() ? tr("starting") : tr("live");
  if (runDir.isEmpty()) m_plot->setRunName(MetricsPlot::kPrimaryRun, tr("current run"));
  renameRuns();
  refreshRow(MetricsPlot::kPrimaryRun);
}

int RunsPanel::addRun(const QString& path, QString* error) {
  const QString dir = runFolderOf(path);
  auto entry = std::make_unique<Entry>();
  entry->path = dir;
  entry->follower = std::make_unique<MetricsCsvFollower>(dir);
  std::vector<MetricSample> samples;
  try {
    if (!entry->follower->exists()) {
      if (error)
        *error = tr("%1: no metrics.csv (not a run folder, or nothing logged yet)")
                     .arg(entry->follower->file());
      return -1;
    }
    samples = entry->follower->poll().samples;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    return -1;
  }
  entry->status = tr("following");
  const int id = m_plot->addRun(QFileInfo(dir).fileName());
  m_plot->setHistory(id, std::move(samples));
  m_entries[id] = std::move(entry);
  renameRuns();
  refreshRow(id);
  return id;
}

void RunsPanel::removeRun(int runId) {
  if (runId == MetricsPlot::kPrimaryRun) return;
  auto it = m_entries.find(runId);
  if (it == m_entries.end()) return;
  delete it->second->item;
  m_entries.erase(it);
  m_plot->removeRun(runId);
  renameRuns();
}

void RunsPanel::pollNow() {
  for (auto& [id, e] : m_entries)
    if (e->follower) poll(id, *e);
}

void RunsPanel::poll(int runId, Entry& e) {
  try {
    MetricsCsvFollower::Update u = e.follower->poll();
    if (u.reset)
      m_plot->setHistory(runId, std::move(u.samples));
    else if (!u.samples.empty())
      m_plot->appendSamples(runId, u.samples);
    else
      return;
  } catch (const std::exception& ex) {
    e.follower.reset();
    e.status = tr("error");
    refreshRow(runId);
    Q_EMIT followError(QString::fromStdString(ex.what()));
    return;
  }
  refreshRow(runId);
}

void RunsPanel::refreshRows() {
  for (auto& [id, e] : m_entries) refreshRow(id);
}

int RunsPanel::followedCount() const {
  int n = 0;
  for (auto& [id, e] : m_entries) n += e->follower != nullptr;
  return n;
}

void RunsPanel::refreshRow(int runId) {
  Entry& e = *m_entries[runId];
  const QSignalBlocker block(m_tree);
  if (!e.item) {
    e.item = new QTreeWidgetItem;
    e.item->setFlags(e.item->flags() | Qt::ItemIsUserCheckable);
    e.item->setData(kName, Qt::UserRole, runId);
    e.item->setCheckState(kName, Qt::Checked);
    m_tree->addTopLevelItem(e.item);
  }
  const auto& samples = m_plot->samples(runId);
  e.item->setIcon(kName, swatch(m_plot->runColor(runId)));
  e.item->setText(kName, m_plot->runName(runId));
  e.item->setText(kPoints, samples.empty()
                               ? QStringLiteral("0")
                               : tr("%1 (step %2)").arg(samples.size()).arg(samples.back().step));
  e.item->setText(kStatus, e.status);
  e.item->setText(kPath, QDir::toNativeSeparators(e.path));
  e.item->setToolTip(kPath, e.path);
}

}  // namespace infomax::ui
