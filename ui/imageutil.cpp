#include "imageutil.h"

#include <algorithm>

#include <QObject>
#include <QPixmap>
#include <QSaveFile>
#include <QWidget>

namespace infomax::ui {

QImage imageSetImage(const ImageSet& set, int index) {
  const std::uint8_t* px = set.image(index);
  const int h = set.height, w = set.width, plane = h * w;
  if (set.channels == 1) {
    QImage img(w, h, QImage::Format_Grayscale8);
    for (int y = 0; y < h; ++y) std::copy_n(px + y * w, w, img.scanLine(y));
    return img;
  }
  QImage img(w, h, QImage::Format_RGB32);
  for (int y = 0; y < h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < w; ++x) {
      const int i = y * w + x;
      const int r = px[i], g = set.channels > 1 ? px[plane + i] : r,
                b = set.channels > 2 ? px[2 * plane + i] : r;
      line[x] = qRgb(r, g, b);
    }
  }
  return img;
}

QString saveWidgetPng(QWidget* widget, const QString& path) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly))
    return QObject::tr("cannot write %1: %2").arg(path, file.errorString());
  if (!widget->grab().toImage().save(&file, "PNG"))
    return QObject::tr("cannot encode PNG into %1").arg(path);
  if (!file.commit()) return QObject::tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

}  // namespace infomax::ui
