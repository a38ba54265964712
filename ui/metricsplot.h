#pragma once
// MetricsPlot: live training curves in four stacked panels sharing one x axis (losses, MI
// estimates in nats, mean positive/negative scores, throughput), each curve drawn raw (faint)
// behind an EMA-smoothed line, with zoom/pan, legend toggles and PNG/PDF/SVG/CSV export.
// Thread rules: GUI thread only. Samples arrive in batches (appendSamples) from the GUI's
// coalescing timer; replots are queued, so many appends between frames cost one replot.

#include <vector>

#include <QString>
#include <QStringList>
#include <QWidget>

#include "infomax/metrics.h"

class QCheckBox;
class QComboBox;
class QCPAxisRect;
class QCPGraph;
class QCPLegend;
class QCustomPlot;
class QLabel;
class QSlider;

namespace infomax::ui {

class MetricsPlot final : public QWidget {
  Q_OBJECT
 public:
  enum class XAxis { Step, Epoch, WallTime };

  explicit MetricsPlot(QWidget* parent = nullptr);
  ~MetricsPlot() override;
  MetricsPlot(const MetricsPlot&) = delete;
  MetricsPlot& operator=(const MetricsPlot&) = delete;

  // Appends samples newer than the last one held (older or repeated steps are dropped, so a
  // resumed run's history and its live samples may overlap).
  void appendSamples(const std::vector<MetricSample>& samples);
  // Replaces everything shown (e.g. a run folder's metrics.csv).
  void setHistory(std::vector<MetricSample> samples);
  void clear();
  const std::vector<MetricSample>& samples() const { return m_samples; }

  // EMA weight in [0, 0.99]: 0 shows the raw values only.
  void setSmoothing(double weight);
  double smoothing() const { return m_smoothing; }
  void setLogScale(bool on);  // logarithmic y axis on the loss panel
  bool logScale() const { return m_logScale; }
  void setXAxis(XAxis axis);
  XAxis xAxis() const { return m_xAxis; }

  // The metrics.csv column names of the curves, and a curve's raw point count / visibility.
  QStringList curveNames() const;
  int pointCount(const QString& column) const;
  bool isCurveVisible(const QString& column) const;
  void setCurveVisible(const QString& column, bool visible);

  QCustomPlot* plot() const { return m_plot; }

  // Writes the panels as PNG, PDF or SVG (by suffix) / the plotted data as CSV, atomically.
  // Returns an empty string on success, otherwise a message naming the file and the problem.
  QString exportImage(const QString& path, int width = 0, int height = 0);
  QString exportCsv(const QString& path) const;

 private:
  struct Curve;
  struct Panel;
  void buildPlot();
  void plotSamples(std::size_t from);  // appends m_samples[from..] to the graphs
  void rebuild();                      // re-plots every sample (x axis or smoothing changed)
  void rescaleIfFollowing();
  double key(const MetricSample& s) const;
  Curve* findCurve(const QString& column);
  const Curve* findCurve(const QString& column) const;
  void applyCurveVisibility(Curve& c, bool visible);

  QCustomPlot* m_plot = nullptr;
  QComboBox* m_xCombo = nullptr;
  QSlider* m_smoothSlider = nullptr;
  QLabel* m_smoothLabel = nullptr;
  QCheckBox* m_logCheck = nullptr;
  std::vector<Panel> m_panels;
  std::vector<Curve> m_curves;
  std::vector<MetricSample> m_samples;
  double m_smoothing = 0.6;
  bool m_logScale = false;
  bool m_follow = true;  // rescale to the data until the user zooms or pans
  XAxis m_xAxis = XAxis::Step;
};

}  // namespace infomax::ui
