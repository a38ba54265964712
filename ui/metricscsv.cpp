#include "metricscsv.h"

#include <cmath>
#include <limits>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTextStream>

#include "infomax/error.h"

namespace infomax::ui {

std::vector<MetricSample> readMetricsCsv(const QString& path) {
  QString file = path;
  if (QFileInfo(path).isDir()) file = QDir(path).filePath(QStringLiteral("metrics.csv"));
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
    throw Error("cannot read " + file.toStdString() + ": " + f.errorString().toStdString());
  QTextStream in(&f);
  const QString header = in.readLine();
  if (header.isEmpty()) throw Error(file.toStdString() + ": empty file, no header line");

  const auto& known = MetricSample::columns();
  std::vector<int> target;  // file column -> index in MetricSample::columns(), -1 = unknown
  bool hasStep = false;
  for (const QString& name : header.split(',')) {
    int index = -1;
    for (std::size_t i = 0; i < known.size(); ++i)
      if (name.trimmed().toStdString() == known[i]) index = static_cast<int>(i);
    hasStep = hasStep || index == 0;
    target.push_back(index);
  }
  if (!hasStep) throw Error(file.toStdString() + ": the header has no 'step' column");

  std::vector<MetricSample> rows;
  int lineNo = 1;
  while (!in.atEnd()) {
    const QString line = in.readLine();
    ++lineNo;
    if (line.trimmed().isEmpty()) continue;
    const QStringList cells = line.split(',');
    if (cells.size() != static_cast<int>(target.size()))
      throw Error(file.toStdString() + ":" + std::to_string(lineNo) + ": " +
                  std::to_string(cells.size()) + " values, the header has " +
                  std::to_string(target.size()));
    std::vector<double> values(known.size(), kNoValue);
    for (int c = 0; c < cells.size(); ++c) {
      if (target[c] < 0) continue;
      const QString cell = cells[c].trimmed();
      double v = kNoValue;
      if (cell == QLatin1String("inf"))
        v = std::numeric_limits<double>::infinity();
      else if (cell == QLatin1String("-inf"))
        v = -std::numeric_limits<double>::infinity();
      else if (!cell.isEmpty()) {
        bool ok = false;
        v = cell.toDouble(&ok);
        if (!ok)
          throw Error(file.toStdString() + ":" + std::to_string(lineNo) + ": '" +
                      cell.toStdString() + "' is not a number");
      }
      values[target[c]] = v;
    }
    if (std::isnan(values[0])) continue;  // no step: nothing to place it at
    rows.push_back(MetricSample::fromValues(values));
  }
  return rows;
}

}  // namespace infomax::ui
