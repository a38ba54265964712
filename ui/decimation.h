#pragma once
// Min/max decimation of long curves: a million points per curve are reduced to about two per
// pixel column of the visible range before QCustomPlot sees them, keeping every bucket's
// extreme values so that spikes stay visible at any zoom.
// Thread rules: plain values; no shared state.

#include <cstddef>
#include <utility>
#include <vector>

namespace infomax::ui {

// A curve's points in key order (keys ascending), with per-block min/max positions so that the
// extremes of any index range are found in O(range / kBlock + kBlock).
class DecimatedSeries {
 public:
  static constexpr std::size_t kBlock = 64;

  void clear();
  void append(double key, double value);  // keys must not decrease
  std::size_t size() const { return m_keys.size(); }
  bool empty() const { return m_keys.empty(); }
  const std::vector<double>& keys() const { return m_keys; }
  const std::vector<double>& values() const { return m_values; }

  // Positions of the smallest and largest value in [begin, end) (begin < end <= size()).
  std::pair<std::size_t, std::size_t> minMax(std::size_t begin, std::size_t end) const;
  // The value range of the points whose keys lie in [lo, hi]; false when there are none.
  bool valueRange(double lo, double hi, double* vmin, double* vmax) const;

  // Writes the points to draw for keys in [lo, hi] (plus the neighbour on each side, so lines
  // run to the plot's edges). When more than 4 * buckets points fall in the range, the range is
  // cut into `buckets` runs of consecutive points and each contributes its minimum and maximum
  // in key order; otherwise every point is written. At most 2 * buckets + 2 points result.
  void decimate(double lo, double hi, int buckets, std::vector<double>* outKeys,
                std::vector<double>* outValues) const;
  // Like decimate(), but each bucket contributes one point: its mean key and mean value. For
  // lines that are smooth already (moving averages), where a min/max zig-zag would only cost
  // drawing time. At most buckets + 2 points result.
  void decimateMean(double lo, double hi, int buckets, std::vector<double>* outKeys,
                    std::vector<double>* outValues) const;
  // Sums of keys and values over [begin, end).
  std::pair<double, double> sums(std::size_t begin, std::size_t end) const;

 private:
  std::vector<double> m_keys, m_values;
  std::vector<std::size_t> m_blockMin, m_blockMax;  // per kBlock points: position of min / max
  std::vector<double> m_blockKeySum, m_blockSum;    // per kBlock points: sums of keys / values
  bool visibleRange(double lo, double hi, std::size_t* b, std::size_t* e) const;
};

}  // namespace infomax::ui
