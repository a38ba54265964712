#include "metricsplot.h"

#include "decimation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QSvgGenerator>
#include <QTextStream>
#include <QVBoxLayout>

namespace infomax::ui {

struct MetricsPlot::Panel {
  QString title;
  QCPAxisRect* rect = nullptr;
  QCPLegend* legend = nullptr;
  QCPItemStraightLine* crosshair = nullptr;
};

struct MetricsPlot::Curve {
  QString column;  // metrics.csv column name
  QString label;
  int valueIndex = -1;  // index in MetricSample::values()
  QColor color;
  int panel = 0;
  int orderInPanel = 0;  // picks the dash pattern when colours mean runs
  bool sparse = false;   // logged now and then (online kNN): no smoothing, every point marked
  bool visible = true;
};

// One curve of one run: the full series (raw and smoothed) and the two graphs that show the
// decimated visible part.
struct MetricsPlot::Instance {
  DecimatedSeries raw, smooth;
  QCPGraph* rawGraph = nullptr;
  QCPGraph* smoothGraph = nullptr;
  bool emaStarted = false;
  double ema = 0;
};

struct MetricsPlot::Run {
  int id = 0;
  QString name;
  QColor color;
  bool visible = true;
  std::vector<MetricSample> samples;
  std::vector<Instance> inst;  // one per curve
  double lastKey = -std::numeric_limits<double>::infinity();
};

namespace {

struct CurveSpec {
  const char* column;
  const char* label;
  int panel;
  QColor color;
};

// Colours from the Tableau 10 palette: distinct, and readable faint or solid.
const std::vector<CurveSpec>& curveSpecs() {
  static const std::vector<CurveSpec> specs = {
      {"loss", "total loss", 0, QColor(31, 119, 180)},
      {"local_loss", "local", 0, QColor(255, 127, 14)},
      {"global_loss", "global", 0, QColor(44, 160, 44)},
      {"prior_loss", "prior", 0, QColor(214, 39, 40)},
      {"decorrelation_loss", "Y decorrelation", 0, QColor(148, 103, 189)},
      {"local_mi_nats", "local MI", 1, QColor(255, 127, 14)},
      {"global_mi_nats", "global MI", 1, QColor(44, 160, 44)},
      {"local_pos", "local pos", 2, QColor(148, 103, 189)},
      {"local_neg", "local neg", 2, QColor(140, 86, 75)},
      {"global_pos", "global pos", 2, QColor(227, 119, 194)},
      {"global_neg", "global neg", 2, QColor(127, 127, 127)},
      {"img_per_s", "images/s", 3, QColor(23, 190, 207)},
      {"knn_acc", "kNN accuracy (Y)", 4, QColor(188, 189, 34)},
  };
  return specs;
}

// Run colours for overlays: the first is the primary run's.
QColor paletteColor(int i) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(214, 39, 40), QColor(44, 160, 44),
                                  QColor(148, 103, 189), QColor(255, 127, 14),
                                  QColor(23, 190, 207), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(188, 189, 34),
                                  QColor(127, 127, 127)};
  return colors[i % 10];
}

Qt::PenStyle dashFor(int order) {
  static const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine,
                                        Qt::DashDotLine};
  return styles[order % 4];
}

QString formatValue(double v) {
  if (!std::isfinite(v)) return QStringLiteral("–");
  const double a = std::abs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) return QString::number(v, 'e', 3);
  return QString::number(v, 'g', 4);
}

QString formatCsv(double v) {
  if (std::isnan(v)) return {};
  if (std::isinf(v)) return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
  return QString::number(v, 'g', 10);
}

}  // namespace

MetricsPlot::MetricsPlot(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* bar = new QHBoxLayout;
  bar->setContentsMargins(6, 4, 6, 0);
  bar->addWidget(new QLabel(tr("X axis:"), this));
  m_xCombo = new QComboBox(this);
  m_xCombo->setObjectName(QStringLiteral("xAxisCombo"));
  m_xCombo->addItems({tr("Step"), tr("Epoch"), tr("Wall time (s)")});
  bar->addWidget(m_xCombo);
  bar->addSpacing(12);
  bar->addWidget(new QLabel(tr("Smoothing:"), this));
  m_smoothSlider = new QSlider(Qt::Horizontal, this);
  m_smoothSlider->setObjectName(QStringLiteral("smoothingSlider"));
  m_smoothSlider->setRange(0, 99);
  m_smoothSlider->setValue(static_cast<int>(std::lround(m_smoothing * 100)));
  m_smoothSlider->setMaximumWidth(160);
  m_smoothSlider->setToolTip(
      tr("Exponential moving average of the curves; the raw values stay "
         "visible, faint, behind the smoothed line"));
  bar->addWidget(m_smoothSlider);
  m_smoothLabel = new QLabel(this);
  m_smoothLabel->setMinimumWidth(32);
  bar->addWidget(m_smoothLabel);
  bar->addSpacing(12);
  m_logCheck = new QCheckBox(tr("Log-scale loss"), this);
  m_logCheck->setObjectName(QStringLiteral("logScaleCheck"));
  bar->addWidget(m_logCheck);
  auto* reset = new QPushButton(tr("Reset view"), this);
  reset->setToolTip(
      tr("Fit the axes to the data and follow new samples (or double-click the "
         "plot)"));
  bar->addWidget(reset);
  bar->addStretch(1);
  auto* hint = new QLabel(tr("wheel: zoom · drag: pan · click a legend entry: hide/show"), this);
  hint->setEnabled(false);
  bar->addWidget(hint);
  layout->addLayout(bar);

  m_readout = new QLabel(this);
  m_readout->setObjectName(QStringLiteral("crosshairReadout"));
  m_readout->setContentsMargins(8, 0, 8, 0);
  m_readout->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_readout->setText(tr("Move the mouse over the curves to read values."));
  m_readout->setEnabled(false);
  layout->addWidget(m_readout);

  m_plot = new QCustomPlot(this);
  m_plot->setObjectName(QStringLiteral("metricsPlot"));
  m_plot->setMinimumSize(400, 300);
  m_plot->setMouseTracking(true);
  layout->addWidget(m_plot, 1);
  buildPlot();

  auto primary = std::make_unique<Run>();
  primary->id = kPrimaryRun;
  primary->name = tr("current run");
  primary->color = paletteColor(0);
  m_runs.push_back(std::move(primary));
  addGraphs(*m_runs.front());
  restyle();

  m_smoothLabel->setText(QString::number(m_smoothing, 'f', 2));
  connect(m_xCombo, &QComboBox::currentIndexChanged, this,
          [this](int i) { setXAxis(static_cast<XAxis>(i)); });
  connect(m_smoothSlider, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
  connect(m_logCheck, &QCheckBox::toggled, this, &MetricsPlot::setLogScale);
  connect(reset, &QPushButton::clicked, this, &MetricsPlot::resetView);
}

MetricsPlot::~MetricsPlot() = default;

void MetricsPlot::buildPlot() {
  m_plot->setAutoAddPlottableToLegend(false);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_plot->setNoAntialiasingOnDrag(true);
  m_plot->plotLayout()->setRowSpacing(2);

  const QStringList titles = {tr("loss"), tr("MI estimate (nats)"), tr("mean score"),
                              tr("images/s"), tr("probe accuracy")};
  auto* margins = new QCPMarginGroup(m_plot);
  for (int i = 0; i < titles.size(); ++i) {
    Panel p;
    p.title = titles[i];
    if (i == 0) {
      p.rect = m_plot->axisRect(0);
      p.legend = m_plot->legend;
    } else {
      p.rect = new QCPAxisRect(m_plot);
      m_plot->plotLayout()->addElement(i, 0, p.rect);
      p.legend = new QCPLegend;
      p.rect->insetLayout()->addElement(p.legend, Qt::AlignTop | Qt::AlignRight);
      p.legend->setLayer(QStringLiteral("legend"));
    }
    p.legend->setVisible(true);
    p.legend->setFont(QFont(font().family(), 8));
    p.legend->setBrush(QColor(255, 255, 255, 210));
    p.legend->setRowSpacing(-2);
    p.rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    p.rect->axis(QCPAxis::atLeft)->setLabel(p.title);
    p.rect->axis(QCPAxis::atLeft)->grid()->setSubGridVisible(false);
    // Only the bottom panel labels the shared x axis.
    p.rect->axis(QCPAxis::atBottom)->setTickLabels(i == titles.size() - 1);
    m_panels.push_back(p);
  }
  // One shared x range: panning or zooming any panel moves them all.
  for (auto& a : m_panels)
    for (auto& b : m_panels)
      if (a.rect != b.rect)
        connect(a.rect->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
                b.rect->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::setRange));
  m_panels.back().rect->axis(QCPAxis::atBottom)->setLabel(tr("step"));
  // Accuracy lives in [0, 1]: the panel shows that range until evaluations arrive.
  m_panels.back().rect->axis(QCPAxis::atLeft)->setRange(0, 1);

  // The crosshair lives on its own buffered layer so that moving it repaints only that layer.
  m_plot->addLayer(QStringLiteral("crosshair"), m_plot->layer(QStringLiteral("legend")),
                   QCustomPlot::limAbove);
  m_plot->layer(QStringLiteral("crosshair"))->setMode(QCPLayer::lmBuffered);
  for (auto& p : m_panels) {
    p.crosshair = new QCPItemStraightLine(m_plot);
    p.crosshair->setLayer(QStringLiteral("crosshair"));
    p.crosshair->setClipAxisRect(p.rect);
    p.crosshair->point1->setAxes(p.rect->axis(QCPAxis::atBottom), p.rect->axis(QCPAxis::atLeft));
    p.crosshair->point2->setAxes(p.rect->axis(QCPAxis::atBottom), p.rect->axis(QCPAxis::atLeft));
    p.crosshair->point1->setAxisRect(p.rect);
    p.crosshair->point2->setAxisRect(p.rect);
    p.crosshair->setPen(QPen(QColor(80, 80, 80, 160), 1, Qt::DashLine));
    p.crosshair->setSelectable(false);
    p.crosshair->setVisible(false);
  }

  const auto& columns = MetricSample::columns();
  std::vector<int> perPanel(m_panels.size(), 0);
  for (const auto& spec : curveSpecs()) {
    Curve c;
    c.column = QString::fromLatin1(spec.column);
    c.label = tr(spec.label);
    c.panel = spec.panel;
    c.color = spec.color;
    c.orderInPanel = perPanel[spec.panel]++;
    c.sparse = c.column == QLatin1String("knn_acc");
    c.valueIndex =
        static_cast<int>(std::find(columns.begin(), columns.end(), spec.column) - columns.begin());
    m_curves.push_back(c);
  }

  connect(m_plot, &QCustomPlot::legendClick, this,
          [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
            auto* pli = qobject_cast<QCPPlottableLegendItem*>(item);
            if (!pli) return;
            for (auto& run : m_runs)
              for (std::size_t j = 0; j < m_curves.size(); ++j)
                if (run->inst[j].smoothGraph == pli->plottable()) {
                  setCurveVisible(m_curves[j].column, !m_curves[j].visible);
                  return;
                }
          });
  connect(m_plot, &QCustomPlot::mouseWheel, this, [this] { m_follow = false; });
  connect(m_plot, &QCustomPlot::mousePress, this, [this] { m_follow = false; });
  connect(m_plot, &QCustomPlot::mouseDoubleClick, this, &MetricsPlot::resetView);
  connect(m_plot, &QCustomPlot::mouseMove, this, &MetricsPlot::onMouseMove);
  // Decimate lazily, right before a frame is drawn, for the range that frame shows.
  connect(m_plot, &QCustomPlot::beforeReplot, this, [this] { redecimate(); });
}

void MetricsPlot::addGraphs(Run& run) {
  run.inst.resize(m_curves.size());
  for (std::size_t j = 0; j < m_curves.size(); ++j) {
    QCPAxisRect* rect = m_panels[m_curves[j].panel].rect;
    auto* xAxis = rect->axis(QCPAxis::atBottom);
    auto* yAxis = rect->axis(QCPAxis::atLeft);
    Instance& in = run.inst[j];
    in.rawGraph = m_plot->addGraph(xAxis, yAxis);
    in.smoothGraph = m_plot->addGraph(xAxis, yAxis);
    // The data handed over is already decimated to about two points per pixel column.
    in.rawGraph->setAdaptiveSampling(false);
    // The faint raw line is a dense zig-zag when zoomed out; antialiasing it costs most of a
    // frame and is invisible at its 25% opacity.
    in.rawGraph->setAntialiased(false);
    in.smoothGraph->setAdaptiveSampling(false);
  }
}

MetricsPlot::Run* MetricsPlot::findRun(int id) {
  for (auto& r : m_runs)
    if (r->id == id) return r.get();
  return nullptr;
}

const MetricsPlot::Run* MetricsPlot::findRun(int id) const {
  return const_cast<MetricsPlot*>(this)->findRun(id);
}

int MetricsPlot::addRun(const QString& name) {
  auto run = std::make_unique<Run>();
  run->id = m_nextRunId++;
  run->name = name;
  // The first palette colour not taken by a run still shown.
  for (int i = 1;; ++i) {
    bool taken = false;
    for (auto& r : m_runs) taken = taken || r->color == paletteColor(i);
    if (!taken || i > 10) {
      run->color = paletteColor(i);
      break;
    }
  }
  addGraphs(*run);
  m_runs.push_back(std::move(run));
  restyle();
  return m_runs.back()->id;
}

void MetricsPlot::removeRun(int id) {
  if (id == kPrimaryRun) return;
  for (auto it = m_runs.begin(); it != m_runs.end(); ++it) {
    if ((*it)->id != id) continue;
    for (auto& in : (*it)->inst) {
      m_plot->removeGraph(in.rawGraph);
      m_plot->removeGraph(in.smoothGraph);
    }
    m_runs.erase(it);
    m_dirty = true;
    restyle();
    rescaleIfFollowing();
    return;
  }
}

QList<int> MetricsPlot::runIds() const {
  QList<int> ids;
  for (auto& r : m_runs) ids << r->id;
  return ids;
}

bool MetricsPlot::hasRun(int id) const { return findRun(id) != nullptr; }

void MetricsPlot::setRunName(int id, const QString& name) {
  if (Run* r = findRun(id)) {
    r->name = name;
    restyle();
  }
}

QString MetricsPlot::runName(int id) const {
  const Run* r = findRun(id);
  return r ? r->name : QString();
}

void MetricsPlot::setRunVisible(int id, bool visible) {
  if (Run* r = findRun(id)) {
    r->visible = visible;
    m_dirty = true;
    restyle();
    rescaleIfFollowing();
  }
}

bool MetricsPlot::isRunVisible(int id) const {
  const Run* r = findRun(id);
  return r && r->visible;
}

QColor MetricsPlot::runColor(int id) const {
  const Run* r = findRun(id);
  return r ? r->color : QColor();
}

bool MetricsPlot::multiRun() const {
  int shown = 0;
  for (auto& r : m_runs) shown += r->visible && !r->samples.empty();
  return shown > 1;
}

double MetricsPlot::key(const MetricSample& s) const {
  switch (m_xAxis) {
    case XAxis::Epoch:
      return s.epoch;
    case XAxis::WallTime:
      return s.wallSeconds;
    case XAxis::Step:
      break;
  }
  return static_cast<double>(s.step);
}

void MetricsPlot::appendSamples(int id, const std::vector<MetricSample>& samples) {
  Run* run = findRun(id);
  if (!run) return;
  const std::size_t from = run->samples.size();
  const bool wasEmpty = run->samples.empty();
  for (const auto& s : samples)
    if (run->samples.empty() || s.step > run->samples.back().step) run->samples.push_back(s);
  if (run->samples.size() == from) return;
  plotSamples(*run, from);
  if (wasEmpty) restyle();  // legends gain the new curves; colours may now mean runs
  rescaleIfFollowing();
}

void MetricsPlot::setHistory(int id, std::vector<MetricSample> samples) {
  Run* run = findRun(id);
  if (!run) return;
  std::stable_sort(samples.begin(), samples.end(),
                   [](const MetricSample& a, const MetricSample& b) { return a.step < b.step; });
  run->samples.clear();
  for (const auto& s : samples)
    if (run->samples.empty() || s.step > run->samples.back().step) run->samples.push_back(s);
  for (auto& in : run->inst) {
    in.raw.clear();
    in.smooth.clear();
    in.emaStarted = false;
  }
  run->lastKey = -std::numeric_limits<double>::infinity();
  plotSamples(*run, 0);
  m_follow = true;
  restyle();
  rescaleIfFollowing();
}

void MetricsPlot::clear() {
  while (m_runs.size() > 1) removeRun(m_runs.back()->id);
  setHistory(kPrimaryRun, {});
}

const std::vector<MetricSample>& MetricsPlot::samples(int id) const {
  static const std::vector<MetricSample> none;
  const Run* r = findRun(id);
  return r ? r->samples : none;
}

void MetricsPlot::plotSamples(Run& run, std::size_t from) {
  const double w = m_smoothing;
  for (std::size_t i = from; i < run.samples.size(); ++i) {
    const std::vector<double> values = run.samples[i].values();
    // Keys never decrease (a resumed run's wall clock may restart): decimation needs order.
    const double k = std::max(key(run.samples[i]), run.lastKey);
    run.lastKey = k;
    for (std::size_t j = 0; j < m_curves.size(); ++j) {
      Instance& in = run.inst[j];
      const double v = values[m_curves[j].valueIndex];
      if (!std::isfinite(v)) continue;
      in.ema = in.emaStarted && !m_curves[j].sparse ? w * in.ema + (1 - w) * v : v;
      in.emaStarted = true;
      in.raw.append(k, v);
      in.smooth.append(k, in.ema);
    }
  }
  m_dirty = true;
}

void MetricsPlot::rebuild() {
  for (auto& run : m_runs) {
    for (auto& in : run->inst) {
      in.raw.clear();
      in.smooth.clear();
      in.emaStarted = false;
    }
    run->lastKey = -std::numeric_limits<double>::infinity();
    plotSamples(*run, 0);
  }
  restyle();
  rescaleIfFollowing();
}

void MetricsPlot::restyle() {
  const bool multi = multiRun();
  for (auto& p : m_panels) p.legend->clearItems();
  for (auto& run : m_runs) {
    for (std::size_t j = 0; j < m_curves.size(); ++j) {
      const Curve& c = m_curves[j];
      Instance& in = run->inst[j];
      const QColor color = multi ? run->color : c.color;
      const Qt::PenStyle style = multi ? dashFor(c.orderInPanel) : Qt::SolidLine;
      QColor faint = color;
      faint.setAlpha(multi ? 40 : 60);
      in.rawGraph->setPen(QPen(faint, 1));
      QPen pen(color, 2);
      pen.setStyle(style);
      in.smoothGraph->setPen(pen);
      in.smoothGraph->setName(multi ? run->name + QStringLiteral(" · ") + c.label : c.label);
      const bool shown = run->visible && !in.raw.empty();
      in.smoothGraph->setVisible(shown && c.visible);
      in.rawGraph->setVisible(shown && c.visible && m_smoothing > 0 && !c.sparse);
      if (shown) {
        QCPLegend* legend = m_panels[c.panel].legend;
        in.smoothGraph->addToLegend(legend);
        if (auto* item = legend->itemWithPlottable(in.smoothGraph))
          item->setTextColor(c.visible ? Qt::black : Qt::gray);
      }
    }
  }
  // An empty legend would be a stray frame (e.g. before the first online evaluation).
  for (auto& p : m_panels) p.legend->setVisible(p.legend->itemCount() > 0);
  m_dirty = true;
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MetricsPlot::redecimate() {
  const QCPRange range = m_panels.front().rect->axis(QCPAxis::atBottom)->range();
  // Buckets per pixel column of the panel; its layout may not be computed yet on the first frame,
  // so the widget's width bounds it from below.
  const int width = std::max({m_panels.front().rect->width(), m_plot->width() * 9 / 10, 200});
  if (!m_dirty && range.lower == m_decLo && range.upper == m_decHi && width == m_decWidth) return;
  m_dirty = false;
  m_decLo = range.lower;
  m_decHi = range.upper;
  m_decWidth = width;
  std::vector<double> k, v;
  // Raw lines (1 px, drawn on Qt's fast cosmetic path) keep every bucket's min and max, so spikes
  // stay visible. Smoothed lines have no spikes to keep: one mean point per three pixels; with
  // smoothing off they are the raw values, decimated by min/max.
  auto feed = [&](const DecimatedSeries& series, QCPGraph* graph, bool smoothLine, bool sparse) {
    if (!graph->visible()) {
      if (!graph->data()->isEmpty()) graph->data()->clear();
      return;
    }
    if (smoothLine && m_smoothing > 0 && !sparse)
      series.decimateMean(range.lower, range.upper, width / 3, &k, &v);
    else
      series.decimate(range.lower, range.upper, width, &k, &v);
    graph->setData(QVector<double>(k.begin(), k.end()), QVector<double>(v.begin(), v.end()),
                   true);
    if (smoothLine) {
      // A line needs two points: mark a lone sample so it is visible at all.
      const bool lone = series.size() == 1 || sparse;
      if (lone != (graph->scatterStyle().shape() != QCPScatterStyle::ssNone))
        graph->setScatterStyle(lone ? QCPScatterStyle(QCPScatterStyle::ssDisc, 6)
                                    : QCPScatterStyle());
      QPen pen = graph->pen();
      // Qt strokes lines wider than 1 px as filled outlines, slowly when long: 2 px only while
      // the visible part has few points (a short run, or zoomed in), 1 px once it is dense.
      const bool dense = static_cast<int>(k.size()) > width / 8;
      pen.setWidthF(dense ? 1.0 : 2.0);
      graph->setPen(pen);
    }
  };
  for (auto& run : m_runs)
    for (std::size_t j = 0; j < m_curves.size(); ++j) {
      Instance& in = run->inst[j];
      feed(in.raw, in.rawGraph, false, m_curves[j].sparse);
      feed(in.smooth, in.smoothGraph, true, m_curves[j].sparse);
    }
}

void MetricsPlot::resetView() {
  m_follow = true;
  rescaleIfFollowing();
}

void MetricsPlot::rescaleIfFollowing() {
  if (m_follow) {
    // The shared x axis spans every shown curve's data.
    bool found = false;
    double lo = 0, hi = 0;
    for (auto& run : m_runs) {
      if (!run->visible) continue;
      for (std::size_t j = 0; j < m_curves.size(); ++j) {
        const auto& keys = run->inst[j].raw.keys();
        if (!m_curves[j].visible || keys.empty()) continue;
        lo = found ? std::min(lo, keys.front()) : keys.front();
        hi = found ? std::max(hi, keys.back()) : keys.back();
        found = true;
      }
    }
    if (found) {
      if (hi <= lo) {
        lo -= 0.5;
        hi += 0.5;
      }
      m_panels.front().rect->axis(QCPAxis::atBottom)->setRange(lo, hi);
    }
    redecimate();  // the y ranges below come from the decimated data, which keeps extremes
    for (std::size_t p = 0; p < m_panels.size(); ++p) {
      bool any = false;
      for (auto& run : m_runs)
        for (std::size_t j = 0; j < m_curves.size(); ++j)
          any = any || (m_curves[j].panel == static_cast<int>(p) &&
                        run->inst[j].smoothGraph->visible() &&
                        !run->inst[j].smoothGraph->data()->isEmpty());
      if (!any) continue;
      auto* y = m_panels[p].rect->axis(QCPAxis::atLeft);
      y->rescale(true);
      const QCPRange r = y->range();
      if (y->scaleType() == QCPAxis::stLinear) {
        const double pad = r.size() > 0 ? 0.05 * r.size() : std::max(1e-3, std::abs(r.lower) * 0.1);
        y->setRange(r.lower - pad, r.upper + pad);
      } else {
        y->setRange(r.lower / 1.2, r.upper * 1.2);
      }
    }
  }
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MetricsPlot::setSmoothing(double weight) {
  weight = std::clamp(weight, 0.0, 0.99);
  if (weight == m_smoothing) return;
  m_smoothing = weight;
  const QSignalBlocker block(m_smoothSlider);
  m_smoothSlider->setValue(static_cast<int>(std::lround(weight * 100)));
  m_smoothLabel->setText(QString::number(weight, 'f', 2));
  rebuild();
}

void MetricsPlot::setLogScale(bool on) {
  m_logScale = on;
  const QSignalBlocker block(m_logCheck);
  m_logCheck->setChecked(on);
  auto* y = m_panels.front().rect->axis(QCPAxis::atLeft);
  if (on) {
    y->setScaleType(QCPAxis::stLogarithmic);
    y->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  } else {
    y->setScaleType(QCPAxis::stLinear);
    y->setTicker(QSharedPointer<QCPAxisTicker>::create());
  }
  m_follow = true;
  rescaleIfFollowing();
}

void MetricsPlot::setXAxis(XAxis axis) {
  m_xAxis = axis;
  const QSignalBlocker block(m_xCombo);
  m_xCombo->setCurrentIndex(static_cast<int>(axis));
  const QStringList labels = {tr("step"), tr("epoch"), tr("wall time (s)")};
  m_panels.back().rect->axis(QCPAxis::atBottom)->setLabel(labels[static_cast<int>(axis)]);
  m_follow = true;
  if (m_crosshairOn) hideCrosshair();
  rebuild();
}

QStringList MetricsPlot::curveNames() const {
  QStringList names;
  for (const auto& c : m_curves) names << c.column;
  return names;
}

int MetricsPlot::curveIndex(const QString& column) const {
  for (std::size_t j = 0; j < m_curves.size(); ++j)
    if (m_curves[j].column == column) return static_cast<int>(j);
  return -1;
}

int MetricsPlot::pointCount(const QString& column, int run) const {
  const int j = curveIndex(column);
  const Run* r = findRun(run);
  return j < 0 || !r ? -1 : static_cast<int>(r->inst[j].raw.size());
}

int MetricsPlot::drawnPointCount(const QString& column, int run) const {
  const int j = curveIndex(column);
  const Run* r = findRun(run);
  return j < 0 || !r ? -1 : r->inst[j].rawGraph->dataCount();
}

bool MetricsPlot::isCurveVisible(const QString& column) const {
  const int j = curveIndex(column);
  return j >= 0 && m_curves[j].visible;
}

void MetricsPlot::setCurveVisible(const QString& column, bool visible) {
  const int j = curveIndex(column);
  if (j < 0) return;
  m_curves[j].visible = visible;
  restyle();
  rescaleIfFollowing();
}

void MetricsPlot::onMouseMove(QMouseEvent* event) {
  for (auto& p : m_panels) {
    if (!p.rect->rect().contains(event->pos())) continue;
    setCrosshair(p.rect->axis(QCPAxis::atBottom)->pixelToCoord(event->pos().x()));
    return;
  }
  if (m_crosshairOn) hideCrosshair();
}

void MetricsPlot::setCrosshair(double at) {
  m_crosshairOn = true;
  m_crosshairKey = at;
  for (auto& p : m_panels) {
    p.crosshair->point1->setCoords(at, 0);
    p.crosshair->point2->setCoords(at, 1);
    p.crosshair->setVisible(true);
  }
  // The primary run's sample nearest to the key.
  const Run& run = *m_runs.front();
  QString text;
  if (!run.samples.empty()) {
    std::size_t best = 0;
    double bestDist = std::numeric_limits<double>::infinity();
    // Samples are in step order and keys never decrease with step: binary search on the key.
    std::size_t lo = 0, hi = run.samples.size();
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (key(run.samples[mid]) < at) lo = mid + 1;
      else hi = mid;
    }
    for (std::size_t i : {lo == 0 ? std::size_t{0} : lo - 1, std::min(lo, run.samples.size() - 1)}) {
      const double d = std::abs(key(run.samples[i]) - at);
      if (d < bestDist) {
        bestDist = d;
        best = i;
      }
    }
    const MetricSample& s = run.samples[best];
    const std::vector<double> values = s.values();
    QStringList parts;
    parts << tr("step %1").arg(s.step) << tr("epoch %1").arg(s.epoch, 0, 'f', 3)
          << tr("%1 s").arg(s.wallSeconds, 0, 'f', 1);
    for (const auto& c : m_curves)
      if (c.visible && std::isfinite(values[c.valueIndex]))
        parts << QStringLiteral("%1 %2").arg(c.label, formatValue(values[c.valueIndex]));
    text = parts.join(QStringLiteral(" · "));
  }
  m_crosshairText = text;
  m_readout->setText(text.isEmpty() ? tr("no samples") : text);
  m_readout->setEnabled(!text.isEmpty());
  m_plot->layer(QStringLiteral("crosshair"))->replot();
}

void MetricsPlot::hideCrosshair() {
  m_crosshairOn = false;
  for (auto& p : m_panels) p.crosshair->setVisible(false);
  m_plot->layer(QStringLiteral("crosshair"))->replot();
}

QString MetricsPlot::crosshairText() const { return m_crosshairText; }

QString MetricsPlot::exportImage(const QString& path, int width, int height) {
  if (width <= 0) width = m_plot->isVisible() ? m_plot->width() : 1200;
  if (height <= 0) height = m_plot->isVisible() ? m_plot->height() : 900;
  const QString suffix = QFileInfo(path).suffix().toLower();
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly))
    return tr("cannot write %1: %2").arg(path, file.errorString());

  if (suffix == QLatin1String("png")) {
    const QPixmap pixmap = m_plot->toPixmap(width, height);
    if (!pixmap.toImage().save(&file, "PNG")) return tr("cannot encode PNG into %1").arg(path);
  } else if (suffix == QLatin1String("pdf")) {
    QPdfWriter writer(&file);
    writer.setCreator(tr("InfoMax Studio"));
    writer.setTitle(tr("Training metrics"));
    QPageLayout page;
    page.setMode(QPageLayout::FullPageMode);
    page.setOrientation(QPageLayout::Portrait);
    page.setMargins(QMarginsF(0, 0, 0, 0));
    page.setPageSize(
        QPageSize(QSizeF(width, height), QPageSize::Point, QString(), QPageSize::ExactMatch));
    writer.setPageLayout(page);
    QCPPainter painter;
    if (!painter.begin(&writer)) return tr("cannot start a PDF in %1").arg(path);
    painter.setWindow(0, 0, width, height);
    m_plot->toPainter(&painter, width, height);
    painter.end();
  } else if (suffix == QLatin1String("svg")) {
    QSvgGenerator generator;
    generator.setOutputDevice(&file);
    generator.setSize(QSize(width, height));
    generator.setViewBox(QRect(0, 0, width, height));
    generator.setTitle(tr("Training metrics"));
    QCPPainter painter;
    if (!painter.begin(&generator)) return tr("cannot start an SVG in %1").arg(path);
    m_plot->toPainter(&painter, width, height);
    painter.end();
  } else {
    file.cancelWriting();
    return tr("%1: unknown image type '%2' (use .png, .pdf or .svg)").arg(path, suffix);
  }
  if (!file.commit()) return tr("cannot write %1: %2").arg(path, file.errorString());
  m_plot->replot(QCustomPlot::rpQueuedReplot);  // toPainter resized the viewport temporarily
  return {};
}

QString MetricsPlot::exportCsv(const QString& path) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
    return tr("cannot write %1: %2").arg(path, file.errorString());
  std::vector<const Run*> runs;
  for (auto& r : m_runs)
    if (r->id == kPrimaryRun || (r->visible && !r->samples.empty())) runs.push_back(r.get());
  const bool withRun = runs.size() > 1;
  QTextStream out(&file);
  if (withRun) out << "run,";
  out << "step,epoch,wall_s";
  for (const auto& c : m_curves) out << ',' << c.column << ',' << c.column << "_smoothed";
  out << '\n';
  for (const Run* run : runs) {
    QString name = run->name;
    name.replace(QLatin1Char(','), QLatin1Char(' ')).replace(QLatin1Char('\n'), QLatin1Char(' '));
    std::vector<double> ema(m_curves.size(), 0);
    std::vector<bool> started(m_curves.size(), false);
    for (const auto& s : run->samples) {
      const std::vector<double> v = s.values();
      if (withRun) out << name << ',';
      out << s.step << ',' << formatCsv(s.epoch) << ',' << formatCsv(s.wallSeconds);
      for (std::size_t i = 0; i < m_curves.size(); ++i) {
        const double x = v[m_curves[i].valueIndex];
        double smoothed = kNoValue;
        if (std::isfinite(x)) {
          ema[i] = started[i] ? m_smoothing * ema[i] + (1 - m_smoothing) * x : x;
          started[i] = true;
          smoothed = ema[i];
        }
        out << ',' << formatCsv(x) << ',' << formatCsv(smoothed);
      }
      out << '\n';
    }
  }
  out.flush();
  if (out.status() != QTextStream::Ok || !file.commit())
    return tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

}  // namespace infomax::ui
