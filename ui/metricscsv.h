#pragma once
// Reading a run folder's metrics.csv (the engine's log) back into MetricSamples.
// Thread rules: free function, safe from any thread.

#include <vector>

#include <QString>

#include "infomax/metrics.h"

namespace infomax::ui {

// path: a metrics.csv file or a run folder holding one. Columns are matched by name, so files
// with fewer or reordered columns load; empty cells are missing values. Throws infomax::Error
// naming the file and line on unreadable or malformed input.
std::vector<MetricSample> readMetricsCsv(const QString& path);

}  // namespace infomax::ui
