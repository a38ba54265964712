#include "metricsplot.h"

#include <algorithm>
#include <cmath>

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
};

struct MetricsPlot::Curve {
  QString column;  // metrics.csv column name
  QString label;
  int valueIndex = -1;  // index in MetricSample::values()
  QColor color;
  int panel = 0;
  QCPGraph* raw = nullptr;
  QCPGraph* smooth = nullptr;
  bool visible = true;
  bool inLegend = false;  // added once the curve has a finite value
  bool emaStarted = false;
  double ema = 0;
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
      {"local_mi_nats", "local MI", 1, QColor(255, 127, 14)},
      {"global_mi_nats", "global MI", 1, QColor(44, 160, 44)},
      {"local_pos", "local pos", 2, QColor(148, 103, 189)},
      {"local_neg", "local neg", 2, QColor(140, 86, 75)},
      {"global_pos", "global pos", 2, QColor(227, 119, 194)},
      {"global_neg", "global neg", 2, QColor(127, 127, 127)},
      {"img_per_s", "images/s", 3, QColor(23, 190, 207)},
  };
  return specs;
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

  m_plot = new QCustomPlot(this);
  m_plot->setObjectName(QStringLiteral("metricsPlot"));
  m_plot->setMinimumSize(400, 300);
  layout->addWidget(m_plot, 1);
  buildPlot();

  m_smoothLabel->setText(QString::number(m_smoothing, 'f', 2));
  connect(m_xCombo, &QComboBox::currentIndexChanged, this,
          [this](int i) { setXAxis(static_cast<XAxis>(i)); });
  connect(m_smoothSlider, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
  connect(m_logCheck, &QCheckBox::toggled, this, &MetricsPlot::setLogScale);
  connect(reset, &QPushButton::clicked, this, [this] {
    m_follow = true;
    rescaleIfFollowing();
  });
}

MetricsPlot::~MetricsPlot() = default;

void MetricsPlot::buildPlot() {
  m_plot->setAutoAddPlottableToLegend(false);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_plot->setNoAntialiasingOnDrag(true);
  m_plot->plotLayout()->setRowSpacing(2);

  const QStringList titles = {tr("loss"), tr("MI estimate (nats)"), tr("mean score"),
                              tr("images/s")};
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

  const auto& columns = MetricSample::columns();
  for (const auto& spec : curveSpecs()) {
    Curve c;
    c.column = QString::fromLatin1(spec.column);
    c.label = tr(spec.label);
    c.panel = spec.panel;
    c.color = spec.color;
    c.valueIndex =
        static_cast<int>(std::find(columns.begin(), columns.end(), spec.column) - columns.begin());
    QCPAxisRect* rect = m_panels[spec.panel].rect;
    auto* xAxis = rect->axis(QCPAxis::atBottom);
    auto* yAxis = rect->axis(QCPAxis::atLeft);
    c.raw = m_plot->addGraph(xAxis, yAxis);
    c.smooth = m_plot->addGraph(xAxis, yAxis);
    QColor faint = spec.color;
    faint.setAlpha(60);
    c.raw->setPen(QPen(faint, 1));
    c.smooth->setPen(QPen(spec.color, 2));
    c.smooth->setName(c.label);
    c.raw->setAdaptiveSampling(true);
    c.smooth->setAdaptiveSampling(true);
    c.raw->setVisible(m_smoothing > 0);
    m_curves.push_back(c);
  }

  connect(m_plot, &QCustomPlot::legendClick, this,
          [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
            auto* pli = qobject_cast<QCPPlottableLegendItem*>(item);
            if (!pli) return;
            for (auto& c : m_curves)
              if (c.smooth == pli->plottable()) {
                applyCurveVisibility(c, !c.visible);
                rescaleIfFollowing();
              }
          });
  connect(m_plot, &QCustomPlot::mouseWheel, this, [this] { m_follow = false; });
  connect(m_plot, &QCustomPlot::mousePress, this, [this] { m_follow = false; });
  connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] {
    m_follow = true;
    rescaleIfFollowing();
  });
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

void MetricsPlot::appendSamples(const std::vector<MetricSample>& samples) {
  const std::size_t from = m_samples.size();
  for (const auto& s : samples)
    if (m_samples.empty() || s.step > m_samples.back().step) m_samples.push_back(s);
  if (m_samples.size() == from) return;
  plotSamples(from);
  rescaleIfFollowing();
}

void MetricsPlot::setHistory(std::vector<MetricSample> samples) {
  std::stable_sort(samples.begin(), samples.end(),
                   [](const MetricSample& a, const MetricSample& b) { return a.step < b.step; });
  m_samples.clear();
  for (const auto& s : samples)
    if (m_samples.empty() || s.step > m_samples.back().step) m_samples.push_back(s);
  m_follow = true;
  rebuild();
}

void MetricsPlot::clear() { setHistory({}); }

void MetricsPlot::plotSamples(std::size_t from) {
  const double w = m_smoothing;
  const std::size_t n = m_curves.size();
  std::vector<QVector<double>> keys(n), raw(n), smooth(n);
  for (std::size_t i = from; i < m_samples.size(); ++i) {
    const std::vector<double> values = m_samples[i].values();
    const double k = key(m_samples[i]);
    for (std::size_t j = 0; j < n; ++j) {
      Curve& c = m_curves[j];
      const double v = values[c.valueIndex];
      if (!std::isfinite(v)) continue;
      c.ema = c.emaStarted ? w * c.ema + (1 - w) * v : v;
      c.emaStarted = true;
      keys[j].push_back(k);
      raw[j].push_back(v);
      smooth[j].push_back(c.ema);
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    Curve& c = m_curves[j];
    if (keys[j].isEmpty()) continue;
    c.raw->addData(keys[j], raw[j], true);
    c.smooth->addData(keys[j], smooth[j], true);
    // A line needs two points: mark a lone first sample so it is visible at all.
    c.smooth->setScatterStyle(c.smooth->dataCount() == 1
                                  ? QCPScatterStyle(QCPScatterStyle::ssDisc, 6)
                                  : QCPScatterStyle());
    if (!c.inLegend) {
      c.smooth->addToLegend(m_panels[c.panel].legend);
      c.inLegend = true;
    }
  }
}

void MetricsPlot::rebuild() {
  for (auto& c : m_curves) {
    c.raw->data()->clear();
    c.smooth->data()->clear();
    c.emaStarted = false;
    if (c.inLegend) c.smooth->removeFromLegend(m_panels[c.panel].legend);
    c.inLegend = false;
  }
  plotSamples(0);
  rescaleIfFollowing();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void MetricsPlot::rescaleIfFollowing() {
  if (m_follow) {
    for (auto& p : m_panels) {
      bool any = false;
      for (auto& c : m_curves)
        any = any || (c.panel == &p - m_panels.data() && c.visible && !c.smooth->data()->isEmpty());
      if (!any) continue;
      auto* y = p.rect->axis(QCPAxis::atLeft);
      y->rescale(true);
      const QCPRange r = y->range();
      if (y->scaleType() == QCPAxis::stLinear) {
        const double pad = r.size() > 0 ? 0.05 * r.size() : std::max(1e-3, std::abs(r.lower) * 0.1);
        y->setRange(r.lower - pad, r.upper + pad);
      } else {
        y->setRange(r.lower / 1.2, r.upper * 1.2);
      }
    }
    // The shared x axis spans every panel's data.
    bool found = false;
    QCPRange keys;
    for (auto& c : m_curves) {
      if (!c.visible) continue;
      bool ok = false;
      const QCPRange r = c.smooth->getKeyRange(ok);
      if (!ok) continue;
      keys = found ? QCPRange(std::min(keys.lower, r.lower), std::max(keys.upper, r.upper)) : r;
      found = true;
    }
    if (found) {
      if (keys.size() <= 0) keys = QCPRange(keys.lower - 0.5, keys.upper + 0.5);
      m_panels.front().rect->axis(QCPAxis::atBottom)->setRange(keys);
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
  for (auto& c : m_curves) c.raw->setVisible(c.visible && m_smoothing > 0);
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
  rebuild();
}

QStringList MetricsPlot::curveNames() const {
  QStringList names;
  for (const auto& c : m_curves) names << c.column;
  return names;
}

MetricsPlot::Curve* MetricsPlot::findCurve(const QString& column) {
  for (auto& c : m_curves)
    if (c.column == column) return &c;
  return nullptr;
}

const MetricsPlot::Curve* MetricsPlot::findCurve(const QString& column) const {
  return const_cast<MetricsPlot*>(this)->findCurve(column);
}

int MetricsPlot::pointCount(const QString& column) const {
  const Curve* c = findCurve(column);
  return c ? c->raw->dataCount() : -1;
}

bool MetricsPlot::isCurveVisible(const QString& column) const {
  const Curve* c = findCurve(column);
  return c && c->visible;
}

void MetricsPlot::setCurveVisible(const QString& column, bool visible) {
  if (Curve* c = findCurve(column)) {
    applyCurveVisibility(*c, visible);
    rescaleIfFollowing();
  }
}

void MetricsPlot::applyCurveVisibility(Curve& c, bool visible) {
  c.visible = visible;
  c.smooth->setVisible(visible);
  c.raw->setVisible(visible && m_smoothing > 0);
  if (auto* item = m_panels[c.panel].legend->itemWithPlottable(c.smooth))
    item->setTextColor(visible ? Qt::black : Qt::gray);
}

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
  QTextStream out(&file);
  out << "step,epoch,wall_s";
  for (const auto& c : m_curves) out << ',' << c.column << ',' << c.column << "_smoothed";
  out << '\n';
  std::vector<double> ema(m_curves.size(), 0);
  std::vector<bool> started(m_curves.size(), false);
  for (const auto& s : m_samples) {
    const std::vector<double> v = s.values();
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
  out.flush();
  if (out.status() != QTextStream::Ok || !file.commit())
    return tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

}  // namespace infomax::ui
