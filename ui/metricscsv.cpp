#include "metricscsv.h"

#include <cmath>
#include <limits>

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "infomax/error.h"

namespace infomax::ui {

namespace {
constexpr int kHeadCheckBytes = 64;
}

std::vector<MetricSample> readMetricsCsv(const QString& path) {
  MetricsCsvFollower follower(path);
  if (!follower.exists()) {
    QFile f(follower.file());
    f.open(QIODevice::ReadOnly);
    throw Error("cannot read " + follower.file().toStdString() + ": " +
                f.errorString().toStdString());
  }
  MetricsCsvFollower::Update u = follower.pollToEnd();
  return std::move(u.samples);
}

MetricsCsvFollower::MetricsCsvFollower(const QString& path) : m_file(path) {
  if (QFileInfo(path).isDir()) m_file = QDir(path).filePath(QStringLiteral("metrics.csv"));
}

bool MetricsCsvFollower::exists() const { return QFileInfo(m_file).isFile(); }

MetricsCsvFollower::Update MetricsCsvFollower::poll() { return read(false); }
MetricsCsvFollower::Update MetricsCsvFollower::pollToEnd() { return read(true); }

void MetricsCsvFollower::fail(const std::string& what) const {
  throw Error(m_file.toStdString() + ":" + std::to_string(m_lineNo) + ": " + what);
}

MetricsCsvFollower::Update MetricsCsvFollower::read(bool toEnd) {
  Update update;
  QFile f(m_file);
  if (!f.exists()) {
    // A run folder whose file is not written yet; a vanished file starts over when it returns.
    if (m_offset > 0 || m_haveHeader) {
      *this = MetricsCsvFollower(m_file);
      update.reset = true;
    }
    return update;
  }
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + m_file.toStdString() + ": " + f.errorString().toStdString());
  const std::int64_t size = f.size();
  // Shrunk, or different first bytes: the file was rewritten; read it again from the start.
  bool replaced = size < m_offset;
  if (!replaced && !m_headBytes.isEmpty()) {
    const QByteArray head = f.read(m_headBytes.size());
    replaced = head != m_headBytes;
  }
  if (replaced) {
    *this = MetricsCsvFollower(m_file);
    update.reset = true;
  }
  if (size == m_offset) return update;
  if (!f.seek(m_offset))
    throw Error("cannot read " + m_file.toStdString() + ": " + f.errorString().toStdString());
  const QByteArray chunk = f.read(size - m_offset);
  if (m_headBytes.size() < kHeadCheckBytes && m_offset == 0)
    m_headBytes = chunk.left(kHeadCheckBytes);

  qsizetype start = 0;
  while (start < chunk.size()) {
    const qsizetype nl = chunk.indexOf('\n', start);
    const bool complete = nl >= 0;
    if (!complete && !toEnd) break;  // held back until its newline arrives
    QByteArray line = chunk.mid(start, (complete ? nl : chunk.size()) - start);
    if (line.endsWith('\r')) line.chop(1);
    ++m_lineNo;
    if (!m_haveHeader) {
      if (!complete && line.trimmed().isEmpty()) break;
      parseHeader(line);
    } else if (!line.trimmed().isEmpty()) {
      MetricSample s;
      if (complete) {
        if (parseLine(line, &s)) update.samples.push_back(s);
      } else {
        // The end of a finished file without a final newline: keep it only if it is whole.
        try {
          if (parseLine(line, &s)) update.samples.push_back(s);
        } catch (const Error&) {
          --m_lineNo;
          break;  // a torn last write: dropped
        }
      }
    }
    if (!complete) {
      m_offset += chunk.size() - start;
      start = chunk.size();
      break;
    }
    m_offset += nl + 1 - start;
    start = nl + 1;
  }
  if (!m_haveHeader && toEnd && m_lineNo == 0)
    throw Error(m_file.toStdString() + ": empty file, no header line");
  return update;
}

void MetricsCsvFollower::parseHeader(const QByteArray& line) {
  if (line.trimmed().isEmpty()) fail("empty header line");
  const auto& known = MetricSample::columns();
  m_target.clear();
  bool hasStep = false;
  for (const QByteArray& cell : line.split(',')) {
    const std::string name = cell.trimmed().toStdString();
    int index = -1;
    for (std::size_t i = 0; i < known.size(); ++i)
      if (name == known[i]) index = static_cast<int>(i);
    hasStep = hasStep || index == 0;
    m_target.push_back(index);
  }
  if (!hasStep) fail("the header has no 'step' column");
  m_haveHeader = true;
}

bool MetricsCsvFollower::parseLine(const QByteArray& line, MetricSample* out) const {
  const QList<QByteArray> cells = line.split(',');
  if (cells.size() != static_cast<qsizetype>(m_target.size()))
    fail(std::to_string(cells.size()) + " values, the header has " +
         std::to_string(m_target.size()));
  const auto& known = MetricSample::columns();
  std::vector<double> values(known.size(), kNoValue);
  for (qsizetype c = 0; c < cells.size(); ++c) {
    if (m_target[c] < 0) continue;
    const QByteArray cell = cells[c].trimmed();
    double v = kNoValue;
    if (cell == "inf") {
      v = std::numeric_limits<double>::infinity();
    } else if (cell == "-inf") {
      v = -std::numeric_limits<double>::infinity();
    } else if (!cell.isEmpty()) {
      bool ok = false;
      v = cell.toDouble(&ok);
      if (!ok) fail("'" + cell.left(40).toStdString() + "' is not a number");
    }
    values[m_target[c]] = v;
  }
  if (std::isnan(values[0])) return false;  // no step: nothing to place it at
  *out = MetricSample::fromValues(values);
  return true;
}

}  // namespace infomax::ui
