#include "receptivefieldview.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <utility>

#include <QApplication>
#include <QComboBox>
#include <QDeadlineTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontMetricsF>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLinearGradient>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "infomax/effectivefield.h"
#include "infomax/error.h"

namespace infomax::ui {

// The encoder and the mutex that keeps it to one thread at a time (EffectiveField's rule).
struct ReceptiveFieldView::Field {
  std::mutex mutex;
  std::unique_ptr<EffectiveField> erf;
};

namespace {

constexpr int kHoverThrottleMs = 40;
constexpr int kErfCacheLimit = 512;
constexpr int kMargin = 12;
constexpr int kLegendHeight = 58;
const QSize kDefaultCanvas(512, 560);

const QColor kBackground(0x26, 0x28, 0x2c);
const QColor kPinColour(0xff, 0x9f, 0x1c);
const QColor kHoverColour(0x4c, 0xd9, 0xff);
const QColor kDotColour(0x9b, 0xe7, 0xff, 150);
const QColor kPaddingHatch(0x7f, 0x9c, 0xc8, 150);
const QColor kPaddingTint(0x3a, 0x4a, 0x66, 90);
const QColor kText(0xe6, 0xe6, 0xe6);
const QColor kTextDim(0xa8, 0xac, 0xb4);

struct LoadResult {
  std::shared_ptr<ReceptiveFieldView::Field> field;
  QString error;
};

struct ErfResult {
  std::vector<float> values;
  QString error;
};

// Inferno-like colour map: dark purple through red and orange to pale yellow.
QColor heatColour(double t) {
  static const double stops[][4] = {{0.00, 20, 11, 52},
                                    {0.25, 101, 21, 110},
                                    {0.50, 188, 55, 84},
                                    {0.75, 249, 142, 9},
                                    {1.00, 252, 255, 164}};
  t = std::clamp(t, 0.0, 1.0);
  for (int i = 1; i < 5; ++i) {
    if (t <= stops[i][0]) {
      const double a = (t - stops[i - 1][0]) / (stops[i][0] - stops[i - 1][0]);
      auto mix = [&](int c) { return stops[i - 1][c] + a * (stops[i][c] - stops[i - 1][c]); };
      return QColor(int(mix(1)), int(mix(2)), int(mix(3)));
    }
  }
  return QColor(252, 255, 164);
}

// Opacity of the heat map: every pixel the feature reaches is tinted, the strongest ones most.
int heatAlpha(double t) { return t <= 0 ? 0 : int(55 + 180 * std::sqrt(std::min(t, 1.0))); }

// Planar floats in [-1, 1] as an 8-bit picture (grey for one or two channels, else RGB).
QImage inputToImage(const std::vector<float>& input, int c, int h, int w) {
  QImage img(w, h, QImage::Format_RGB32);
  const int plane = h * w;
  auto byte = [](float v) { return std::clamp(int(std::lround((v + 1.0f) * 127.5f)), 0, 255); };
  for (int y = 0; y < h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < w; ++x) {
      const int i = y * w + x;
      const int r = byte(input[i]);
      const int g = c >= 3 ? byte(input[plane + i]) : r;
      const int b = c >= 3 ? byte(input[2 * plane + i]) : r;
      line[x] = qRgb(r, g, b);
    }
  }
  return img;
}

QString pct(double v) { return QString::number(v * 100, 'f', 1) + QLatin1Char('%'); }

}  // namespace

// The drawing surface: paints through the view and reports the mouse to it.
class ReceptiveFieldView::Canvas final : public QWidget {
 public:
  explicit Canvas(ReceptiveFieldView* view) : QWidget(view), m_view(view) {
    setObjectName(QStringLiteral("rfCanvas"));
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(280, 300);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setCursor(Qt::CrossCursor);
  }

 protected:
  void paintEvent(QPaintEvent*) override {
    QPainter p(this);
    m_view->paintCanvas(p, size());
  }
  void mouseMoveEvent(QMouseEvent* e) override { m_view->hoverAt(e->position(), size()); }
  void mousePressEvent(QMouseEvent* e) override {
    if (e->button() == Qt::LeftButton) m_view->clickAt(e->position(), size());
  }
  void leaveEvent(QEvent*) override { m_view->leaveCanvas(); }

 private:
  ReceptiveFieldView* m_view;
};

ReceptiveFieldView::ReceptiveFieldView(QWidget* parent) : QWidget(parent) {
  setFocusPolicy(Qt::StrongFocus);

  // Row 1: encoder.
  m_sourceCombo = new QComboBox(this);
  m_sourceCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_sourceCombo->setToolTip(tr("Encoder: a preset with random weights, or the loaded checkpoint"));
  m_sourceNote = new QLabel(this);
  m_sourceNote->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_sourceNote->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  auto* openCheckpoint = new QPushButton(tr("Open checkpoint…"), this);
  auto* sourceRow = new QHBoxLayout;
  sourceRow->addWidget(new QLabel(tr("Encoder:"), this));
  sourceRow->addWidget(m_sourceCombo);
  sourceRow->addWidget(m_sourceNote, 1);
  sourceRow->addWidget(openCheckpoint);

  // Row 2: layer and image.
  m_layerCombo = new QComboBox(this);
  m_layerCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_layerCombo->setToolTip(tr("Layer whose feature-map locations are shown"));
  m_index = new QSpinBox(this);
  m_index->setEnabled(false);
  m_index->setKeyboardTracking(false);
  m_index->setToolTip(tr("Image of the data set (Page Up / Page Down)"));
  m_imageNote = new QLabel(this);
  m_imageNote->setStyleSheet(QStringLiteral("color: palette(mid);"));
  // Long notes must not squeeze the combos: they are cut at the row's end instead.
  m_imageNote->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  m_loadDataButton = new QPushButton(tr("Load data set…"), this);
  m_loadDataButton->setToolTip(
      tr("Load the training split of %1").arg(QString::fromStdString(defaultDataPath())));
  auto* openImage = new QPushButton(tr("Open image file…"), this);
  auto* exportButton = new QPushButton(tr("Export PNG…"), this);
  auto* imageRow = new QHBoxLayout;
  imageRow->addWidget(new QLabel(tr("Layer:"), this));
  imageRow->addWidget(m_layerCombo);
  imageRow->addSpacing(12);
  imageRow->addWidget(new QLabel(tr("Image:"), this));
  imageRow->addWidget(m_index);
  imageRow->addWidget(m_imageNote, 1);
  imageRow->addWidget(m_loadDataButton);
  imageRow->addWidget(openImage);
  imageRow->addWidget(exportButton);

  m_warningBar = new QLabel(this);
  m_warningBar->setWordWrap(true);
  m_warningBar->setStyleSheet(QStringLiteral(
      "background: #fff3c4; color: #4d3b00; border: 1px solid #e0b400; border-radius: 3px;"
      " padding: 5px 8px;"));
  m_warningBar->hide();
  m_errorBar = new QLabel(this);
  m_errorBar->setWordWrap(true);
  m_errorBar->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_errorBar->setStyleSheet(QStringLiteral("color: #b00020; padding: 2px 2px;"));
  m_errorBar->hide();

  m_canvas = new Canvas(this);
  m_readout = new QLabel(this);
  m_readout->setTextFormat(Qt::RichText);
  m_readout->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  m_readout->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_readout->setMinimumWidth(250);
  m_readout->setWordWrap(true);
  auto* body = new QHBoxLayout;
  body->addWidget(m_canvas, 1);
  body->addWidget(m_readout);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(sourceRow);
  layout->addLayout(imageRow);
  layout->addWidget(m_warningBar);
  layout->addWidget(m_errorBar);
  layout->addLayout(body, 1);

  m_hoverTimer = new QTimer(this);
  m_hoverTimer->setSingleShot(true);
  m_hoverTimer->setInterval(kHoverThrottleMs);
  connect(m_hoverTimer, &QTimer::timeout, this, &ReceptiveFieldView::requestErf);

  connect(m_sourceCombo, &QComboBox::activated, this, [this](int i) {
    const QString data = m_sourceCombo->itemData(i).toString();
    if (!data.startsWith(QLatin1String("preset:"))) return;
    const int c = m_set ? m_set->channels : m_contentChannels;
    const int h = m_set ? m_set->height : m_contentHeight;
    const int w = m_set ? m_set->width : m_contentWidth;
    setArchitecture(data.mid(7), c, h, w, m_seed);
  });
  connect(m_layerCombo, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (m_filling || i < 0) return;
    setLayer(m_layerCombo->itemData(i).toString());
  });
  connect(m_index, &QSpinBox::valueChanged, this, [this](int v) {
    if (!m_filling) setImageIndex(v);
  });
  connect(m_loadDataButton, &QPushButton::clicked, this, &ReceptiveFieldView::loadDataSetClicked);
  connect(openImage, &QPushButton::clicked, this, &ReceptiveFieldView::openImageClicked);
  connect(openCheckpoint, &QPushButton::clicked, this, &ReceptiveFieldView::openCheckpointClicked);
  connect(exportButton, &QPushButton::clicked, this, &ReceptiveFieldView::exportClicked);

  updateSourceCombo();
  updateReadout();
}

ReceptiveFieldView::~ReceptiveFieldView() = default;

// ---------------------------------------------------------------------------------- encoder

void ReceptiveFieldView::setCheckpoint(const QString& checkpointOrRunDir) {
  const std::string path = checkpointOrRunDir.toStdString();
  startLoad(
      tr("Loading %1 …").arg(checkpointOrRunDir),
      [path] {
        auto f = std::make_shared<Field>();
        f->erf = EffectiveField::fromCheckpoint(path);
        return f;
      },
      tr("checkpoint %1").arg(checkpointOrRunDir), true);
}

void ReceptiveFieldView::setArchitecture(const QString& archJsonOrPreset, int channels, int height,
                                         int width, std::uint64_t seed) {
  // Taken over when this encoder arrives: a failed load keeps the current one and its settings.
  m_pending = {archJsonOrPreset, seed, channels, height, width};
  const std::string spec = archJsonOrPreset.trimmed().toStdString();
  QString name = archJsonOrPreset.trimmed();
  if (name.startsWith(QLatin1Char('{'))) name = tr("custom architecture");
  startLoad(
      tr("Building %1 …").arg(name),
      [spec, channels, height, width, seed] {
        const std::string json =
            !spec.empty() && spec.front() == '{' ? spec : resolveArchitecture(spec, height, width);
        // Like training: the input is the image padded to the architecture's declared size.
        int dh = 0, dw = 0;
        declaredInputSize(json, dh, dw);
        auto f = std::make_shared<Field>();
        f->erf = EffectiveField::fromArchitecture(json, channels, std::max(height, dh),
                                                  std::max(width, dw), seed);
        return f;
      },
      QString(), false);
}

void ReceptiveFieldView::startLoad(const QString& what,
                                   std::function<std::shared_ptr<Field>()> load,
                                   const QString& source, bool checkpoint) {
  const int generation = ++m_loadGeneration;
  m_loading = true;
  m_loadFailed = false;
  m_sourceNote->setText(what);
  m_sourceNote->setStyleSheet(QStringLiteral("color: palette(mid);"));
  auto* watcher = new QFutureWatcher<LoadResult>(this);
  connect(watcher, &QFutureWatcher<LoadResult>::finished, this,
          [this, watcher, generation, source, checkpoint] {
            LoadResult r = watcher->result();
            watcher->deleteLater();
            if (generation != m_loadGeneration) return;  // a newer load was asked for
            m_loading = false;
            if (!r.error.isEmpty()) {
              m_loadFailed = true;
              updateSourceCombo();
              setError(r.error);
              Q_EMIT encoderLoaded(false);
              return;
            }
            installField(std::move(r.field), source, checkpoint);
            Q_EMIT encoderLoaded(true);
          });
  watcher->setFuture(QtConcurrent::run([load = std::move(load)] {
    try {
      return LoadResult{load(), {}};
    } catch (const std::exception& e) {
      return LoadResult{nullptr, QString::fromStdString(e.what())};
    }
  }));
}

void ReceptiveFieldView::installField(std::shared_ptr<Field> field, const QString& source,
                                      bool checkpoint) {
  m_field = std::move(field);
  m_info = m_field->erf->architecture();
  m_fromCheckpoint = checkpoint;
  if (!checkpoint) {
    m_archSpec = m_pending.spec;
    m_seed = m_pending.seed;
    m_contentChannels = m_pending.channels;
    m_contentHeight = m_pending.height;
    m_contentWidth = m_pending.width;
  }
  if (!checkpoint) m_autoArch = m_archSpec.trimmed() == QLatin1String("auto");
  if (!checkpoint && m_archSpec.trimmed() == QLatin1String("auto"))
    m_archSpec = QString::fromStdString(m_info.name);  // "auto" resolved to a preset
  m_source = checkpoint ? source
                        : tr("%1 · random weights (seed %2)")
                              .arg(QString::fromStdString(m_info.name))
                              .arg(m_seed);
  if (checkpoint && !m_set) {
    m_contentChannels = m_info.inChannels;
    m_contentHeight = m_info.inHeight;
    m_contentWidth = m_info.inWidth;
  }
  clearError();
  rebuildLayers();
  updateWarning();
  updateSourceCombo();
  rebuildInput();
}

QString ReceptiveFieldView::sourceText() const { return m_source; }

void ReceptiveFieldView::updateSourceCombo() {
  const std::vector<std::string> presets = presetNames();
  const bool isPreset =
      std::find(presets.begin(), presets.end(), m_archSpec.toStdString()) != presets.end();
  m_filling = true;
  m_sourceCombo->clear();
  if (m_fromCheckpoint && hasEncoder())
    m_sourceCombo->addItem(tr("Checkpoint: %1").arg(QString::fromStdString(m_info.name)),
                           QStringLiteral("checkpoint"));
  else if (hasEncoder() && !isPreset)
    m_sourceCombo->addItem(
        tr("Custom: %1 (random weights)").arg(QString::fromStdString(m_info.name)),
        QStringLiteral("custom"));
  for (const auto& p : presets)
    m_sourceCombo->addItem(tr("%1 (random weights)").arg(QString::fromStdString(p)),
                           QStringLiteral("preset:") + QString::fromStdString(p));
  int current = 0;
  if (!m_fromCheckpoint) {
    const int i = m_sourceCombo->findData(QStringLiteral("preset:") + m_archSpec);
    if (i >= 0) current = i;
  }
  m_sourceCombo->setCurrentIndex(hasEncoder() ? current : -1);
  m_filling = false;

  if (m_loading) return;
  if (!hasEncoder()) {
    m_sourceNote->setText(m_loadFailed ? tr("no encoder loaded") : tr("choose an encoder"));
    m_sourceNote->setStyleSheet(QStringLiteral("color: palette(mid);"));
  } else if (m_fromCheckpoint) {
    m_sourceNote->setText(m_source);
    m_sourceNote->setToolTip(m_source);
    m_sourceNote->setStyleSheet(QString());
  } else {
    m_sourceNote->setText(
        tr("<i>random weights (seed %1)</i> — open a checkpoint to see trained fields")
            .arg(m_seed));
    m_sourceNote->setStyleSheet(QStringLiteral("color: palette(mid);"));
  }
}

void ReceptiveFieldView::rebuildLayers() {
  m_filling = true;
  m_layerCombo->clear();
  int localIndex = -1, keepIndex = -1;
  for (const auto& l : m_info.layers) {
    if (l.flat) continue;
    QString text = QStringLiteral("%1 — %2×%3×%4")
                       .arg(QString::fromStdString(l.name))
                       .arg(l.channels)
                       .arg(l.height)
                       .arg(l.width);
    const QString name = QString::fromStdString(l.name);
    if (l.name == m_info.localLayer) {
      text += tr("  (local features)");
      localIndex = m_layerCombo->count();
    }
    if (name == m_layer) keepIndex = m_layerCombo->count();
    m_layerCombo->addItem(text, name);
  }
  // A new encoder starts at its local-feature layer: the one local DIM pairs with Y.
  const int index = localIndex >= 0 ? localIndex : (keepIndex >= 0 ? keepIndex : 0);
  m_layerCombo->setCurrentIndex(m_layerCombo->count() ? index : -1);
  m_filling = false;
  m_layer = m_layerCombo->currentData().toString();
  m_hoverRow = m_hoverCol = -1;
  m_pinRow = mapHeight() / 2;
  m_pinCol = mapWidth() / 2;
}

QStringList ReceptiveFieldView::layers() const {
  QStringList names;
  for (int i = 0; i < m_layerCombo->count(); ++i) names << m_layerCombo->itemData(i).toString();
  return names;
}

QString ReceptiveFieldView::currentLayer() const { return m_layer; }

bool ReceptiveFieldView::setLayer(const QString& name) {
  const int i = m_layerCombo->findData(name);
  if (i < 0) return false;
  if (m_layerCombo->currentIndex() != i) {
    m_filling = true;
    m_layerCombo->setCurrentIndex(i);
    m_filling = false;
  }
  if (name == m_layer) return true;
  // Keep the pinned spot: the location of the new layer nearest to the old one's centre.
  double cy = -1, cx = -1;
  if (!m_layer.isEmpty()) {
    const LayerInfo& old = m_info.layer(m_layer.toStdString());
    cy = old.rfStart + m_pinRow * old.rfJump;
    cx = old.rfStart + m_pinCol * old.rfJump;
  }
  m_layer = name;
  const LayerInfo& l = m_info.layer(name.toStdString());
  m_hoverRow = m_hoverCol = -1;
  if (cy < 0 || l.rfJump <= 0) {
    m_pinRow = l.height / 2;
    m_pinCol = l.width / 2;
  } else {
    m_pinRow = std::clamp(int(std::lround((cy - l.rfStart) / l.rfJump)), 0, l.height - 1);
    m_pinCol = std::clamp(int(std::lround((cx - l.rfStart) / l.rfJump)), 0, l.width - 1);
  }
  invalidateErf();
  updateReadout();
  m_canvas->update();
  requestErf();
  Q_EMIT locationChanged(m_pinRow, m_pinCol);
  return true;
}

int ReceptiveFieldView::mapHeight() const {
  return m_layer.isEmpty() ? 0 : m_info.layer(m_layer.toStdString()).height;
}

int ReceptiveFieldView::mapWidth() const {
  return m_layer.isEmpty() ? 0 : m_info.layer(m_layer.toStdString()).width;
}

void ReceptiveFieldView::updateWarning() {
  m_warningText = hasEncoder() ? QString::fromStdString(localFieldWarning(m_info)) : QString();
  if (m_warningText.isEmpty()) {
    m_warningBar->hide();
    return;
  }
  m_warningBar->setText(
      tr("<b>⚠ Local DIM degenerates into global DIM.</b> %1").arg(m_warningText.toHtmlEscaped()));
  m_warningBar->show();
}

// ------------------------------------------------------------------------------------ image

void ReceptiveFieldView::setImageSet(std::shared_ptr<const ImageSet> set) {
  m_set = std::move(set);
  m_fileImage = QImage();
  m_filePath.clear();
  m_filling = true;
  if (m_set && m_set->count > 0) {
    m_index->setRange(0, m_set->count - 1);
    m_index->setEnabled(true);
  } else {
    m_index->setRange(0, 0);
    m_index->setEnabled(false);
  }
  m_filling = false;
  if (m_set) {
    m_contentChannels = m_set->channels;
    m_contentHeight = m_set->height;
    m_contentWidth = m_set->width;
  }
  clearError();
  // An untrained encoder follows the data: rebuilt for its channels and size when they do not
  // fit (a checkpoint's encoder is what it is; input() then reports the mismatch).
  if (m_set && hasEncoder() && !m_fromCheckpoint &&
      (m_set->channels != m_info.inChannels || m_set->height > m_info.inHeight ||
       m_set->width > m_info.inWidth)) {
    setArchitecture(m_autoArch ? QStringLiteral("auto") : m_archSpec, m_set->channels,
                    m_set->height, m_set->width, m_seed);
    return;  // the new encoder rebuilds the input
  }
  rebuildInput();
}

void ReceptiveFieldView::setImageIndex(int index) {
  if (!m_set || m_set->count == 0) return;
  index = std::clamp(index, 0, m_set->count - 1);
  const bool same = index == m_index->value() && m_fileImage.isNull();
  m_filling = true;
  m_index->setValue(index);
  m_filling = false;
  if (same && !m_input.empty()) return;
  m_fileImage = QImage();
  m_filePath.clear();
  rebuildInput();
}

int ReceptiveFieldView::imageIndex() const { return m_index->value(); }

QString ReceptiveFieldView::loadImageFile(const QString& path) {
  QImage image(path);
  if (image.isNull()) {
    const QString message = tr("cannot read the image file %1").arg(path);
    setError(message);
    return message;
  }
  m_fileImage = image;
  m_filePath = path;
  clearError();
  rebuildInput();
  return {};
}

void ReceptiveFieldView::rebuildInput() {
  ++m_inputGeneration;
  m_erfCache.clear();
  invalidateErf();
  m_input.clear();
  m_inputImage = QImage();
  if (!hasEncoder()) {
    m_imageNote->clear();
    updateReadout();
    m_canvas->update();
    return;
  }
  const int c = m_info.inChannels, h = m_info.inHeight, w = m_info.inWidth;
  m_input.assign(static_cast<std::size_t>(c) * h * w, -1.0f);
  m_content = QRect(0, 0, w, h);
  QString note;
  if (!m_fileImage.isNull()) {
    // Fit into the data's image size (what training saw), centred on black like input().
    int th = std::min(m_set ? m_set->height : m_contentHeight, h);
    int tw = std::min(m_set ? m_set->width : m_contentWidth, w);
    if (th <= 0 || tw <= 0) th = h, tw = w;
    const QImage scaled = m_fileImage.scaled(tw, th, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                              .convertToFormat(QImage::Format_RGB32);
    const QImage grey = scaled.convertToFormat(QImage::Format_Grayscale8);
    const int sh = scaled.height(), sw = scaled.width();
    const int offY = (h - sh) / 2, offX = (w - sw) / 2;
    m_content = QRect(offX, offY, sw, sh);
    for (int y = 0; y < sh; ++y) {
      const auto* rgb = reinterpret_cast<const QRgb*>(scaled.constScanLine(y));
      const uchar* g = grey.constScanLine(y);
      for (int x = 0; x < sw; ++x) {
        for (int ch = 0; ch < c; ++ch) {
          int v = g[x];
          if (c >= 3 && ch == 0) v = qRed(rgb[x]);
          if (c >= 3 && ch == 1) v = qGreen(rgb[x]);
          if (c >= 3 && ch == 2) v = qBlue(rgb[x]);
          m_input[(static_cast<std::size_t>(ch) * h + offY + y) * w + offX + x] =
              v * (2.0f / 255.0f) - 1.0f;
        }
      }
    }
    note = tr("file %1 (%2×%3, shown %4×%5)")
               .arg(QFileInfo(m_filePath).fileName())
               .arg(m_fileImage.width())
               .arg(m_fileImage.height())
               .arg(sw)
               .arg(sh);
  } else if (m_set && m_set->count > 0) {
    const int index = std::clamp(m_index->value(), 0, m_set->count - 1);
    try {
      std::lock_guard<std::mutex> lock(m_field->mutex);  // a worker may be computing
      m_input = m_field->erf->input(*m_set, index);
      m_content =
          QRect((w - m_set->width) / 2, (h - m_set->height) / 2, m_set->width, m_set->height);
    } catch (const std::exception& e) {
      setError(QString::fromStdString(e.what()));
    }
    note = tr("of %1").arg(m_set->count);
    if (m_set->labelled() && index < static_cast<int>(m_set->labels.size())) {
      const auto label = m_set->labels[index];
      note += tr(" · label %1").arg(label);
      if (label >= 0 && label < static_cast<long long>(m_set->classNames.size()))
        note += QStringLiteral(" (%1)").arg(QString::fromStdString(m_set->classNames[label]));
    }
  } else {
    note = tr("no image: load a data set or open an image file (the input is black)");
  }
  m_imageNote->setText(note);
  m_imageNote->setToolTip(note);
  m_inputImage = inputToImage(m_input, c, h, w);
  updateReadout();
  m_canvas->update();
  requestErf();
}

// --------------------------------------------------------------------------------- location

void ReceptiveFieldView::setLocation(int row, int col) {
  if (m_layer.isEmpty()) return;
  row = std::clamp(row, 0, mapHeight() - 1);
  col = std::clamp(col, 0, mapWidth() - 1);
  const bool changed = row != m_pinRow || col != m_pinCol;
  m_pinRow = row;
  m_pinCol = col;
  m_hoverRow = m_hoverCol = -1;
  updateReadout();
  m_canvas->update();
  requestErf();
  if (changed) Q_EMIT locationChanged(row, col);
}

void ReceptiveFieldView::shownLocation(int& row, int& col) const {
  if (m_hoverRow >= 0) {
    row = m_hoverRow;
    col = m_hoverCol;
  } else {
    row = m_pinRow;
    col = m_pinCol;
  }
}

InputRegion ReceptiveFieldView::currentRegion() const {
  if (m_layer.isEmpty()) return {};
  int row, col;
  shownLocation(row, col);
  return receptiveField(m_info, m_layer.toStdString(), row, col);
}

QString ReceptiveFieldView::rfRectText() const {
  if (m_layer.isEmpty()) return {};
  const InputRegion r = currentRegion();
  return QStringLiteral("rows [%1, %2) × cols [%3, %4)")
      .arg(r.top)
      .arg(r.bottom)
      .arg(r.left)
      .arg(r.right);
}

void ReceptiveFieldView::updateReadout() { m_readout->setText(readoutText()); }

QString ReceptiveFieldView::readoutText() const {
  if (!hasEncoder() || m_layer.isEmpty())
    return tr("<p style='color:gray'>No encoder yet: choose a preset or open a checkpoint.</p>");
  const LayerInfo& l = m_info.layer(m_layer.toStdString());
  int row, col;
  shownLocation(row, col);
  const InputRegion r = currentRegion();
  const bool hover = m_hoverRow >= 0;
  QString role;
  if (l.name == m_info.localLayer) role = tr(" · local features");
  QStringList past;
  if (r.top < 0) past << tr("top %1").arg(-r.top);
  if (r.left < 0) past << tr("left %1").arg(-r.left);
  if (r.bottom > m_info.inHeight) past << tr("bottom %1").arg(r.bottom - m_info.inHeight);
  if (r.right > m_info.inWidth) past << tr("right %1").arg(r.right - m_info.inWidth);

  QString html = QStringLiteral("<table cellspacing='0' cellpadding='2'>");
  auto row2 = [&html](const QString& k, const QString& v) {
    html += QStringLiteral("<tr><td style='color:gray; padding-right:8px'>%1</td><td>%2</td></tr>")
                .arg(k, v);
  };
  row2(tr("Layer"), QStringLiteral("<b>%1</b> (%2)%3")
                        .arg(QString::fromStdString(l.name), QString::fromStdString(l.type), role));
  row2(tr("Map"), tr("%1 × %2, %3 channels").arg(l.height).arg(l.width).arg(l.channels));
  row2(tr("Input"), tr("%1 × %2 × %3 (image %4 × %5)")
                        .arg(m_info.inChannels)
                        .arg(m_info.inHeight)
                        .arg(m_info.inWidth)
                        .arg(m_content.width())
                        .arg(m_content.height()));
  row2(tr("Location"),
       tr("<b>(%1, %2)</b> %3").arg(row).arg(col).arg(hover ? tr("hovered") : tr("pinned")));
  row2(tr("RF size"), tr("%1 × %2 px").arg(r.bottom - r.top).arg(r.right - r.left));
  row2(tr("Stride"), tr("%1 px (jump)").arg(l.rfJump));
  row2(tr("Offset"),
       tr("%1 (top-left of location 0); centre of (0, 0) at %2").arg(l.rfTop).arg(l.rfStart));
  row2(tr("Sees"),
       tr("rows [%1, %2)<br>cols [%3, %4)").arg(r.top).arg(r.bottom).arg(r.left).arg(r.right));
  if (!past.isEmpty())
    row2(tr("Padding"), tr("reaches past the input: %1 px").arg(past.join(", ")));
  row2(tr("Coverage"), tr("%1 of the input").arg(pct(r.coverage)));
  const bool erfShown = !m_erfShownKey.isEmpty() && m_erfShownKey == erfKey(row, col);
  if (erfShown) {
    row2(tr("ERF in RF"), tr("%1 of the gradient mass").arg(pct(m_erfInside)));
    row2(tr("ERF 90%"), tr("within %1 px of the RF centre").arg(m_erfRadius90, 0, 'f', 1));
    row2(tr("ERF max"), QString::number(m_erfMax, 'g', 3));
  } else if (m_erfFailed) {
    row2(tr("ERF"), tr("<span style='color:#b00020'>failed</span>"));
  } else {
    row2(tr("ERF"), tr("<i>computing…</i>"));
  }
  html += QStringLiteral("</table>");
  html +=
      tr("<p style='color:gray'>Hover to inspect, click to pin; arrow keys move the pin, "
         "Page Up/Down change the image.</p>");
  return html;
}

// --------------------------------------------------------------------------- effective field

QString ReceptiveFieldView::erfKey(int row, int col) const {
  return QStringLiteral("%1/%2/%3").arg(m_layer).arg(row).arg(col);
}

void ReceptiveFieldView::invalidateErf() {
  m_erfShownKey.clear();
  m_erfFailed = false;
}

void ReceptiveFieldView::requestErf() {
  if (!m_field || m_input.empty() || m_layer.isEmpty()) return;
  int row, col;
  shownLocation(row, col);
  const QString key = erfKey(row, col);
  m_erfFailed = false;
  if (key == m_erfShownKey) return;
  const auto cached = m_erfCache.constFind(key);
  if (cached != m_erfCache.constEnd()) {
    setErf(*cached, key);
    return;
  }
  m_jobPending = true;
  if (!m_jobRunning) startErfJob();
}

void ReceptiveFieldView::startErfJob() {
  m_jobPending = false;
  int row, col;
  shownLocation(row, col);
  const QString key = erfKey(row, col);
  if (key == m_erfShownKey) return;
  if (m_erfCache.contains(key)) {
    setErf(m_erfCache.value(key), key);
    return;
  }
  m_jobRunning = true;
  const int generation = m_inputGeneration;
  const int loadGeneration = m_loadGeneration;
  auto* watcher = new QFutureWatcher<ErfResult>(this);
  connect(watcher, &QFutureWatcher<ErfResult>::finished, this,
          [this, watcher, generation, loadGeneration, key] {
            ErfResult r = watcher->result();
            watcher->deleteLater();
            m_jobRunning = false;
            const bool current =
                generation == m_inputGeneration && loadGeneration == m_loadGeneration;
            if (current) {
              if (!r.error.isEmpty()) {
                m_erfFailed = true;
                setError(r.error);
                updateReadout();
                if (!m_jobPending) return;  // no retry: the same request would fail again
              }
              if (m_erfCache.size() >= kErfCacheLimit) m_erfCache.clear();
              m_erfCache.insert(key, r.values);
              int row, col;
              shownLocation(row, col);
              if (key == erfKey(row, col)) setErf(std::move(r.values), key);
            }
            // Latest request wins: what is shown now, if it still needs a field.
            int row, col;
            shownLocation(row, col);
            if (m_jobPending || (m_field && !m_input.empty() && erfKey(row, col) != m_erfShownKey &&
                                 !m_hoverTimer->isActive()))
              startErfJob();
          });
  watcher->setFuture(QtConcurrent::run(
      [field = m_field, image = m_input, layer = m_layer.toStdString(), row, col] {
        try {
          std::lock_guard<std::mutex> lock(field->mutex);
          return ErfResult{field->erf->compute(image, layer, row, col), {}};
        } catch (const std::exception& e) {
          return ErfResult{{}, QString::fromStdString(e.what())};
        }
      }));
}

void ReceptiveFieldView::setErf(std::vector<float> values, const QString& key) {
  const int h = m_info.inHeight, w = m_info.inWidth;
  if (values.size() != static_cast<std::size_t>(h) * w) return;
  m_erf = std::move(values);
  m_erfShownKey = key;
  m_erfFailed = false;
  const QStringList parts = key.split(QLatin1Char('/'));
  const int row = parts.value(parts.size() - 2).toInt();
  const int col = parts.value(parts.size() - 1).toInt();
  const InputRegion r = receptiveField(m_info, m_layer.toStdString(), row, col);

  m_erfMax = *std::max_element(m_erf.begin(), m_erf.end());
  double total = 0, inside = 0;
  const double cy = (r.top + r.bottom) / 2.0, cx = (r.left + r.right) / 2.0;
  std::vector<std::pair<double, float>> byDistance;
  m_erfImage = QImage(w, h, QImage::Format_ARGB32);
  for (int y = 0; y < h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(m_erfImage.scanLine(y));
    for (int x = 0; x < w; ++x) {
      const float v = m_erf[static_cast<std::size_t>(y) * w + x];
      total += v;
      if (y >= r.top && y < r.bottom && x >= r.left && x < r.right) inside += v;
      if (v > 0) byDistance.emplace_back(std::hypot(y + 0.5 - cy, x + 0.5 - cx), v);
      const double t = m_erfMax > 0 ? v / m_erfMax : 0;
      QColor c = heatColour(t);
      line[x] = qRgba(c.red(), c.green(), c.blue(), heatAlpha(t));
    }
  }
  m_erfInside = total > 0 ? inside / total : 0;
  std::sort(byDistance.begin(), byDistance.end());
  double sum = 0;
  m_erfRadius90 = 0;
  for (const auto& [d, v] : byDistance) {
    sum += v;
    m_erfRadius90 = d;
    if (sum >= 0.9 * total) break;
  }
  updateReadout();
  m_canvas->update();
  Q_EMIT erfReady(m_layer, row, col);
}

bool ReceptiveFieldView::waitForErf(int timeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  auto ready = [this] {
    int row, col;
    shownLocation(row, col);
    return !m_loading && !m_jobRunning && !m_jobPending && !m_hoverTimer->isActive() &&
           !m_erfShownKey.isEmpty() && m_erfShownKey == erfKey(row, col);
  };
  while (!ready()) {
    if (deadline.hasExpired() || m_erfFailed || (!m_loading && !m_field)) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (!ready()) QThread::msleep(2);
  }
  return true;
}

bool ReceptiveFieldView::waitForEncoder(int timeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  while (m_loading) {
    if (deadline.hasExpired()) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (m_loading) QThread::msleep(2);
  }
  return !m_loadFailed && hasEncoder();
}

// ---------------------------------------------------------------------------- messages

void ReceptiveFieldView::setError(const QString& message) {
  m_errorText = message;
  m_errorBar->setText(message);
  m_errorBar->show();
  Q_EMIT errorOccurred(message);
}

void ReceptiveFieldView::clearError() {
  m_errorText.clear();
  m_errorBar->clear();
  m_errorBar->hide();
}

// ------------------------------------------------------------------------------- canvas

ReceptiveFieldView::Geometry ReceptiveFieldView::geometry(QSize size) const {
  Geometry g;
  g.legend =
      QRectF(kMargin, size.height() - kLegendHeight, size.width() - 2 * kMargin, kLegendHeight - 6);
  const double availW = size.width() - 2.0 * kMargin;
  const double availH = size.height() - 2.0 * kMargin - kLegendHeight + 6;
  const int h = std::max(1, m_info.inHeight), w = std::max(1, m_info.inWidth);
  double scale = std::max(0.1, std::min(availW / w, availH / h));
  if (scale >= 2) scale = std::floor(scale);  // whole pixels stay crisp
  g.scale = scale;
  g.image = QRectF(kMargin + (availW - w * scale) / 2, kMargin + (availH - h * scale) / 2,
                   w * scale, h * scale);
  return g;
}

namespace {

// The rectangle of a field: solid where it lies inside the input, dashed along the border where
// the field reaches on into the padding beyond the input.
void drawField(QPainter& p, const QRectF& image, double scale, const InputRegion& r, int h, int w,
               const QColor& colour, double width) {
  const int top = std::max(r.top, 0), bottom = std::min(r.bottom, h);
  const int left = std::max(r.left, 0), right = std::min(r.right, w);
  if (top >= bottom || left >= right) return;
  const double x0 = image.left() + left * scale, x1 = image.left() + right * scale;
  const double y0 = image.top() + top * scale, y1 = image.top() + bottom * scale;
  const QLineF sides[4] = {{x0, y0, x1, y0}, {x0, y1, x1, y1}, {x0, y0, x0, y1}, {x1, y0, x1, y1}};
  const bool clipped[4] = {r.top<0, r.bottom> h, r.left<0, r.right> w};
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < 4; ++i) {
      QPen pen(pass == 0 ? QColor(0, 0, 0, 160) : colour, pass == 0 ? width + 2 : width);
      pen.setCapStyle(Qt::SquareCap);
      if (clipped[i]) {
        pen.setStyle(Qt::CustomDashLine);
        pen.setDashPattern({3, 2.5});
        pen.setCapStyle(Qt::FlatCap);
      }
      p.setPen(pen);
      p.drawLine(sides[i]);
    }
  }
}

}  // namespace

void ReceptiveFieldView::paintCanvas(QPainter& p, QSize size) const {
  p.fillRect(QRect(QPoint(0, 0), size), kBackground);
  if (!hasEncoder() || m_inputImage.isNull()) {
    p.setPen(kTextDim);
    p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter,
               m_loading ? tr("Loading the encoder…")
                         : tr("No encoder: choose a preset or open a checkpoint"));
    return;
  }
  const Geometry g = geometry(size);
  const int h = m_info.inHeight, w = m_info.inWidth;
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  p.drawImage(g.image, m_inputImage);

  // Padding: the black canvas around the image, hatched.
  QRegion padding(g.image.toAlignedRect());
  const QRectF content(g.image.left() + m_content.left() * g.scale,
                       g.image.top() + m_content.top() * g.scale, m_content.width() * g.scale,
                       m_content.height() * g.scale);
  padding -= QRegion(content.toAlignedRect());
  if (!padding.isEmpty()) {
    p.save();
    p.setClipRegion(padding);
    p.fillRect(g.image, kPaddingTint);
    p.fillRect(g.image, QBrush(kPaddingHatch, Qt::BDiagPattern));
    p.restore();
  }

  int row, col;
  shownLocation(row, col);
  const bool erfShown = !m_erfShownKey.isEmpty() && m_erfShownKey == erfKey(row, col);
  if (erfShown) p.drawImage(g.image, m_erfImage);

  p.setRenderHint(QPainter::Antialiasing, true);
  p.setPen(QPen(QColor(255, 255, 255, 70), 1));
  p.setBrush(Qt::NoBrush);
  p.drawRect(g.image.adjusted(-0.5, -0.5, 0.5, 0.5));

  if (m_layer.isEmpty()) return;
  const LayerInfo& l = m_info.layer(m_layer.toStdString());
  const double spacing = l.rfJump * g.scale;
  const double dot = std::clamp(spacing * 0.09, 1.0, 2.6);
  p.setPen(Qt::NoPen);
  p.setBrush(kDotColour);
  for (int r = 0; r < l.height; ++r)
    for (int c = 0; c < l.width; ++c)
      p.drawEllipse(QPointF(g.image.left() + (l.rfStart + c * l.rfJump) * g.scale,
                            g.image.top() + (l.rfStart + r * l.rfJump) * g.scale),
                    dot, dot);

  auto centre = [&](int r, int c) {
    return QPointF(g.image.left() + (l.rfStart + c * l.rfJump) * g.scale,
                   g.image.top() + (l.rfStart + r * l.rfJump) * g.scale);
  };
  const std::string layer = m_layer.toStdString();
  const bool hovering = m_hoverRow >= 0;
  if (hovering && (m_hoverRow != m_pinRow || m_hoverCol != m_pinCol)) {
    QColor pinFaint = kPinColour;
    pinFaint.setAlpha(120);
    drawField(p, g.image, g.scale, receptiveField(m_info, layer, m_pinRow, m_pinCol), h, w,
              pinFaint, 1.2);
  }
  drawField(p, g.image, g.scale, receptiveField(m_info, layer, row, col), h, w,
            hovering ? kHoverColour : kPinColour, 2.0);

  // Pinned location: a filled dot; hovered: a ring.
  p.setPen(QPen(Qt::black, 1.5));
  p.setBrush(kPinColour);
  p.drawEllipse(centre(m_pinRow, m_pinCol), 4.5, 4.5);
  if (hovering) {
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(Qt::black, 3.5));
    p.drawEllipse(centre(m_hoverRow, m_hoverCol), 6, 6);
    p.setPen(QPen(kHoverColour, 2));
    p.drawEllipse(centre(m_hoverRow, m_hoverCol), 6, 6);
  }

  // Legend: caption, colour bar and keys.
  QFont font = p.font();
  font.setPixelSize(12);
  p.setFont(font);
  const QRectF L = g.legend;
  const InputRegion rf = currentRegion();
  p.setPen(kText);
  p.drawText(QRectF(L.left(), L.top(), L.width(), 18), Qt::AlignLeft | Qt::AlignVCenter,
             tr("%1 · %2×%3 map · (%4, %5) · RF %6 px, rows [%7, %8) cols [%9, %10)")
                 .arg(m_layer)
                 .arg(l.height)
                 .arg(l.width)
                 .arg(row)
                 .arg(col)
                 .arg(rf.bottom - rf.top)
                 .arg(rf.top)
                 .arg(rf.bottom)
                 .arg(rf.left)
                 .arg(rf.right));
  const double barY = L.top() + 24, barH = 10, barW = std::min(140.0, L.width() * 0.3);
  QLinearGradient gradient(L.left(), 0, L.left() + barW, 0);
  for (int i = 0; i <= 8; ++i) {
    const double t = i / 8.0;
    QColor c = heatColour(t);
    gradient.setColorAt(t, c);
  }
  p.setPen(QPen(QColor(255, 255, 255, 90), 1));
  p.setBrush(gradient);
  p.drawRect(QRectF(L.left(), barY, barW, barH));
  p.setPen(kTextDim);
  font.setPixelSize(11);
  p.setFont(font);
  p.drawText(QRectF(L.left(), barY + barH + 1, barW, 14), Qt::AlignLeft | Qt::AlignTop,
             QStringLiteral("0"));
  p.drawText(QRectF(L.left(), barY + barH + 1, barW, 14), Qt::AlignRight | Qt::AlignTop,
             erfShown ? QString::number(m_erfMax, 'g', 2) : QStringLiteral("max"));
  const QFontMetricsF metrics(font);
  auto label = [&](double x, const QString& text) {
    const double width = metrics.horizontalAdvance(text) + 2;
    p.setPen(kTextDim);
    p.drawText(QRectF(x, barY - 3, width, barH + 6), Qt::AlignLeft | Qt::AlignVCenter, text);
    return x + width + 18;
  };
  double x = label(L.left() + barW + 8, erfShown ? tr("ERF |∂f/∂x|") : tr("ERF: computing…"));
  // Keys: field rectangle, location centres, padding.
  p.setBrush(Qt::NoBrush);
  p.setPen(QPen(kPinColour, 2));
  p.drawRect(QRectF(x, barY, 14, barH));
  p.setPen(QPen(kHoverColour, 2));
  p.drawRect(QRectF(x + 20, barY, 14, barH));
  x = label(x + 40, tr("pinned / hovered RF"));
  p.setPen(Qt::NoPen);
  p.setBrush(kDotColour);
  p.drawEllipse(QPointF(x + 5, barY + barH / 2), 2.5, 2.5);
  x = label(x + 13, tr("location"));
  p.fillRect(QRectF(x, barY, 14, barH), Qt::black);
  p.fillRect(QRectF(x, barY, 14, barH), kPaddingTint);
  p.fillRect(QRectF(x, barY, 14, barH), QBrush(kPaddingHatch, Qt::BDiagPattern));
  label(x + 20, tr("padding"));
}

bool ReceptiveFieldView::locationAt(QPointF pos, QSize size, int& row, int& col) const {
  if (!hasEncoder() || m_layer.isEmpty()) return false;
  const Geometry g = geometry(size);
  if (!g.image.adjusted(-4, -4, 4, 4).contains(pos)) return false;
  const LayerInfo& l = m_info.layer(m_layer.toStdString());
  if (l.rfJump <= 0) return false;
  const double u = (pos.y() - g.image.top()) / g.scale, v = (pos.x() - g.image.left()) / g.scale;
  row = std::clamp(int(std::lround((u - l.rfStart) / l.rfJump)), 0, l.height - 1);
  col = std::clamp(int(std::lround((v - l.rfStart) / l.rfJump)), 0, l.width - 1);
  return true;
}

void ReceptiveFieldView::hoverAt(QPointF pos, QSize size) {
  int row, col;
  if (!locationAt(pos, size, row, col)) {
    leaveCanvas();
    return;
  }
  if (row == m_hoverRow && col == m_hoverCol) return;
  m_hoverRow = row;
  m_hoverCol = col;
  updateReadout();
  m_canvas->update();
  // Throttled: at most one request per interval while the mouse moves.
  if (!m_hoverTimer->isActive()) m_hoverTimer->start();
}

void ReceptiveFieldView::clickAt(QPointF pos, QSize size) {
  int row, col;
  if (locationAt(pos, size, row, col)) {
    setLocation(row, col);
    m_hoverRow = row;  // the mouse is still over it
    m_hoverCol = col;
  }
}

void ReceptiveFieldView::leaveCanvas() {
  if (m_hoverRow < 0) return;
  m_hoverRow = m_hoverCol = -1;
  updateReadout();
  m_canvas->update();
  requestErf();
}

void ReceptiveFieldView::keyPressEvent(QKeyEvent* event) {
  switch (event->key()) {
    case Qt::Key_Left:
      setLocation(m_pinRow, m_pinCol - 1);
      break;
    case Qt::Key_Right:
      setLocation(m_pinRow, m_pinCol + 1);
      break;
    case Qt::Key_Up:
      setLocation(m_pinRow - 1, m_pinCol);
      break;
    case Qt::Key_Down:
      setLocation(m_pinRow + 1, m_pinCol);
      break;
    case Qt::Key_PageUp:
      setImageIndex(imageIndex() - 1);
      break;
    case Qt::Key_PageDown:
      setImageIndex(imageIndex() + 1);
      break;
    default:
      QWidget::keyPressEvent(event);
      return;
  }
  event->accept();
}

void ReceptiveFieldView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (m_loadGeneration == 0) {
    const int c = m_set ? m_set->channels : m_contentChannels;
    const int h = m_set ? m_set->height : m_contentHeight;
    const int w = m_set ? m_set->width : m_contentWidth;
    setArchitecture(QStringLiteral("auto"), c, h, w, m_seed);
  }
}

// ------------------------------------------------------------------------------- export

QSize ReceptiveFieldView::canvasSize() const {
  return m_canvas->isVisible() && m_canvas->width() >= 64 && m_canvas->height() >= 64
             ? m_canvas->size()
             : kDefaultCanvas;
}

QImage ReceptiveFieldView::renderCanvas() const {
  QImage image(canvasSize(), QImage::Format_ARGB32);
  QPainter p(&image);
  paintCanvas(p, image.size());
  return image;
}

QString ReceptiveFieldView::exportPng(const QString& path) const {
  const QImage image = renderCanvas();
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly))
    return tr("cannot write %1: %2").arg(path, file.errorString());
  if (!image.save(&file, "PNG")) {
    file.cancelWriting();
    return tr("cannot write %1: PNG encoding failed").arg(path);
  }
  if (!file.commit()) return tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

// ------------------------------------------------------------------------------ buttons

void ReceptiveFieldView::loadDataSetClicked() {
  DataSpec spec;
  spec.path = defaultDataPath();
  spec.split = "train";
  m_loadDataButton->setEnabled(false);
  m_imageNote->setText(tr("reading %1 …").arg(QString::fromStdString(spec.path)));
  struct Loaded {
    std::shared_ptr<const ImageSet> set;
    QString error;
  };
  auto* watcher = new QFutureWatcher<Loaded>(this);
  connect(watcher, &QFutureWatcher<Loaded>::finished, this, [this, watcher] {
    Loaded r = watcher->result();
    watcher->deleteLater();
    m_loadDataButton->setEnabled(true);
    if (!r.error.isEmpty()) {
      setError(r.error);
      rebuildInput();
      return;
    }
    setImageSet(std::move(r.set));
  });
  watcher->setFuture(QtConcurrent::run([spec] {
    try {
      return Loaded{std::make_shared<const ImageSet>(loadImageSet(spec)), {}};
    } catch (const std::exception& e) {
      return Loaded{nullptr, QString::fromStdString(e.what())};
    }
  }));
}

void ReceptiveFieldView::openImageClicked() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open image"), QString(),
      tr("Images (*.png *.jpg *.jpeg *.bmp *.gif *.pgm *.ppm *.webp);;All files (*)"));
  if (!path.isEmpty()) loadImageFile(path);
}

void ReceptiveFieldView::openCheckpointClicked() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open checkpoint"), QString(),
                                                    tr("Checkpoints (*.imx);;All files (*)"));
  if (!path.isEmpty()) setCheckpoint(path);
}

void ReceptiveFieldView::exportClicked() {
  QString path =
      QFileDialog::getSaveFileName(this, tr("Export receptive-field view"),
                                   QStringLiteral("receptive-field.png"), tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) path += QLatin1String(".png");
  const QString error = exportPng(path);
  if (!error.isEmpty()) setError(error);
}

}  // namespace infomax::ui
