// Nearest-neighbour query speed (docs/BENCHMARKS.md): top-10 over N random vectors of dimension
// D (default: 60,000 and 1,000,000 vectors of 64, the size of Y) through NeighbourIndex (a
// matrix-vector product and top-k in LibTorch), against a baseline in the same invocation: a
// plain scalar loop computing every cosine distance and keeping the best 10 with a heap.
// usage: bench_neighbours [--dim 64] [--queries 50] [--threads 0] [--sizes 60000,1000000]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "infomax/neighbours.h"

using namespace infomax;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<int> baselineTop10(const std::vector<float>& v, const std::vector<float>& norms, int n,
                               int d, const float* q) {
  double qq = 0;
  for (int j = 0; j < d; ++j) qq += double(q[j]) * q[j];
  const double qn = std::sqrt(qq);
  std::priority_queue<std::pair<double, int>> best;  // max-heap of the 10 smallest distances
  for (int i = 0; i < n; ++i) {
    const float* x = v.data() + static_cast<std::size_t>(i) * d;
    double dot = 0;
    for (int j = 0; j < d; ++j) dot += double(x[j]) * q[j];
    const double dist = 1.0 - dot / (norms[i] * qn);
    if (best.size() < 10) best.push({dist, i});
    else if (dist < best.top().first) {
      best.pop();
      best.push({dist, i});
    }
  }
  std::vector<int> out;
  while (!best.empty()) out.push_back(best.top().second), best.pop();
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int dim = 64, queries = 50, threads = 0;
  std::vector<int> sizes = {60000, 1000000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dim")) dim = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--queries")) queries = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sizes")) {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string t; std::getline(ss, t, ',');) sizes.push_back(std::stoi(t));
    }
  }
  (void)threads;
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g;
  for (int n : sizes) {
    std::vector<float> v(static_cast<std::size_t>(n) * dim);
    for (auto& x : v) x = g(rng);
    std::vector<float> norms(n);
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < dim; ++j) s += double(v[static_cast<std::size_t>(i) * dim + j]) * v[static_cast<std::size_t>(i) * dim + j];
      norms[i] = static_cast<float>(std::sqrt(s));
    }
    auto index = NeighbourIndex::fromVectors(v, n, dim);
    std::vector<std::vector<float>> qs(queries, std::vector<float>(dim));
    for (auto& q : qs)
      for (auto& x : q) x = g(rng);
    index->query(qs[0], 10, Metric::Cosine);  // warm-up
    std::vector<double> ours, base;
    int agree = 0;
    for (const auto& q : qs) {
      auto t0 = Clock::now();
      const auto hits = index->query(q, 10, Metric::Cosine);
      ours.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      t0 = Clock::now();
      const auto ref = baselineTop10(v, norms, n, dim, q.data());
      base.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      bool same = hits.size() == ref.size();
      for (std::size_t i = 0; same && i < ref.size(); ++i) same = hits[i].index == ref[i];
      agree += same;
    }
    std::sort(ours.begin(), ours.end());
    std::sort(base.begin(), base.end());
    const double o = ours[ours.size() / 2], b = base[base.size() / 2];
    std::printf("%8d x %d: top-10 median %.2f ms (p90 %.2f) vs scalar loop %.2f ms: %.1fx; "
                "same top-10 in %d/%d queries\n",
                n, dim, o, ours[ours.size() * 9 / 10], b, b / o, agree, queries);
    std::fflush(stdout);
  }
  return 0;
}
