#include "runsetuppanel.h"

#include <algorithm>
#include <exception>
#include <thread>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPixmap>
#include <QRegularExpression>
#include <QLineEdit>
#include <QSpinBox>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "infomax/architecture.h"
#include "infomax/imageset.h"
#include "imageutil.h"

namespace infomax::ui {

namespace {

struct LoadResult {
  QString text;
  bool error = false;
  int channels = 0, height = 0, width = 0;
  QList<QImage> samples;
  QStringList captions;
};

constexpr int kSampleCount = 10;
constexpr int kThumb = 52;

// Samples to show: the first image of each class in label order where labelled, else the first
// images.
void pickSamples(const ImageSet& set, LoadResult* r) {
  std::vector<int> picks;
  if (set.labelled()) {
    std::vector<bool> seen(std::max(set.numClasses(), 1), false);
    for (int i = 0; i < set.count && static_cast<int>(picks.size()) < kSampleCount; ++i) {
      const auto label = set.labels[i];
      if (label < 0 || seen[label]) continue;
      seen[label] = true;
      picks.push_back(i);
    }
    std::sort(picks.begin(), picks.end(),
              [&](int a, int b) { return set.labels[a] < set.labels[b]; });
  }
  for (int i = 0; i < set.count && static_cast<int>(picks.size()) < kSampleCount; ++i)
    if (std::find(picks.begin(), picks.end(), i) == picks.end()) picks.push_back(i);
  for (int i : picks) {
    r->samples << imageSetImage(set, i).scaled(kThumb, kThumb, Qt::KeepAspectRatio,
                                        Qt::SmoothTransformation);
    QString caption = QStringLiteral("#%1").arg(i);
    if (set.labelled() && set.labels[i] >= 0) {
      const auto label = set.labels[i];
      caption = label < static_cast<std::int64_t>(set.classNames.size())
                    ? QString::fromStdString(set.classNames[label])
                    : QStringLiteral("class %1").arg(label);
    }
    r->captions << caption;
  }
}

QDoubleSpinBox* doubleSpin(QWidget* parent, double lo, double hi, int decimals, double step) {
  auto* s = new QDoubleSpinBox(parent);
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  return s;
}

QSpinBox* intSpin(QWidget* parent, int lo, int hi) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  return s;
}

}  // namespace

RunSetupPanel::RunSetupPanel(QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  outer->addLayout(form);

  // Data
  m_dataPath = new QLineEdit(this);
  m_dataPath->setObjectName(QStringLiteral("dataPath"));
  m_dataPath->setPlaceholderText(QString::fromStdString(defaultDataPath()));
  m_dataPath->setToolTip(
      tr("An IDX/CIFAR/STL-10 file or folder, or a folder of images; empty "
         "uses Fashion-MNIST"));
  auto* pickFile = new QToolButton(this);
  pickFile->setText(tr("File…"));
  auto* pickFolder = new QToolButton(this);
  pickFolder->setText(tr("Folder…"));
  auto* dataRow = new QHBoxLayout;
  dataRow->addWidget(m_dataPath, 1);
  dataRow->addWidget(pickFile);
  dataRow->addWidget(pickFolder);
  form->addRow(tr("Data:"), dataRow);
  m_dataSummary = new QLabel(this);
  m_dataSummary->setObjectName(QStringLiteral("dataSummary"));
  m_dataSummary->setWordWrap(true);
  m_dataSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form->addRow(QString(), m_dataSummary);
  m_samples = new QLabel(this);
  m_samples->setObjectName(QStringLiteral("dataSamples"));
  m_samples->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  form->addRow(QString(), m_samples);

  // Model and objective
  m_arch = new QComboBox(this);
  m_arch->setEditable(true);
  m_arch->addItem(QStringLiteral("auto"));
  for (const auto& p : presetNames()) m_arch->addItem(QString::fromStdString(p));
  m_arch->setToolTip(
      tr("A built-in encoder, 'auto' (by image size) or an architecture JSON "
         "file"));
  m_arch->setProperty("defaultTip", m_arch->toolTip());
  auto* pickArch = new QToolButton(this);
  pickArch->setText(tr("JSON…"));
  auto* archRow = new QHBoxLayout;
  archRow->addWidget(m_arch, 1);
  archRow->addWidget(pickArch);
  form->addRow(tr("Encoder:"), archRow);
  m_mode = new QComboBox(this);
  for (Mode m : {Mode::Local, Mode::Global, Mode::LocalGlobal})
    m_mode->addItem(QString::fromLatin1(toString(m)), static_cast<int>(m));
  form->addRow(tr("Mode:"), m_mode);
  m_estimator = new QComboBox(this);
  for (Estimator e : {Estimator::Jsd, Estimator::Nce, Estimator::Dv, Estimator::Nwj})
    m_estimator->addItem(QString::fromLatin1(toString(e)), static_cast<int>(e));
  form->addRow(tr("Estimator:"), m_estimator);
  m_alpha = doubleSpin(this, -1, 1e4, 3, 0.1);
  m_alpha->setToolTip(tr("Weight of the global MI term"));
  m_beta = doubleSpin(this, -1, 1e4, 3, 0.1);
  m_beta->setToolTip(tr("Weight of the local MI term"));
  m_gamma = doubleSpin(this, -1, 1e4, 3, 0.1);
  m_gamma->setToolTip(tr("Weight of the prior-matching term"));
  m_decorrelation = doubleSpin(this, -1, 1e4, 3, 0.1);
  m_decorrelation->setObjectName(QStringLiteral("decorrelation"));
  m_decorrelation->setToolTip(
      tr("Weight of the penalty on correlated dimensions of Y (0 = off; docs/ENGINE.md)"));
  auto* weights = new QHBoxLayout;
  for (auto [name, spin] :
       {std::pair<const char*, QDoubleSpinBox*>{"α", m_alpha}, {"β", m_beta}, {"γ", m_gamma}}) {
    weights->addWidget(new QLabel(QString::fromUtf8(name), this));
    weights->addWidget(spin, 1);
  }
  form->addRow(tr("Weights:"), weights);
  form->addRow(tr("Y decorrelation:"), m_decorrelation);
  m_headUnits = intSpin(this, 0, 65536);
  m_headUnits->setObjectName(QStringLiteral("headUnits"));
  form->addRow(tr("Head units:"), m_headUnits);

  // Optimisation
  m_batch = intSpin(this, 0, 1 << 20);
  m_batch->setObjectName(QStringLiteral("batch"));
  form->addRow(tr("Batch:"), m_batch);
  m_lr = doubleSpin(this, 0, 10, 6, 1e-5);
  m_lr->setObjectName(QStringLiteral("lr"));
  m_lrSchedule = new QComboBox(this);
  m_lrSchedule->setObjectName(QStringLiteral("lrSchedule"));
  m_lrSchedule->addItem(tr("constant"), static_cast<int>(LrSchedule::Constant));
  m_lrSchedule->addItem(tr("cosine decay"), static_cast<int>(LrSchedule::Cosine));
  m_lrSchedule->setToolTip(
      tr("Cosine decay: the rate falls to 0 over the run (over the time limit when one is set)"));
  auto* lrRow = new QHBoxLayout;
  lrRow->addWidget(m_lr, 1);
  lrRow->addWidget(m_lrSchedule, 1);
  form->addRow(tr("Learning rate:"), lrRow);
  m_steps = intSpin(this, 0, 1'000'000'000);
  m_steps->setSpecialValueText(tr("by epochs"));
  m_steps->setObjectName(QStringLiteral("steps"));
  form->addRow(tr("Steps:"), m_steps);
  m_epochs = doubleSpin(this, 0, 1e6, 2, 0.5);
  form->addRow(tr("Epochs:"), m_epochs);
  m_minutes = doubleSpin(this, 0, 1e6, 1, 5);
  m_minutes->setObjectName(QStringLiteral("minutes"));
  m_minutes->setSpecialValueText(tr("none"));
  m_minutes->setSuffix(tr(" min"));
  m_minutes->setToolTip(tr("Also end the run (finished, checkpointed) after this much training time"));
  form->addRow(tr("Time limit:"), m_minutes);
  m_seed = intSpin(this, 0, 2147483647);
  form->addRow(tr("Seed:"), m_seed);
  m_threads = intSpin(this, 0, 1024);
  m_threads->setSpecialValueText(tr("every core (%1)").arg(std::thread::hardware_concurrency()));
  form->addRow(tr("Threads:"), m_threads);
  m_precision = new QComboBox(this);
  m_precision->setObjectName(QStringLiteral("precision"));
  const bool nativeBf16 = cpuHasNativeBf16();
  m_precision->addItem(tr("auto (%1 on this CPU)").arg(nativeBf16 ? QStringLiteral("bf16")
                                                                  : QStringLiteral("fp32")),
                       static_cast<int>(Precision::Auto));
  m_precision->addItem(QStringLiteral("fp32"), static_cast<int>(Precision::Fp32));
  m_precision->addItem(QStringLiteral("bf16"), static_cast<int>(Precision::Bf16));
  m_precision->setToolTip(
      nativeBf16 ? tr("bf16 autocast: this CPU has native bf16 (AVX-512 BF16 or AMX)")
                 : tr("bf16 needs a CPU with native bf16 (AVX-512 BF16 or AMX); this one has none"));
  form->addRow(tr("Precision:"), m_precision);
  m_evalEvery = intSpin(this, 0, 1'000'000);
  m_evalEvery->setObjectName(QStringLiteral("evalEvery"));
  m_evalEvery->setSpecialValueText(tr("off"));
  m_evalEvery->setSuffix(tr(" steps"));
  m_evalEvery->setToolTip(
      tr("Every N steps, the kNN accuracy of Y on a fixed labelled subset (plotted live as the "
         "probe accuracy)"));
  form->addRow(tr("Online kNN every:"), m_evalEvery);

  // Augmentation
  m_cropPad = intSpin(this, 0, 64);
  m_cropPad->setObjectName(QStringLiteral("cropPad"));
  m_cropPad->setSpecialValueText(tr("no shift"));
  m_cropPad->setPrefix(tr("shift ±"));
  m_cropPad->setSuffix(tr(" px"));
  m_cropPad->setToolTip(tr("Random translation of every image by up to this many pixels"));
  m_hflip = new QCheckBox(tr("mirror"), this);
  m_hflip->setObjectName(QStringLiteral("hflip"));
  m_hflip->setToolTip(tr("Random horizontal flip"));
  m_views = new QComboBox(this);
  m_views->setObjectName(QStringLiteral("views"));
  m_views->addItem(tr("one view (DIM)"), 1);
  m_views->addItem(tr("two views"), 2);
  m_views->setToolTip(
      tr("Two views: every image drawn twice with independent augmentations; Y of one view is "
         "scored against the local features of the other (AMDIM-style)"));
  auto* augRow = new QHBoxLayout;
  augRow->addWidget(m_cropPad, 1);
  augRow->addWidget(m_hflip);
  augRow->addWidget(m_views, 1);
  form->addRow(tr("Augmentation:"), augRow);
  m_cropScale = doubleSpin(this, 0.05, 1.0, 2, 0.05);
  m_cropScale->setObjectName(QStringLiteral("cropScale"));
  m_cropScale->setPrefix(tr("area "));
  m_cropScale->setSuffix(tr(" – 1 (1 = off)"));
  m_cropScale->setToolTip(
      tr("Random square crops covering this fraction of the image's area or more, resized back "
         "to the input size; 1 = no cropping. The studio defaults use 0.8: smaller crops lowered "
         "Y's probe accuracy (docs/BENCHMARKS.md)"));
  form->addRow(tr("Random crops:"), m_cropScale);
  m_jitter = doubleSpin(this, 0, 0.95, 2, 0.05);
  m_jitter->setObjectName(QStringLiteral("jitter"));
  m_jitter->setPrefix(tr("± "));
  m_jitter->setSuffix(tr(" (0 = off)"));
  m_jitter->setToolTip(
      tr("Random brightness and contrast: each a factor in [1 - s, 1 + s] per view (SimCLR's "
         "colour distortion for grey images; docs/ENGINE.md)"));
  form->addRow(tr("Intensity jitter:"), m_jitter);
  m_rotation = doubleSpin(this, 0, 180, 1, 5);
  m_rotation->setObjectName(QStringLiteral("rotation"));
  m_rotation->setPrefix(tr("± "));
  m_rotation->setSuffix(tr("° (0 = off)"));
  m_rotation->setToolTip(tr("Random rotations of each view, uniform in [-d, d] degrees, about the "
                            "image's centre; corners from outside the image are black"));
  form->addRow(tr("Rotation:"), m_rotation);
  m_erasing = doubleSpin(this, 0, 1, 2, 0.05);
  m_erasing->setObjectName(QStringLiteral("erasing"));
  m_erasing->setPrefix(tr("p "));
  m_erasing->setSuffix(tr(" (0 = off)"));
  m_erasing->setToolTip(tr("Random erasing: with this probability one rectangle of 2-33% of a "
                           "view is filled with a random grey"));
  form->addRow(tr("Random erasing:"), m_erasing);

  // Output
  m_outDir = new QLineEdit(this);
  m_outDir->setObjectName(QStringLiteral("outDir"));
  m_outDir->setPlaceholderText(tr("new folder under ~/infomax-runs"));
  auto* pickOut = new QToolButton(this);
  pickOut->setText(tr("…"));
  auto* outRow = new QHBoxLayout;
  outRow->addWidget(m_outDir, 1);
  outRow->addWidget(pickOut);
  form->addRow(tr("Run folder:"), outRow);

  m_validation = new QLabel(this);
  m_validation->setObjectName(QStringLiteral("validationLabel"));
  m_validation->setWordWrap(true);
  m_validation->setStyleSheet(QStringLiteral("color: #b00020; font-weight: bold;"));
  outer->addWidget(m_validation);
  m_archWarning = new QLabel(this);
  m_archWarning->setObjectName(QStringLiteral("architectureWarning"));
  m_archWarning->setWordWrap(true);
  m_archWarning->setStyleSheet(
      QStringLiteral("background: #fff3c4; color: #5c4400; border: 1px solid #e0c060; "
                     "border-radius: 3px; padding: 4px;"));
  m_archWarning->setVisible(false);
  outer->addWidget(m_archWarning);
  outer->addStretch(1);

  m_loadTimer = new QTimer(this);
  m_loadTimer->setSingleShot(true);
  m_loadTimer->setInterval(300);  // wait for typing to pause before reading a data set
  connect(m_loadTimer, &QTimer::timeout, this, &RunSetupPanel::loadDataSummary);

  connect(pickFile, &QToolButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Data file"), m_dataPath->text());
    if (!f.isEmpty()) m_dataPath->setText(f);
  });
  connect(pickFolder, &QToolButton::clicked, this, [this] {
    const QString d =
        QFileDialog::getExistingDirectory(this, tr("Data folder"), m_dataPath->text());
    if (!d.isEmpty()) m_dataPath->setText(d);
  });
  connect(pickArch, &QToolButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Architecture JSON"), QString(),
                                                   tr("JSON (*.json);;All files (*)"));
    if (!f.isEmpty()) m_arch->setCurrentText(f);
  });
  connect(pickOut, &QToolButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Run folder"), m_outDir->text());
    if (!d.isEmpty()) m_outDir->setText(d);
  });
  connect(m_dataPath, &QLineEdit::textChanged, this, [this] {
    if (!m_filling) m_loadTimer->start();
  });

  const auto changed = [this] {
    if (!m_filling) revalidate();
  };
  connect(m_arch, &QComboBox::currentTextChanged, this, changed);
  for (QComboBox* c : {m_mode, m_estimator, m_precision, m_lrSchedule})
    connect(c, &QComboBox::currentIndexChanged, this, changed);
  for (QDoubleSpinBox* s : {m_alpha, m_beta, m_gamma, m_decorrelation, m_lr, m_epochs, m_minutes,
                            m_cropScale, m_jitter, m_rotation, m_erasing})
    connect(s, &QDoubleSpinBox::valueChanged, this, changed);
  for (QSpinBox* s : {m_batch, m_steps, m_seed, m_threads, m_headUnits, m_evalEvery, m_cropPad})
    connect(s, &QSpinBox::valueChanged, this, changed);
  connect(m_views, &QComboBox::currentIndexChanged, this, changed);
  connect(m_hflip, &QCheckBox::toggled, this, changed);
  connect(m_dataPath, &QLineEdit::textChanged, this, changed);
  connect(m_outDir, &QLineEdit::textChanged, this, changed);

  setConfig(TrainConfig::defaults("studio"));
}

RunSetupPanel::~RunSetupPanel() = default;

void RunSetupPanel::setConfig(const TrainConfig& config) {
  m_base = config;
  m_filling = true;
  m_dataPath->setText(QString::fromStdString(config.dataPath));
  m_arch->setCurrentText(QString::fromStdString(config.arch));
  m_mode->setCurrentIndex(m_mode->findData(static_cast<int>(config.mode)));
  m_estimator->setCurrentIndex(m_estimator->findData(static_cast<int>(config.estimator)));
  m_alpha->setValue(config.alpha);
  m_beta->setValue(config.beta);
  m_gamma->setValue(config.gamma);
  m_decorrelation->setValue(config.yDecorrelation);
  m_headUnits->setValue(config.headUnits);
  m_evalEvery->setValue(config.evalEvery);
  m_batch->setValue(config.batch);
  m_lr->setValue(config.lr);
  m_lrSchedule->setCurrentIndex(
      std::max(0, m_lrSchedule->findData(static_cast<int>(config.lrSchedule))));
  m_steps->setValue(static_cast<int>(std::min<std::int64_t>(config.steps, m_steps->maximum())));
  m_epochs->setValue(config.epochs);
  m_minutes->setValue(config.minutes);
  m_cropPad->setValue(config.cropPad);
  m_cropScale->setValue(config.cropScale);
  m_jitter->setValue(config.intensityJitter);
  m_rotation->setValue(config.rotationDegrees);
  m_erasing->setValue(config.erasing);
  m_hflip->setChecked(config.hflip);
  m_views->setCurrentIndex(std::max(0, m_views->findData(config.views)));
  m_seed->setValue(static_cast<int>(std::min<std::uint64_t>(config.seed, 2147483647u)));
  m_threads->setValue(config.threads);
  m_precision->setCurrentIndex(m_precision->findData(static_cast<int>(config.precision)));
  m_outDir->setText(QString::fromStdString(config.outDir));
  m_filling = false;
  revalidate();
  loadDataSummary();
}

TrainConfig RunSetupPanel::config() const {
  TrainConfig c = m_base;
  const QString data = m_dataPath->text().trimmed();
  if (data.toStdString() != c.dataPath) c.format = DataFormat::Auto;
  c.dataPath = data.toStdString();
  const std::string arch = m_arch->currentText().trimmed().toStdString();
  if (arch != c.arch) c.archJson.clear();  // resolved again from the new choice
  c.arch = arch.empty() ? std::string("auto") : arch;
  c.mode = static_cast<Mode>(m_mode->currentData().toInt());
  c.estimator = static_cast<Estimator>(m_estimator->currentData().toInt());
  c.alpha = m_alpha->value();
  c.beta = m_beta->value();
  c.gamma = m_gamma->value();
  c.yDecorrelation = m_decorrelation->value();
  c.headUnits = m_headUnits->value();
  c.evalEvery = m_evalEvery->value();
  c.batch = m_batch->value();
  c.lr = m_lr->value();
  c.lrSchedule = static_cast<LrSchedule>(m_lrSchedule->currentData().toInt());
  c.steps = m_steps->value();
  c.epochs = m_epochs->value();
  c.minutes = m_minutes->value();
  c.cropPad = m_cropPad->value();
  c.cropScale = m_cropScale->value();
  c.intensityJitter = m_jitter->value();
  c.rotationDegrees = m_rotation->value();
  c.erasing = m_erasing->value();
  c.hflip = m_hflip->isChecked();
  c.views = m_views->currentData().toInt();
  c.seed = static_cast<std::uint64_t>(m_seed->value());
  c.threads = m_threads->value();
  c.precision = static_cast<Precision>(m_precision->currentData().toInt());
  c.outDir = m_outDir->text().trimmed().toStdString();
  return c;
}

QString RunSetupPanel::architectureWarning() const { return m_archWarning->text(); }

QString RunSetupPanel::dataSummary() const { return m_dataSummary->text(); }

void RunSetupPanel::revalidate() {
  QString message;
  try {
    config().validate();
  } catch (const std::exception& e) {
    message = QString::fromStdString(e.what());
  }
  // With the data's image size known: does the architecture fit it, and are its local features
  // local? (Both as the trainer will see them: images padded to the declared input size.)
  QString warning;
  bool archProblem = false;
  if (message.isEmpty() && m_dataHeight > 0) {
    const TrainConfig cfg = config();
    try {
      const std::string json = cfg.archJson.empty()
                                   ? resolveArchitecture(cfg.arch, m_dataHeight, m_dataWidth)
                                   : cfg.archJson;
      int dh = 0, dw = 0;
      declaredInputSize(json, dh, dw);
      const ArchitectureInfo info = analyzeArchitecture(
          json, m_dataChannels, std::max({m_dataHeight, cfg.padTo, dh}),
          std::max({m_dataWidth, cfg.padTo, dw}),
          cfg.arch.empty() || cfg.arch == "auto" ? "architecture" : "architecture " + cfg.arch);
      warning = QString::fromStdString(localFieldWarning(info));
    } catch (const std::exception& e) {
      message = QString::fromStdString(e.what());
      archProblem = true;
    }
  }
  m_archWarning->setText(warning.isEmpty() ? QString() : tr("Warning: %1").arg(warning));
  m_archWarning->setVisible(!warning.isEmpty());
  m_arch->setStyleSheet(archProblem ? QStringLiteral("background: #ffd6d6;") : QString());
  m_arch->setToolTip(archProblem ? message : m_arch->property("defaultTip").toString());
  // Mark the field the message is about (TrainConfig::validate() names it first).
  QString about = message;
  about.remove(QRegularExpression(QStringLiteral("^invalid setting: ")));
  const std::pair<const char*, QWidget*> fields[] = {
      {"batch", m_batch},     {"lr", m_lr},       {"alpha", m_alpha},
      {"beta", m_beta},       {"gamma", m_gamma}, {"head_units", m_headUnits}, {"eval_every", m_evalEvery},
      {"threads", m_threads}, {"steps", m_steps}, {"either steps", m_epochs},
      {"minutes", m_minutes}, {"crop_pad", m_cropPad}, {"crop_scale", m_cropScale},
      {"intensity_jitter", m_jitter}, {"rotation_degrees", m_rotation},
      {"random_erasing", m_erasing}, {"y_decorrelation", m_decorrelation},
      {"precision", m_precision}};
  for (const auto& [prefix, widget] : fields) {
    const bool bad = about.startsWith(QLatin1String(prefix));
    widget->setStyleSheet(bad ? QStringLiteral("background: #ffd6d6;") : QString());
    if (bad) widget->setToolTip(message);
  }
  m_validation->setText(message.isEmpty() ? QString() : tr("Cannot start: %1").arg(message));
  m_validation->setVisible(!message.isEmpty());
  const bool valid = message.isEmpty();
  m_message = message;
  if (valid != m_valid) {
    m_valid = valid;
    Q_EMIT validityChanged(valid);
  }
}

void RunSetupPanel::loadDataSummary() {
  DataSpec spec;
  spec.path = m_dataPath->text().trimmed().toStdString();
  if (spec.path.empty()) spec.path = defaultDataPath();
  spec.format = m_base.format;
  spec.split = m_base.split;
  spec.resize = m_base.resize;
  spec.limit = m_base.dataLimit;
  const int generation = ++m_loadGeneration;
  setSummary(tr("Reading %1 …").arg(QString::fromStdString(spec.path)), false);
  auto* watcher = new QFutureWatcher<LoadResult>(this);
  connect(watcher, &QFutureWatcher<LoadResult>::finished, this, [this, watcher, generation] {
    const LoadResult r = watcher->result();
    watcher->deleteLater();
    if (generation != m_loadGeneration) return;  // a newer load runs
    setSummary(r.text, r.error);
    setSamples(r.samples, r.captions);
    m_dataChannels = r.channels;
    m_dataHeight = r.height;
    m_dataWidth = r.width;
    revalidate();  // the architecture can now be checked against the images
  });
  watcher->setFuture(QtConcurrent::run([spec] {
    try {
      const ImageSet set = loadImageSet(spec);
      LoadResult r{QString::fromStdString(describe(set)), false, set.channels, set.height,
                   set.width, {}, {}};
      pickSamples(set, &r);
      return r;
    } catch (const std::exception& e) {
      return LoadResult{QString::fromStdString(e.what()), true, 0, 0, 0, {}, {}};
    }
  }));
}

void RunSetupPanel::setSummary(const QString& text, bool error) {
  m_dataSummary->setText(text);
  m_dataSummary->setStyleSheet(error ? QStringLiteral("color: #b00020;")
                                     : QStringLiteral("color: palette(mid);"));
  Q_EMIT dataSummaryChanged(text);
}

}  // namespace infomax::ui

namespace infomax::ui {

void RunSetupPanel::setSamples(const QList<QImage>& images, const QStringList& captions) {
  m_sampleCaptions = captions;
  if (images.isEmpty()) {
    m_sampleGrid = QImage();
    m_samples->clear();
    m_samples->setVisible(false);
    return;
  }
  const int columns = 5, cellW = kThumb + 8, textH = 14, cellH = kThumb + textH + 6;
  const int rows = (static_cast<int>(images.size()) + columns - 1) / columns;
  QImage grid(columns * cellW, rows * cellH, QImage::Format_ARGB32_Premultiplied);
  grid.fill(Qt::transparent);
  QPainter p(&grid);
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() * 0.75));
  p.setFont(small);
  const QFontMetrics fm(small);
  for (int i = 0; i < images.size(); ++i) {
    const int cx = (i % columns) * cellW, cy = (i / columns) * cellH;
    const QImage& img = images[i];
    p.drawImage(cx + (cellW - img.width()) / 2, cy + 2, img);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(cx, cy + kThumb + 4, cellW, textH), Qt::AlignHCenter | Qt::AlignTop,
               fm.elidedText(captions.value(i), Qt::ElideRight, cellW - 2));
  }
  p.end();
  m_sampleGrid = grid;
  m_samples->setPixmap(QPixmap::fromImage(grid));
  m_samples->setToolTip(tr("Samples: %1").arg(captions.join(QStringLiteral(", "))));
  m_samples->setVisible(true);
}

}  // namespace infomax::ui
