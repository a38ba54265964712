#pragma once
// Reading a run folder's metrics.csv (the engine's log) back into MetricSamples, once or as a
// follower that picks up the lines another process keeps appending.
// Thread rules: readMetricsCsv is a free function, safe from any thread; a MetricsCsvFollower
// is used by one thread at a time.

#include <cstdint>
#include <vector>

#include <QByteArray>
#include <QString>

#include "infomax/metrics.h"

namespace infomax::ui {

// path: a metrics.csv file or a run folder holding one. Columns are matched by name, so files
// with fewer or reordered columns load; empty cells are missing values. A last line without a
// newline that does not parse (a write torn by a crash) is dropped. Throws infomax::Error
// naming the file and line on unreadable or malformed input.
std::vector<MetricSample> readMetricsCsv(const QString& path);

// Follows a metrics.csv that may still be growing: each poll() returns the complete lines
// appended since the previous poll. An unterminated last line is held back until its newline
// arrives. A file that shrank or was replaced (a resumed run rewrites it) is read again from the
// start, reported as reset.
class MetricsCsvFollower {
 public:
  // path: a metrics.csv file or a run folder (the file need not exist yet).
  explicit MetricsCsvFollower(const QString& path);

  struct Update {
    bool reset = false;  // earlier samples are void; samples holds the whole file so far
    std::vector<MetricSample> samples;
  };
  // Throws infomax::Error naming the file and line on malformed content.
  Update poll();
  // Like poll(), but also takes an unterminated last line if it parses (end of a finished file).
  Update pollToEnd();

  const QString& file() const { return m_file; }
  bool exists() const;

 private:
  Update read(bool toEnd);
  void parseHeader(const QByteArray& line);
  bool parseLine(const QByteArray& line, MetricSample* out) const;
  [[noreturn]] void fail(const std::string& what) const;

  QString m_file;
  std::int64_t m_offset = 0;  // bytes consumed (complete lines only)
  QByteArray m_headBytes;     // the first bytes seen, to notice a replaced file
  std::vector<int> m_target;  // file column -> index in MetricSample::columns(), -1 = unknown
  bool m_haveHeader = false;
  int m_lineNo = 0;  // lines consumed
};

}  // namespace infomax::ui
