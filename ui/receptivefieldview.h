#pragma once
// ReceptiveFieldView: an image as the encoder is fed it (padding included), the feature-map grid
// of a chosen layer over it, the theoretical receptive field of the hovered or pinned location
// and its effective receptive field (Luo et al. 2016) as a heat map; warns when the local layer
// sees the whole input (local DIM degenerates into global DIM). docs/RECEPTIVE-FIELDS.md.
// Encoders load and ERFs are computed on pool threads (QtConcurrent); at most one ERF job runs at
// a time and only the latest request is kept, so hovering never queues work.
// Thread rules: GUI thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <QHash>
#include <QImage>
#include <QRect>
#include <QString>
#include <QWidget>

#include "infomax/architecture.h"
#include "infomax/imageset.h"

class QComboBox;
class QLabel;
class QPainter;
class QPushButton;
class QSpinBox;
class QTimer;

namespace infomax::ui {

class ReceptiveFieldView final : public QWidget {
  Q_OBJECT
 public:
  explicit ReceptiveFieldView(QWidget* parent = nullptr);
  ~ReceptiveFieldView() override;
  ReceptiveFieldView(const ReceptiveFieldView&) = delete;
  ReceptiveFieldView& operator=(const ReceptiveFieldView&) = delete;

  // --- Encoder (loaded on a pool thread; encoderLoaded() tells when) ---
  // A checkpoint file or run folder (its latest checkpoint) with its trained weights.
  void setCheckpoint(const QString& checkpointOrRunDir);
  // A preset name, a JSON file path or JSON text, with freshly initialised weights (seeded) for
  // images of channels x height x width; like training, the input is padded to the
  // architecture's declared size when that is larger.
  void setArchitecture(const QString& archJsonOrPreset, int channels, int height, int width,
                       std::uint64_t seed = 1);
  bool hasEncoder() const { return m_info.inHeight > 0; }
  const ArchitectureInfo& architecture() const { return m_info; }
  QString sourceText() const;  // "checkpoint …" or "dcgan28 · random weights (seed 1)"

  // --- Image ---
  // The data set the images come from (null: none). The index spin box runs over it. An
  // untrained encoder whose input does not fit the set is rebuilt for it (same preset, or "auto"
  // re-resolved by size).
  void setImageSet(std::shared_ptr<const ImageSet> set);
  void setImageIndex(int index);
  int imageIndex() const;
  // An image file, converted to the encoder's channels (grey for one channel) and scaled to fit
  // the data's image size (the data set's, else the whole input), centred on black like data.
  // Returns an error message, empty on success.
  QString loadImageFile(const QString& path);
  // The encoder's input as fed: channels x height x width floats in [-1, 1].
  const std::vector<float>& input() const { return m_input; }

  // --- Layer and location ---
  QStringList layers() const;  // layers with a spatial map, in network order
  QString currentLayer() const;
  bool setLayer(const QString& name);  // false for an unknown or flat layer
  int mapHeight() const;               // the current layer's map size
  int mapWidth() const;
  void setLocation(int row, int col);  // pins a location (clamped to the map)
  int pinnedRow() const { return m_pinRow; }
  int pinnedCol() const { return m_pinCol; }
  // The field of the shown location (hovered, else pinned), as drawn.
  InputRegion currentRegion() const;
  QString rfRectText() const;  // "rows [top, bottom) × cols [left, right)"
  QString readoutText() const;

  // --- Effective field of the shown location ---
  std::vector<float> erfValues() const { return m_erf; }  // inHeight x inWidth, row-major
  QImage erfImage() const { return m_erfImage; }          // the colour map as drawn (ARGB)
  double erfMassInside() const { return m_erfInside; }    // share inside the RF rectangle
  double erfRadius90() const { return m_erfRadius90; }    // px around the RF centre
  // Tests: processes events until the ERF of the shown location is ready (false on timeout or
  // error). waitForEncoder likewise for a load.
  bool waitForErf(int timeoutMs = 30000);
  bool waitForEncoder(int timeoutMs = 30000);

  // --- Messages and export ---
  QString errorText() const { return m_errorText; }      // last load or compute error
  QString warningText() const { return m_warningText; }  // localFieldWarning, empty when fine
  // The canvas (image, grid, field, heat map and legend) as drawn now, at the canvas's size
  // (512 x 560 when the canvas is not laid out yet).
  QImage renderCanvas() const;
  QSize canvasSize() const;  // the size renderCanvas() and exportPng() use
  // Writes renderCanvas() as PNG atomically; returns an error message, empty on success.
  QString exportPng(const QString& path) const;

  struct Field;  // opaque: the encoder and the mutex that keeps it to one thread at a time

 Q_SIGNALS:
  void encoderLoaded(bool ok);
  void erfReady(const QString& layer, int row, int col);
  void errorOccurred(const QString& message);
  void locationChanged(int row, int col);

 protected:
  void keyPressEvent(QKeyEvent* event) override;
  // Shown before any encoder was asked for (standalone use): dcgan28 with random weights.
  void showEvent(QShowEvent* event) override;

 private:
  class Canvas;
  friend class Canvas;
  struct Geometry {
    QRectF image;      // where the input is drawn
    double scale = 1;  // widget px per input px
    QRectF legend;     // the legend strip
  };

  void startLoad(const QString& what, std::function<std::shared_ptr<Field>()> load,
                 const QString& source, bool checkpoint);
  void installField(std::shared_ptr<Field> field, const QString& source, bool checkpoint);
  void rebuildLayers();
  void rebuildInput();
  void setError(const QString& message);
  void clearError();
  void updateWarning();
  void updateReadout();
  void updateSourceCombo();
  void shownLocation(int& row, int& col) const;
  void requestErf();
  void startErfJob();
  void setErf(std::vector<float> values, const QString& key);
  void invalidateErf();
  QString erfKey(int row, int col) const;
  Geometry geometry(QSize size) const;
  void paintCanvas(QPainter& p, QSize size) const;
  void hoverAt(QPointF pos, QSize size);
  void clickAt(QPointF pos, QSize size);
  void leaveCanvas();
  bool locationAt(QPointF pos, QSize size, int& row, int& col) const;
  void loadDataSetClicked();
  void openImageClicked();
  void openCheckpointClicked();
  void exportClicked();

  // Encoder
  std::shared_ptr<Field> m_field;
  ArchitectureInfo m_info;
  QString m_source;
  bool m_fromCheckpoint = false;
  QString m_archSpec = QStringLiteral("dcgan28");
  std::uint64_t m_seed = 1;
  bool m_autoArch = false;  // the architecture was chosen by input size ("auto")
  struct PendingArchitecture {
    QString spec;
    std::uint64_t seed = 1;
    int channels = 1, height = 28, width = 28;
  } m_pending;
  int m_loadGeneration = 0;
  bool m_loading = false;
  bool m_loadFailed = false;

  // Image
  std::shared_ptr<const ImageSet> m_set;
  int m_contentChannels = 1, m_contentHeight = 28, m_contentWidth = 28;
  QImage m_fileImage;  // the loaded file (original), when the image comes from a file
  QString m_filePath;
  std::vector<float> m_input;
  QImage m_inputImage;  // m_input as an 8-bit picture
  QRect m_content;      // the image inside the padded input (input coordinates)
  int m_inputGeneration = 0;

  // Location
  QString m_layer;
  int m_pinRow = 0, m_pinCol = 0;
  int m_hoverRow = -1, m_hoverCol = -1;

  // Effective field
  std::vector<float> m_erf;
  QImage m_erfImage;
  QString m_erfShownKey;  // key of m_erf, empty when none
  float m_erfMax = 0;
  double m_erfInside = 0, m_erfRadius90 = 0;
  bool m_jobRunning = false;
  bool m_jobPending = false;
  bool m_erfFailed = false;
  QHash<QString, std::vector<float>> m_erfCache;
  QTimer* m_hoverTimer = nullptr;

  // Messages
  QString m_errorText, m_warningText;

  // Widgets
  QComboBox* m_sourceCombo = nullptr;
  QLabel* m_sourceNote = nullptr;
  QComboBox* m_layerCombo = nullptr;
  QSpinBox* m_index = nullptr;
  QLabel* m_imageNote = nullptr;
  QPushButton* m_loadDataButton = nullptr;
  QLabel* m_warningBar = nullptr;
  QLabel* m_errorBar = nullptr;
  Canvas* m_canvas = nullptr;
  QLabel* m_readout = nullptr;
  bool m_filling = false;
};

}  // namespace infomax::ui
