#pragma once
// Small image helpers shared by the views: a data-set image as a QImage, and a widget saved as
// PNG.
// Thread rules: imageSetImage is safe from any thread (QImage only); saveWidgetPng on the GUI
// thread.

#include <QImage>
#include <QString>

#include "infomax/imageset.h"

class QWidget;

namespace infomax::ui {

// Image `index` of the set as a QImage (grey, or RGB from the planar CHW bytes).
QImage imageSetImage(const ImageSet& set, int index);

// Writes the widget as it looks now as a PNG, atomically. Empty string, or an error naming the
// file.
QString saveWidgetPng(QWidget* widget, const QString& path);

}  // namespace infomax::ui
