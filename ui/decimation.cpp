#include "decimation.h"

#include <algorithm>

namespace infomax::ui {

void DecimatedSeries::clear() {
  m_keys.clear();
  m_values.clear();
  m_blockMin.clear();
  m_blockMax.clear();
  m_blockKeySum.clear();
  m_blockSum.clear();
}

void DecimatedSeries::append(double key, double value) {
  const std::size_t i = m_keys.size();
  m_keys.push_back(key);
  m_values.push_back(value);
  if (i % kBlock == 0) {
    m_blockMin.push_back(i);
    m_blockMax.push_back(i);
    m_blockKeySum.push_back(key);
    m_blockSum.push_back(value);
    return;
  }
  m_blockKeySum.back() += key;
  m_blockSum.back() += value;
  std::size_t& mn = m_blockMin.back();
  std::size_t& mx = m_blockMax.back();
  if (value < m_values[mn]) mn = i;
  if (value > m_values[mx]) mx = i;
}

std::pair<std::size_t, std::size_t> DecimatedSeries::minMax(std::size_t begin,
                                                            std::size_t end) const {
  std::size_t mn = begin, mx = begin;
  auto consider = [&](std::size_t lo, std::size_t hi) {
    if (m_values[lo] < m_values[mn]) mn = lo;
    if (m_values[hi] > m_values[mx]) mx = hi;
  };
  std::size_t i = begin;
  // Head: up to the next block boundary point by point.
  while (i < end && i % kBlock != 0) {
    consider(i, i);
    ++i;
  }
  // Whole blocks through their summaries.
  while (i + kBlock <= end) {
    consider(m_blockMin[i / kBlock], m_blockMax[i / kBlock]);
    i += kBlock;
  }
  for (; i < end; ++i) consider(i, i);
  return {mn, mx};
}

bool DecimatedSeries::valueRange(double lo, double hi, double* vmin, double* vmax) const {
  const auto b = static_cast<std::size_t>(
      std::lower_bound(m_keys.begin(), m_keys.end(), lo) - m_keys.begin());
  const auto e = static_cast<std::size_t>(
      std::upper_bound(m_keys.begin(), m_keys.end(), hi) - m_keys.begin());
  if (b >= e) return false;
  const auto [mn, mx] = minMax(b, e);
  *vmin = m_values[mn];
  *vmax = m_values[mx];
  return true;
}

std::pair<double, double> DecimatedSeries::sums(std::size_t begin, std::size_t end) const {
  double ks = 0, vs = 0;
  std::size_t i = begin;
  while (i < end && i % kBlock != 0) {
    ks += m_keys[i];
    vs += m_values[i];
    ++i;
  }
  while (i + kBlock <= end) {
    ks += m_blockKeySum[i / kBlock];
    vs += m_blockSum[i / kBlock];
    i += kBlock;
  }
  for (; i < end; ++i) {
    ks += m_keys[i];
    vs += m_values[i];
  }
  return {ks, vs};
}

bool DecimatedSeries::visibleRange(double lo, double hi, std::size_t* b, std::size_t* e) const {
  const std::size_t n = m_keys.size();
  if (n == 0) return false;
  *b = static_cast<std::size_t>(std::lower_bound(m_keys.begin(), m_keys.end(), lo) -
                                m_keys.begin());
  *e = static_cast<std::size_t>(std::upper_bound(m_keys.begin(), m_keys.end(), hi) -
                                m_keys.begin());
  if (*b > 0) --*b;  // the neighbours outside the range
  if (*e < n) ++*e;
  return *b < *e;
}

void DecimatedSeries::decimateMean(double lo, double hi, int buckets,
                                   std::vector<double>* outKeys,
                                   std::vector<double>* outValues) const {
  outKeys->clear();
  outValues->clear();
  std::size_t b = 0, e = 0;
  if (!visibleRange(lo, hi, &b, &e)) return;
  const std::size_t count = e - b;
  buckets = std::max(buckets, 1);
  auto put = [&](std::size_t i) {
    outKeys->push_back(m_keys[i]);
    outValues->push_back(m_values[i]);
  };
  if (count <= 2 * static_cast<std::size_t>(buckets)) {
    for (std::size_t i = b; i < e; ++i) put(i);
    return;
  }
  outKeys->reserve(buckets + 2);
  outValues->reserve(buckets + 2);
  put(b);
  for (int k = 0; k < buckets; ++k) {
    const std::size_t s = b + 1 + (count - 2) * k / buckets;
    const std::size_t t = b + 1 + (count - 2) * (k + 1) / buckets;
    if (s >= t) continue;
    const auto [ks, vs] = sums(s, t);
    outKeys->push_back(ks / double(t - s));
    outValues->push_back(vs / double(t - s));
  }
  put(e - 1);
}

void DecimatedSeries::decimate(double lo, double hi, int buckets, std::vector<double>* outKeys,
                               std::vector<double>* outValues) const {
  outKeys->clear();
  outValues->clear();
  std::size_t b = 0, e = 0;
  if (!visibleRange(lo, hi, &b, &e)) return;
  const std::size_t count = e - b;
  buckets = std::max(buckets, 1);
  auto put = [&](std::size_t i) {
    outKeys->push_back(m_keys[i]);
    outValues->push_back(m_values[i]);
  };
  if (count <= 4 * static_cast<std::size_t>(buckets)) {
    outKeys->reserve(count);
    outValues->reserve(count);
    for (std::size_t i = b; i < e; ++i) put(i);
    return;
  }
  outKeys->reserve(2 * buckets + 2);
  outValues->reserve(2 * buckets + 2);
  put(b);
  std::size_t last = b;
  for (int k = 0; k < buckets; ++k) {
    const std::size_t s = b + 1 + (count - 2) * k / buckets;
    const std::size_t t = b + 1 + (count - 2) * (k + 1) / buckets;
    if (s >= t) continue;
    auto [mn, mx] = minMax(s, t);
    if (mn > mx) std::swap(mn, mx);
    if (mn != last) put(mn);
    if (mx != mn) put(mx);
    last = mx;
  }
  if (e - 1 != last) put(e - 1);
}

}  // namespace infomax::ui
