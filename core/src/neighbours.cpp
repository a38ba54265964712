#include "infomax/neighbours.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "featureextract.h"
#include "infomax/error.h"
#include "loader.h"

namespace infomax {

namespace {

constexpr int kQueryBlock = 256;  // query rows per matrix product in queryRows

torch::Tensor rowsToTensor(const std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat).clone();
}

std::vector<Neighbour> topK(const torch::Tensor& dist, int k, const std::vector<std::int64_t>& labels) {
  const auto n = dist.size(0);
  const auto kk = std::min<std::int64_t>(k, n);
  std::vector<Neighbour> out;
  if (kk <= 0) return out;
  const auto [values, indices] = dist.topk(kk, 0, /*largest=*/false, /*sorted=*/true);
  const auto v = values.accessor<float, 1>();
  const auto ix = indices.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < kk; ++i) {
    if (!std::isfinite(v[i])) break;  // excluded rows
    Neighbour nb;
    nb.index = static_cast<int>(ix[i]);
    nb.distance = v[i];
    nb.label = labels.empty() ? -1 : labels[nb.index];
    out.push_back(nb);
  }
  std::stable_sort(out.begin(), out.end(), [](const Neighbour& a, const Neighbour& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.index < b.index);
  });
  return out;
}

}  // namespace

const char* toString(Metric m) { return m == Metric::L2 ? "l2" : "cosine"; }

Metric metricFromString(const std::string& s) {
  if (s == "cosine" || s == "cos") return Metric::Cosine;
  if (s == "l2" || s == "L2" || s == "euclidean") return Metric::L2;
  throw Error("unknown metric '" + s + "' (use cosine or l2)");
}

struct NeighbourIndex::Impl {
  torch::Tensor x;   // N x D
  torch::Tensor xn;  // rows scaled to unit length
  torch::Tensor sq;  // squared row norms
  std::vector<std::int64_t> labels;
  std::string layer = "vectors";
  std::shared_ptr<ImageSet> data;
  bool hasEncoder = false;
  mutable CheckpointEncoder enc;  // forward() is not const
  int th = 0, tw = 0;       // the encoder's input size (images padded to it)
  torch::Tensor patches;    // P x M x C, unit length along C
  int mapH = 0, mapW = 0;
  int threads = 0;

  void finish() {
    x = x.to(torch::kFloat).contiguous();
    sq = (x * x).sum(1);
    xn = x / sq.sqrt().clamp_min(1e-12).unsqueeze(1);
  }

  torch::Tensor distances(const torch::Tensor& q, Metric metric) const {  // q: B x D -> B x N
    if (metric == Metric::Cosine) {
      const auto qn = q / q.norm(2, 1, true).clamp_min(1e-12);
      return 1.0 - torch::mm(qn, xn.t());
    }
    const auto qq = (q * q).sum(1, true);
    return (qq - 2.0 * torch::mm(q, x.t()) + sq.unsqueeze(0)).clamp_min(0).sqrt();
  }

  torch::Tensor encode(const ImageSet& set, const std::vector<std::int64_t>& idx,
                       const std::string& which) const {
    torch::NoGradGuard noGrad;
    const EncoderOutputs out = enc.encoder->forward(imagesToTensor(set, idx, th, tw));
    return pickLayer(out, which);
  }
};

NeighbourIndex::NeighbourIndex(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
NeighbourIndex::~NeighbourIndex() = default;

std::unique_ptr<NeighbourIndex> NeighbourIndex::fromVectors(std::vector<float> vectors, int count,
                                                            int dim,
                                                            std::vector<std::int64_t> labels) {
  if (count < 1 || dim < 1 || vectors.size() != static_cast<std::size_t>(count) * dim)
    throw Error("neighbour index: " + std::to_string(vectors.size()) + " values are not " +
                std::to_string(count) + " x " + std::to_string(dim));
  if (!labels.empty() && labels.size() != static_cast<std::size_t>(count))
    throw Error("neighbour index: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(count) + " vectors");
  auto impl = std::make_unique<Impl>();
  impl->x = rowsToTensor(vectors, count, dim);
  impl->labels = std::move(labels);
  impl->finish();
  return std::unique_ptr<NeighbourIndex>(new NeighbourIndex(std::move(impl)));
}

std::unique_ptr<NeighbourIndex> NeighbourIndex::build(const std::string& checkpointOrRunDir,
                                                      const NeighbourOptions& o) {
  static const std::vector<std::string> layers = {"y", "fc", "conv", "local"};
  if (std::find(layers.begin(), layers.end(), o.layer) == layers.end())
    throw Error("invalid setting: layer '" + o.layer + "' (use y, fc, conv or local)");
  if (o.limit < 0 || o.patchImages < 0 || o.threads < 0)
    throw Error("invalid setting: limit, patch images and threads must not be negative");
  auto report = [&](double f, const std::string& what) {
    if (o.progress) o.progress(f, what);
  };
  auto impl = std::make_unique<Impl>();
  impl->threads = o.threads;
  ThreadScope threads(o.threads);
  report(0, "loading the encoder");
  impl->enc = loadCheckpointEncoder(checkpointOrRunDir);
  impl->hasEncoder = true;
  impl->layer = o.layer;
  const TrainConfig& cfg = impl->enc.config;
  DataSpec spec;
  spec.path = !o.dataPath.empty() ? o.dataPath : (cfg.dataPath.empty() ? defaultDataPath() : cfg.dataPath);
  spec.format = !o.dataPath.empty() ? o.format : cfg.format;
  spec.split = o.split;
  spec.resize = cfg.resize;
  spec.limit = o.limit;
  report(0.02, "reading " + spec.path);
  impl->data = std::make_shared<ImageSet>(loadImageSet(spec));
  const ImageSet& set = *impl->data;
  const ArchitectureInfo& info = impl->enc.arch.info;
  if (set.channels != info.inChannels || set.height > info.inHeight || set.width > info.inWidth)
    throw Error("checkpoint " + impl->enc.path + " encodes " + std::to_string(info.inChannels) +
                "x" + std::to_string(info.inHeight) + "x" + std::to_string(info.inWidth) +
                " inputs; the " + std::to_string(set.channels) + "x" + std::to_string(set.height) +
                "x" + std::to_string(set.width) + " images of " + set.source + " do not fit");
  impl->th = info.inHeight;
  impl->tw = info.inWidth;
  impl->labels = set.labels;
  try {
    std::vector<std::int64_t> all(set.count);
    std::iota(all.begin(), all.end(), 0);
    const double n = set.count;
    impl->x = extractFeatures(impl->enc.encoder, set, all, impl->th, impl->tw, {o.layer},
                              [&](std::int64_t done) {
                                report(0.05 + 0.85 * done / n, "encoding " + set.source);
                              })[0];
    impl->finish();
    const int p = std::min(o.patchImages, set.count);
    if (p > 0) {
      report(0.9, "encoding local features for patch search");
      std::vector<std::int64_t> first(p);
      std::iota(first.begin(), first.end(), 0);
      torch::NoGradGuard noGrad;
      std::vector<torch::Tensor> parts;
      for (int s = 0; s < p; s += kExtractBatch) {
        const std::vector<std::int64_t> b(first.begin() + s,
                                          first.begin() + std::min(p, s + kExtractBatch));
        const torch::Tensor local = impl->encode(set, b, "local");  // B x C x H x W
        impl->mapH = static_cast<int>(local.size(2));
        impl->mapW = static_cast<int>(local.size(3));
        auto rows = local.flatten(2).transpose(1, 2);  // B x M x C
        parts.push_back(rows / rows.norm(2, 2, true).clamp_min(1e-12));
      }
      impl->patches = torch::cat(parts, 0).contiguous();
    }
  } catch (const c10::Error& e) {
    throw Error("indexing " + set.source + " under checkpoint " + impl->enc.path +
                ": internal error in LibTorch: " + e.what_without_backtrace());
  }
  report(1.0, "done");
  return std::unique_ptr<NeighbourIndex>(new NeighbourIndex(std::move(impl)));
}

int NeighbourIndex::count() const { return static_cast<int>(m_impl->x.size(0)); }
int NeighbourIndex::dim() const { return static_cast<int>(m_impl->x.size(1)); }
std::string NeighbourIndex::layer() const { return m_impl->layer; }
const ImageSet* NeighbourIndex::images() const { return m_impl->data.get(); }
const ArchitectureInfo* NeighbourIndex::architecture() const {
  return m_impl->hasEncoder ? &m_impl->enc.arch.info : nullptr;
}
int NeighbourIndex::patchImages() const {
  return m_impl->patches.defined() ? static_cast<int>(m_impl->patches.size(0)) : 0;
}

std::vector<float> NeighbourIndex::vector(int index) const {
  if (index < 0 || index >= count())
    throw Error("neighbour index: no row " + std::to_string(index) + " (it has " +
                std::to_string(count()) + ")");
  const torch::Tensor r = m_impl->x[index].contiguous();
  return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
}

namespace {

using Candidate = std::pair<float, int>;  // (distance, row)

// Distances of rows [begin, end) to q, keeping the best kk in a max-heap. The dot product is an
// explicit SIMD reduction (OpenMP simd, no threads); the AVX2 clone is picked at load time on
// x86-64 CPUs that have it (GCC builds).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define INFOMAX_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define INFOMAX_SIMD_CLONES
#endif

INFOMAX_SIMD_CLONES void scanRows(
    const float* rows, int d, int begin, int end, const float* q, bool cosine, int exclude, std::size_t kk, std::vector<Candidate>* heap) {
  for (int i = begin; i < end; ++i) {
    if (i == exclude) continue;
    const float* x = rows + static_cast<std::size_t>(i) * d;
    float dist = 0;
    if (cosine) {
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int j = 0; j < d; ++j) dot += x[j] * q[j];
      dist = 1.0f - dot;
    } else {
      // Squared differences directly: |x|^2 - 2 x.q + |q|^2 cancels badly near the query.
      float ss = 0;
#pragma omp simd reduction(+ : ss)
      for (int j = 0; j < d; ++j) ss += (x[j] - q[j]) * (x[j] - q[j]);
      dist = std::sqrt(ss);
    }
    if (heap->size() < kk) {
      heap->emplace_back(dist, i);
      std::push_heap(heap->begin(), heap->end());
    } else if (kk > 0 && Candidate(dist, i) < heap->front()) {
      std::pop_heap(heap->begin(), heap->end());
      heap->back() = {dist, i};
      std::push_heap(heap->begin(), heap->end());
    }
  }
}

}  // namespace

std::vector<Neighbour> NeighbourIndex::query(const std::vector<float>& q, int k, Metric metric,
                                             int exclude) const {
  if (static_cast<int>(q.size()) != dim())
    throw Error("neighbour query: a " + std::to_string(q.size()) + "-value vector for a " +
                std::to_string(dim()) + "-dimensional index");
  // One query is a memory-bound pass over the index: a SIMD loop with a bounded heap beats a
  // LibTorch matrix-vector product plus topk, whose thread hand-offs cost more than the
  // arithmetic; large indexes are split over the cores (bench/bench_neighbours.cpp).
  const int n = count(), d = dim();
  const bool cosine = metric == Metric::Cosine;
  std::vector<float> qv(q);
  float qq = 0;
  for (float v : qv) qq += v * v;
  if (cosine) {
    const float inv = 1.0f / std::max(std::sqrt(qq), 1e-12f);
    for (float& v : qv) v *= inv;
  }
  const float* rows = (cosine ? m_impl->xn : m_impl->x).data_ptr<float>();
  const auto kk = static_cast<std::size_t>(std::max(0, std::min(k, n)));
  const std::size_t work = static_cast<std::size_t>(n) * d;
  int parts = 1;
  if (work > (1u << 22)) {
    const int cores = m_impl->threads > 0 ? m_impl->threads
                                          : static_cast<int>(std::thread::hardware_concurrency());
    parts = std::clamp(cores, 1, 16);
  }
  std::vector<std::vector<Candidate>> heaps(parts);
  for (auto& h : heaps) h.reserve(kk + 1);
  auto scanPart = [&](int p) {
    const int begin = static_cast<int>(static_cast<long long>(n) * p / parts);
    const int end = static_cast<int>(static_cast<long long>(n) * (p + 1) / parts);
    scanRows(rows, d, begin, end, qv.data(), cosine, exclude, kk, &heaps[p]);
  };
  std::vector<std::thread> pool;
  for (int p = 1; p < parts; ++p) pool.emplace_back(scanPart, p);
  scanPart(0);
  for (auto& t : pool) t.join();
  std::vector<Candidate> all;
  for (auto& h : heaps) all.insert(all.end(), h.begin(), h.end());
  std::sort(all.begin(), all.end());
  if (all.size() > kk) all.resize(kk);
  std::vector<Neighbour> out;
  out.reserve(all.size());
  for (const auto& [dist, i] : all)
    out.push_back({i, dist, m_impl->labels.empty() ? -1 : m_impl->labels[i]});
  return out;
}

std::vector<Neighbour> NeighbourIndex::queryIndex(int index, int k, Metric metric,
                                                  bool includeSelf) const {
  return query(vector(index), k, metric, includeSelf ? -1 : index);
}

std::vector<std::vector<Neighbour>> NeighbourIndex::queryRows(const std::vector<int>& rows, int k,
                                                              Metric metric) const {
  ThreadScope threads(m_impl->threads);
  torch::NoGradGuard noGrad;
  std::vector<std::vector<Neighbour>> out;
  out.reserve(rows.size());
  for (std::size_t s = 0; s < rows.size(); s += kQueryBlock) {
    const std::size_t e = std::min(rows.size(), s + kQueryBlock);
    std::vector<std::int64_t> idx(rows.begin() + s, rows.begin() + e);
    for (auto i : idx)
      if (i < 0 || i >= count()) throw Error("neighbour index: no row " + std::to_string(i));
    const auto sel = torch::tensor(idx, torch::kLong);
    torch::Tensor d = m_impl->distances(m_impl->x.index_select(0, sel), metric);
    d.index_put_({torch::arange(static_cast<std::int64_t>(idx.size())), sel},
                 std::numeric_limits<float>::infinity());
    for (std::int64_t r = 0; r < d.size(0); ++r) out.push_back(topK(d[r], k, m_impl->labels));
  }
  return out;
}

std::vector<float> NeighbourIndex::embedImageFile(const std::string& path) const {
  if (!m_impl->hasEncoder)
    throw Error("cannot embed " + path + ": this index holds vectors, not an encoder");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such image file");
  cv::Mat m;
  try {
    m = cv::imread(path, cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    throw Error(path + ": cannot decode the image (" + e.err + ")");
  }
  if (m.empty()) throw Error(path + ": cannot read or decode the image");
  if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
  const ImageSet& data = *m_impl->data;
  if (data.channels == 1 && m.channels() != 1) cv::cvtColor(m, m, m.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  if (data.channels == 3 && m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
  if (data.channels == 3 && m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
  if (m.rows != data.height || m.cols != data.width)
    cv::resize(m, m, cv::Size(data.width, data.height), 0, 0, cv::INTER_AREA);
  ImageSet one;
  one.count = 1;
  one.channels = data.channels;
  one.height = data.height;
  one.width = data.width;
  one.pixels.resize(one.imageBytes());
  const std::size_t plane = static_cast<std::size_t>(one.height) * one.width;
  for (int y = 0; y < m.rows; ++y) {
    const std::uint8_t* row = m.ptr<std::uint8_t>(y);
    for (int x = 0; x < m.cols; ++x) {
      const std::size_t at = static_cast<std::size_t>(y) * one.width + x;
      if (one.channels == 1)
        one.pixels[at] = row[x];
      else
        for (int c = 0; c < 3; ++c) one.pixels[c * plane + at] = row[x * 3 + (2 - c)];  // BGR -> RGB
    }
  }
  ThreadScope threads(m_impl->threads);
  const torch::Tensor f = m_impl->encode(one, {0}, m_impl->layer).flatten(1)[0].contiguous();
  return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
}

double NeighbourIndex::precisionAtK(int k, Metric metric, int queries, std::uint64_t seed) const {
  if (m_impl->labels.empty() || k < 1) return std::numeric_limits<double>::quiet_NaN();
  std::vector<int> rows(count());
  std::iota(rows.begin(), rows.end(), 0);
  if (queries > 0 && queries < count()) {
    std::mt19937_64 rng(seed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(queries);
  }
  const auto hits = queryRows(rows, k, metric);
  double sum = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    int same = 0;
    for (const auto& h : hits[i]) same += h.label == m_impl->labels[rows[i]];
    sum += hits[i].empty() ? 0.0 : static_cast<double>(same) / hits[i].size();
  }
  return sum / rows.size();
}

std::vector<PatchNeighbour> NeighbourIndex::queryPatch(int image, int row, int col, int k) const {
  if (!m_impl->patches.defined())
    throw Error("patch search: this index has no local features (build it with patch images > 0)");
  const ImageSet& data = *m_impl->data;
  if (image < 0 || image >= data.count)
    throw Error("patch search: data " + data.source + " has no image " + std::to_string(image));
  const ArchitectureInfo& info = m_impl->enc.arch.info;
  const InputRegion check = receptiveField(info, info.localLayer, row, col);  // throws if outside
  (void)check;
  ThreadScope threads(m_impl->threads);
  torch::NoGradGuard noGrad;
  torch::Tensor q = m_impl->encode(data, {image}, "local")[0].select(1, row).select(1, col);
  q = q / q.norm().clamp_min(1e-12);
  const auto& p = m_impl->patches;  // P x M x C
  const auto m = p.size(1);
  torch::Tensor d = 1.0 - torch::mv(p.view({-1, p.size(2)}), q);
  if (image < p.size(0)) d.slice(0, image * m, (image + 1) * m).fill_(std::numeric_limits<float>::infinity());
  const auto kk = std::min<std::int64_t>(k, d.size(0));
  const auto [values, indices] = d.topk(kk, 0, false, true);
  std::vector<PatchNeighbour> out;
  for (std::int64_t i = 0; i < kk; ++i) {
    const float dist = values[i].item<float>();
    if (!std::isfinite(dist)) break;
    const auto flat = indices[i].item<std::int64_t>();
    PatchNeighbour n;
    n.image = static_cast<int>(flat / m);
    n.row = static_cast<int>((flat % m) / m_impl->mapW);
    n.col = static_cast<int>((flat % m) % m_impl->mapW);
    n.distance = dist;
    n.label = m_impl->labels.empty() ? -1 : m_impl->labels[n.image];
    n.region = receptiveField(info, info.localLayer, n.row, n.col);
    out.push_back(n);
  }
  return out;
}

std::vector<float> NeighbourIndex::pca2() const {
  ThreadScope threads(m_impl->threads);
  torch::NoGradGuard noGrad;
  const torch::Tensor xc = m_impl->x.to(torch::kDouble) - m_impl->x.to(torch::kDouble).mean(0, true);
  const auto [evals, evecs] = torch::linalg::eigh(torch::mm(xc.t(), xc), "L");  // ascending
  const auto d = evecs.size(1);
  torch::Tensor top = evecs.index_select(1, torch::tensor({d - 1, std::max<std::int64_t>(d - 2, 0)}));
  const torch::Tensor proj = torch::mm(xc, top).to(torch::kFloat).contiguous();
  return std::vector<float>(proj.data_ptr<float>(), proj.data_ptr<float>() + proj.numel());
}

std::vector<double> NeighbourIndex::singularValues() const {
  ThreadScope threads(m_impl->threads);
  torch::NoGradGuard noGrad;
  const torch::Tensor xc = m_impl->x.to(torch::kDouble) - m_impl->x.to(torch::kDouble).mean(0, true);
  const torch::Tensor evals = std::get<0>(torch::linalg::eigh(torch::mm(xc.t(), xc), "L"));
  std::vector<double> out;
  for (std::int64_t i = evals.size(0) - 1; i >= 0; --i)
    out.push_back(std::sqrt(std::max(0.0, evals[i].item<double>())));
  return out;
}

}  // namespace infomax
