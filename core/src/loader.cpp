#include "loader.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "infomax/error.h"

namespace infomax {

namespace {

// SplitMix64: a tiny, well-mixed generator whose output is the same on every platform.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A random crop of zoom x the image's height and width, its top-left corner at (top, left) in
// source pixels, stretched back to the image's size with bilinear sampling. zoom 1: no crop.
// rotated: the crop's content is also turned by the angle whose cosine and sine are cos and sin,
// about the crop's centre.
struct Crop {
  double zoom = 1, top = 0, left = 0;
  bool rotated = false;
  double cos = 1, sin = 0;
};

// Random erasing: fills rows [top, top + h) and columns [left, left + w) of every channel.
struct Erase {
  int top = 0, left = 0, h = 0, w = 0;
  float value = 0;
};

// Pixels in [-1, 1] (bytes / 127.5 - 1): v = (x + 1) / 2 in [0, 1], contrast about the
// image's mean, then brightness, clamped to [0, 1], back to [-1, 1].
void jitterIntensity(float* img, std::size_t n, double contrast, double brightness) {
  double sum = 0;
  for (std::size_t k = 0; k < n; ++k) sum += img[k];
  const double mean = (sum / static_cast<double>(n) + 1) / 2;
  for (std::size_t k = 0; k < n; ++k) {
    const double v = ((img[k] + 1) / 2 - mean) * contrast + mean;
    img[k] = static_cast<float>(std::clamp(v * brightness, 0.0, 1.0) * 2 - 1);
  }
}

// Writes one image into a C x H x W float buffer: cropped (if crop.zoom < 1), centred, shifted
// by (dy, dx), optionally mirrored, scaled to [-1, 1]; pixels from outside the image are -1
// (black).
void writeImage(const ImageSet& set, std::int64_t index, int th, int tw, int dy, int dx, bool flip,
                float* out, const Crop& crop = {}) {
  const int c = set.channels, h = set.height, w = set.width;
  const std::uint8_t* src = set.image(static_cast<int>(index));
  const int offY = (th - h) / 2 + dy, offX = (tw - w) / 2 + dx;
  const bool cropped = crop.zoom < 1 || crop.rotated;
  auto pixel = [&](const std::uint8_t* plane, int y, int x) {
    return (y < 0 || y >= h || x < 0 || x >= w)
               ? -1.0f
               : plane[static_cast<std::size_t>(y) * w + x] * (2.0f / 255.0f) - 1.0f;
  };
  // Bilinear sample of the crop at image position (iy, ix); sample positions stay inside the
  // image (the crop does), clamped at its edge pixels.
  // A rotated crop samples about its centre and may reach outside the image (black there).
  auto sample = [&](const std::uint8_t* plane, int iy, int ix) {
    double sy, sx;
    if (crop.rotated) {
      const double ry = (iy + 0.5 - h / 2.0) * crop.zoom, rx = (ix + 0.5 - w / 2.0) * crop.zoom;
      sy = crop.top + crop.zoom * h / 2.0 + crop.cos * ry - crop.sin * rx - 0.5;
      sx = crop.left + crop.zoom * w / 2.0 + crop.sin * ry + crop.cos * rx - 0.5;
    } else {
      sy = std::clamp(crop.top + (iy + 0.5) * crop.zoom - 0.5, 0.0, h - 1.0);
      sx = std::clamp(crop.left + (ix + 0.5) * crop.zoom - 0.5, 0.0, w - 1.0);
    }
    const int y0 = static_cast<int>(std::floor(sy)), x0 = static_cast<int>(std::floor(sx));
    const float fy = static_cast<float>(sy - y0), fx = static_cast<float>(sx - x0);
    return (1 - fy) * ((1 - fx) * pixel(plane, y0, x0) + fx * pixel(plane, y0, x0 + 1)) +
           fy * ((1 - fx) * pixel(plane, y0 + 1, x0) + fx * pixel(plane, y0 + 1, x0 + 1));
  };
  for (int ch = 0; ch < c; ++ch) {
    const std::uint8_t* plane = src + static_cast<std::size_t>(ch) * h * w;
    float* dst = out + static_cast<std::size_t>(ch) * th * tw;
    for (int y = 0; y < th; ++y) {
      const int iy = y - offY;
      for (int x = 0; x < tw; ++x) {
        int ix = x - offX;
        if (flip) ix = w - 1 - ix;
        dst[static_cast<std::size_t>(y) * tw + x] =
            cropped && iy >= 0 && iy < h && ix >= 0 && ix < w ? sample(plane, iy, ix)
                                                                : pixel(plane, iy, ix);
      }
    }
  }
}

}  // namespace

torch::Tensor imagesToTensor(const ImageSet& set, const std::vector<std::int64_t>& indices,
                             int th, int tw) {
  th = std::max(th, set.height);
  tw = std::max(tw, set.width);
  auto t = torch::empty({static_cast<int64_t>(indices.size()), set.channels, th, tw});
  float* p = t.data_ptr<float>();
  const std::size_t stride = static_cast<std::size_t>(set.channels) * th * tw;
  for (std::size_t i = 0; i < indices.size(); ++i)
    writeImage(set, indices[i], th, tw, 0, 0, false, p + stride * i);
  return t;
}

BatchLoader::BatchLoader(std::shared_ptr<const ImageSet> data, int batch, LoaderOptions options)
    : m_data(std::move(data)),
      m_batch(batch),
      m_globalBatch(static_cast<std::int64_t>(batch) * std::max(1, options.worldSize)),
      m_opt(options) {
  if (!m_data || m_data->count < m_globalBatch)
    throw Error("the data set has " + std::to_string(m_data ? m_data->count : 0) +
                " images, fewer than one " + (m_globalBatch > batch ? "global " : "") +
                "batch of " + std::to_string(m_globalBatch));
  m_opt.targetHeight = std::max(m_opt.targetHeight, m_data->height);
  m_opt.targetWidth = std::max(m_opt.targetWidth, m_data->width);
  m_stepsPerEpoch = m_data->count / m_globalBatch;  // the last partial batch is dropped
}

BatchLoader::~BatchLoader() { stopThread(); }

void BatchLoader::stopThread() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
  m_queue.clear();
  m_stop = false;
}

const std::vector<std::int64_t>& BatchLoader::permutation(std::int64_t epoch) {
  if (epoch != m_permEpoch) {
    m_perm.resize(m_data->count);
    for (int i = 0; i < m_data->count; ++i) m_perm[i] = i;
    std::uint64_t state = mix(m_opt.seed ^ mix(static_cast<std::uint64_t>(epoch) + 1));
    for (std::int64_t i = m_data->count - 1; i > 0; --i) {
      state = mix(state);
      std::swap(m_perm[i], m_perm[state % static_cast<std::uint64_t>(i + 1)]);
    }
    m_permEpoch = epoch;
  }
  return m_perm;
}

Batch BatchLoader::make(std::int64_t step) {
  const std::int64_t epoch = step / m_stepsPerEpoch, within = step % m_stepsPerEpoch;
  const auto& perm = permutation(epoch);
  const int th = m_opt.targetHeight, tw = m_opt.targetWidth, c = m_data->channels;
  Batch b;
  b.step = step;
  const int views = std::max(1, m_opt.views);
  b.images = torch::empty({static_cast<std::int64_t>(views) * m_batch, c, th, tw});
  b.labels = torch::empty({m_batch}, torch::kLong);
  float* p = b.images.data_ptr<float>();
  auto* lab = b.labels.data_ptr<std::int64_t>();
  std::uint64_t aug = mix(m_opt.seed * 0xD1B54A32D192ED03ull ^ mix(static_cast<std::uint64_t>(step)));
  // Walk the whole global batch so the augmentation stream is that of one process with the
  // global batch; keep this rank's slice. A second view continues the same stream.
  const std::int64_t first = static_cast<std::int64_t>(m_opt.rank) * m_batch;
  for (int v = 0; v < views; ++v) {
    for (std::int64_t g = 0; g < first + m_batch; ++g) {
      const std::int64_t idx = perm[within * m_globalBatch + g];
      int dy = 0, dx = 0;
      bool flip = false;
      if (m_opt.cropPad > 0) {
        const int span = 2 * m_opt.cropPad + 1;
        aug = mix(aug);
        dy = static_cast<int>(aug % span) - m_opt.cropPad;
        dx = static_cast<int>((aug >> 20) % span) - m_opt.cropPad;
      }
      if (m_opt.hflip) {
        aug = mix(aug);
        flip = (aug >> 40) & 1;
      }
      auto unit = [&] {  // the stream's next number, uniform in [0, 1)
        aug = mix(aug);
        return static_cast<double>(aug >> 11) * (1.0 / 9007199254740992.0);
      };
      Crop crop;
      if (m_opt.cropScale < 1) {
        // Area fraction uniform in [cropScale, 1], square, anywhere inside the image.
        crop.zoom = std::sqrt(m_opt.cropScale + (1 - m_opt.cropScale) * unit());
        crop.top = unit() * (1 - crop.zoom) * m_data->height;
        crop.left = unit() * (1 - crop.zoom) * m_data->width;
      }
      if (m_opt.rotationDegrees > 0) {
        const double a = (2 * unit() - 1) * m_opt.rotationDegrees * (M_PI / 180);
        crop.rotated = true;
        crop.cos = std::cos(a);
        crop.sin = std::sin(a);
      }
      double contrast = 1, brightness = 1;
      if (m_opt.intensityJitter > 0) {
        const double s = m_opt.intensityJitter;
        contrast = 1 - s + 2 * s * unit();
        brightness = 1 - s + 2 * s * unit();
      }
      Erase erase;
      if (m_opt.erasing > 0) {  // always six draws, so the stream does not depend on the outcome
        const bool on = unit() < m_opt.erasing;
        const double area = (0.02 + 0.31 * unit()) * th * tw;
        const double aspect = std::exp(std::log(0.3) + (std::log(3.3) - std::log(0.3)) * unit());
        const double top = unit(), left = unit();
        erase.value = static_cast<float>(2 * unit() - 1);
        erase.h = static_cast<int>(std::lround(std::sqrt(area * aspect)));
        erase.w = static_cast<int>(std::lround(std::sqrt(area / aspect)));
        if (!on || erase.h < 1 || erase.w < 1 || erase.h > th || erase.w > tw) erase.h = erase.w = 0;
        erase.top = static_cast<int>(top * (th - erase.h + 1));
        erase.left = static_cast<int>(left * (tw - erase.w + 1));
      }
      if (g < first) continue;
      const std::int64_t i = g - first + static_cast<std::int64_t>(v) * m_batch;
      float* img = p + static_cast<std::size_t>(i) * c * th * tw;
      writeImage(*m_data, idx, th, tw, dy, dx, flip, img, crop);
      if (m_opt.intensityJitter > 0)
        jitterIntensity(img, static_cast<std::size_t>(c) * th * tw, contrast, brightness);
      for (int ch = 0; ch < c; ++ch)
        for (int y = erase.top; y < erase.top + erase.h; ++y)
          std::fill_n(img + (static_cast<std::size_t>(ch) * th + y) * tw + erase.left, erase.w,
                      erase.value);
      if (v == 0) lab[i] = m_data->labelled() ? m_data->labels[idx] : -1;
    }
  }
  return b;
}

void BatchLoader::produce(std::int64_t step) {
  try {
    for (;; ++step) {
      Batch b = make(step);
      std::unique_lock<std::mutex> lock(m_mutex);
      m_cv.wait(lock, [&] { return m_stop || static_cast<int>(m_queue.size()) < m_opt.prefetch; });
      if (m_stop) return;
      m_queue.push_back(std::move(b));
      m_cv.notify_all();
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_error = e.what();
    m_cv.notify_all();
  }
}

void BatchLoader::start(std::int64_t firstStep) {
  stopThread();
  m_error.clear();
  m_thread = std::thread([this, firstStep] { produce(firstStep); });
}

Batch BatchLoader::next(double* waitMs) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(m_mutex);
  m_cv.wait(lock, [&] { return !m_queue.empty() || !m_error.empty(); });
  if (m_queue.empty()) throw Error("data loader failed: " + m_error);
  Batch b = std::move(m_queue.front());
  m_queue.pop_front();
  lock.unlock();
  m_cv.notify_all();
  if (waitMs)
    *waitMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return b;
}

}  // namespace infomax
