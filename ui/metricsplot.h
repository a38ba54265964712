#pragma once
// MetricsPlot: training curves in four stacked panels sharing one x axis (losses, MI estimates
// in nats, mean positive/negative scores, throughput), each curve drawn raw (faint) behind an
// EMA-smoothed line, with zoom/pan, a crosshair read-out, legend toggles and PNG/PDF/SVG/CSV
// export. Several runs can be overlaid: run 0 (kPrimaryRun) is the live or opened run, others are
// added for comparison, one colour each. Long curves are min/max-decimated to the visible range
// (decimation.h), so a million points per curve still pan and zoom smoothly.
// Thread rules: GUI thread only. Samples arrive in batches (appendSamples) from the GUI's
// coalescing timer; replots are queued, so many appends between frames cost one replot.

#include <memory>
#include <vector>

#include <QColor>
#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "infomax/metrics.h"

class QCheckBox;
class QComboBox;
class QCPAxisRect;
class QCPGraph;
class QCPItemStraightLine;
class QCPLegend;
class QCustomPlot;
class QLabel;
class QMouseEvent;
class QSlider;

namespace infomax::ui {

class MetricsPlot final : public QWidget {
  Q_OBJECT
 public:
  enum class XAxis { Step, Epoch, WallTime };
  static constexpr int kPrimaryRun = 0;

  explicit MetricsPlot(QWidget* parent = nullptr);
  ~MetricsPlot() override;
  MetricsPlot(const MetricsPlot&) = delete;
  MetricsPlot& operator=(const MetricsPlot&) = delete;

  // Runs. The primary run always exists; addRun returns a new run's id (> 0).
  int addRun(const QString& name);
  void removeRun(int run);
  QList<int> runIds() const;
  bool hasRun(int run) const;
  void setRunName(int run, const QString& name);
  QString runName(int run) const;
  void setRunVisible(int run, bool visible);
  bool isRunVisible(int run) const;
  // The colour a run's curves take when several runs are shown.
  QColor runColor(int run) const;

  // Appends samples newer than the run's last one (older or repeated steps are dropped, so a
  // resumed run's history and its live samples may overlap).
  void appendSamples(int run, const std::vector<MetricSample>& samples);
  void appendSamples(const std::vector<MetricSample>& samples) {
    appendSamples(kPrimaryRun, samples);
  }
  // Replaces a run's samples (e.g. a run folder's metrics.csv).
  void setHistory(int run, std::vector<MetricSample> samples);
  void setHistory(std::vector<MetricSample> samples) { setHistory(kPrimaryRun, std::move(samples)); }
  void clear();  // empties the primary run and removes every other run
  const std::vector<MetricSample>& samples(int run = kPrimaryRun) const;

  // EMA weight in [0, 0.99]: 0 shows the raw values only.
  void setSmoothing(double weight);
  double smoothing() const { return m_smoothing; }
  void setLogScale(bool on);  // logarithmic y axis on the loss panel
  bool logScale() const { return m_logScale; }
  void setXAxis(XAxis axis);
  XAxis xAxis() const { return m_xAxis; }

  // The metrics.csv column names of the curves, and a curve's point count (finite values held,
  // before decimation) / visibility (a column is shown or hidden in every run).
  QStringList curveNames() const;
  int pointCount(const QString& column, int run = kPrimaryRun) const;
  bool isCurveVisible(const QString& column) const;
  void setCurveVisible(const QString& column, bool visible);
  // Points handed to QCustomPlot for a curve's raw line after decimation (for tests and benches).
  int drawnPointCount(const QString& column, int run = kPrimaryRun) const;
  // Fits the axes to the data and follows new samples again.
  void resetView();

  // Crosshair: a vertical line through every panel at x = key, and a read-out of the primary
  // run's nearest sample (also what the mouse does); crosshairText() is that read-out.
  void setCrosshair(double key);
  void hideCrosshair();
  QString crosshairText() const;

  QCustomPlot* plot() const { return m_plot; }

  // Writes the panels as PNG, PDF or SVG (by suffix) / the plotted data as CSV, atomically.
  // With several runs shown the CSV gains a leading "run" column. Returns an empty string on
  // success, otherwise a message naming the file and the problem.
  QString exportImage(const QString& path, int width = 0, int height = 0);
  QString exportCsv(const QString& path) const;

 private:
  struct Curve;
  struct Panel;
  struct Run;
  struct Instance;
  void buildPlot();
  void addGraphs(Run& run);
  void plotSamples(Run& run, std::size_t from);  // appends run.samples[from..] to the series
  void rebuild();                                // recomputes every series (x axis, smoothing)
  void redecimate();                             // feeds the visible range to QCustomPlot
  void restyle();                                // pens, visibility and legends
  void rescaleIfFollowing();
  void onMouseMove(QMouseEvent* event);
  double key(const MetricSample& s) const;
  int curveIndex(const QString& column) const;
  Run* findRun(int id);
  const Run* findRun(int id) const;
  bool multiRun() const;

  QCustomPlot* m_plot = nullptr;
  QComboBox* m_xCombo = nullptr;
  QSlider* m_smoothSlider = nullptr;
  QLabel* m_smoothLabel = nullptr;
  QCheckBox* m_logCheck = nullptr;
  QLabel* m_readout = nullptr;
  std::vector<Panel> m_panels;
  std::vector<Curve> m_curves;
  std::vector<std::unique_ptr<Run>> m_runs;
  int m_nextRunId = 1;
  double m_smoothing = 0.6;
  bool m_logScale = false;
  bool m_follow = true;  // rescale to the data until the user zooms or pans
  bool m_dirty = true;   // series changed since the last decimation
  double m_decLo = 0, m_decHi = 0;
  int m_decWidth = 0;
  bool m_crosshairOn = false;
  double m_crosshairKey = 0;
  QString m_crosshairText;
  XAxis m_xAxis = XAxis::Step;
};

}  // namespace infomax::ui
