// Tests of architecture parsing: preset shapes, receptive fields, validation errors.
#include <QtTest>

#include "infomax/architecture.h"
#include "infomax/error.h"

using namespace infomax;

class TestArchitecture : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void presetShapes_data() {
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::addColumn<QList<int>>("local");  // C, H, W, RF size, RF jump
    QTest::addColumn<QList<int>>("conv");   // C, H, W
    QTest::addColumn<int>("fc");
    // basic32x32: conv 4-2-1 twice: RF 4 then 4 + 3*2 = 10, jump 4 (the reference's numbers).
    QTest::newRow("dcgan32") << "dcgan32" << 1 << 32 << QList<int>{128, 8, 8, 10, 4}
                             << QList<int>{256, 4, 4} << 1024;
    // basic28x28: conv 5-2-2 twice: RF 5 then 5 + 4*2 = 13, jump 4; map 7x7.
    QTest::newRow("dcgan28") << "dcgan28" << 1 << 28 << QList<int>{128, 7, 7, 13, 4}
                             << QList<int>{128, 7, 7} << 1024;
    // alex64: conv3 (RF 3), pool 3/2 (5), conv3 (9, jump 2), pool (13, jump 4), conv3 (21).
    QTest::newRow("alex64") << "alex64" << 3 << 64 << QList<int>{384, 16, 16, 21, 4}
                            << QList<int>{192, 8, 8} << 4096;
    // resnet32: 3 + 4 + 4 = 11; 128 stage: +2 +4 +4 +4 = 25; 256 s2 block: +4 +8 = 37 > 32.
    QTest::newRow("resnet32") << "resnet32" << 3 << 32 << QList<int>{256, 8, 8, 37, 4}
                              << QList<int>{256, 4, 4} << 1024;
  }
  void presetShapes() {
    QFETCH(QString, preset);
    QFETCH(int, channels);
    QFETCH(int, size);
    QFETCH(QList<int>, local);
    QFETCH(QList<int>, conv);
    QFETCH(int, fc);
    auto info = analyzeArchitecture(presetJson(preset.toStdString()), channels, size, size);
    const auto& l = info.layer(info.localLayer);
    QCOMPARE(l.channels, local[0]);
    QCOMPARE(l.height, local[1]);
    QCOMPARE(l.width, local[2]);
    QCOMPARE(int(l.rfSize), local[3]);
    QCOMPARE(int(l.rfJump), local[4]);
    const auto& c = info.layer(info.convLayer);
    QCOMPARE(c.channels, conv[0]);
    QCOMPARE(c.height, conv[1]);
    QCOMPARE(c.width, conv[2]);
    QCOMPARE(info.layer(info.fcLayer).channels, fc);
    QCOMPARE(info.yDim(), 64);
    QVERIFY(info.layer(info.yLayer).flat);
  }

  void dcgan32ParameterCount() {
    auto info = analyzeArchitecture(presetJson("dcgan32"), 1, 32, 32);
    // convs (no bias) + BN, fc 4096x1024 (no bias) + BN, y 1024x64 + bias.
    const long long expected = 64 * 1 * 16 + 128 + 128 * 64 * 16 + 256 + 256 * 128 * 16 + 512 +
                               4096LL * 1024 + 2048 + 1024 * 64 + 64;
    QCOMPARE(info.parameters(), expected);
  }

  void autoPicksBySize() {
    QCOMPARE(resolveArchitecture("auto", 28, 28), presetJson("dcgan28"));
    QCOMPARE(resolveArchitecture("auto", 32, 32), presetJson("dcgan32"));
    QCOMPARE(resolveArchitecture("auto", 64, 64), presetJson("alex64"));
  }

  void errors_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<int>("size");
    QTest::addColumn<QString>("needle");
    const QString tail = R"(, {"type":"flatten"}, {"type":"linear","out":8,"name":"y"}],
                            "outputs": {"local": "c"}})";
    QTest::newRow("unknown type") << R"({"layers":[{"type":"conv3d"}]})" << 32 << "unknown type";
    QTest::newRow("missing out") << R"({"layers":[{"type":"conv","kernel":3}]})" << 32 << "out";
    QTest::newRow("shrinks") << QString(R"({"layers":[{"type":"conv","out":4,"kernel":5,"name":"c"})") + tail
                             << 4 << "shrinks";
    QTest::newRow("no local") << R"({"layers":[{"type":"conv","out":4,"kernel":3},{"type":"flatten"},{"type":"linear","out":8}],
                                    "outputs":{"local":"nope"}})"
                              << 8 << "nope";
    QTest::newRow("local flat") << R"({"layers":[{"type":"conv","out":4,"kernel":3},{"type":"flatten","name":"f"},{"type":"linear","out":8}],
                                      "outputs":{"local":"f"}})"
                                << 8 << "spatial";
    QTest::newRow("linear before flatten") << R"({"layers":[{"type":"linear","out":4}]})" << 8 << "flatten";
    QTest::newRow("duplicate") << R"({"layers":[{"type":"relu","name":"a"},{"type":"relu","name":"a"}]})" << 8 << "two layers";
    QTest::newRow("huge") << R"({"layers":[{"type":"conv","out":100000000,"kernel":3}]})" << 8 << "outside";
    QTest::newRow("not json") << "{" << 8 << "JSON";
    // Declared input sizes (found by fuzzing: a float beyond int's range was converted to int).
    const QString convY = R"(, "layers":[{"type":"conv","out":4,"kernel":3,"name":"c"},
                              {"type":"flatten"}, {"type":"linear","out":8,"name":"y"}],
                              "outputs": {"local": "c"}})";
    QTest::newRow("input width beyond int")
        << QString(R"({"input": {"height": 8, "width": 323333333333333333333333333})") + convY << 8
        << "input width must be an integer from 1 to 16384";
    QTest::newRow("input height negative")
        << QString(R"({"input": {"height": -8, "width": 8})") + convY << 8 << "input height";
    QTest::newRow("input height a string")
        << QString(R"({"input": {"height": "8", "width": 8})") + convY << 8 << "input height";
    QTest::newRow("input not an object") << QString(R"({"input": 8)") + convY << 8
                                         << "\"input\" must be an object";
  }
  void errors() {
    QFETCH(QString, json);
    QFETCH(int, size);
    QFETCH(QString, needle);
    try {
      analyzeArchitecture(json.toStdString(), 1, size, size, "arch.json");
      QFAIL("accepted a broken architecture");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(needle), e.what());
      QVERIFY2(QString(e.what()).contains("arch.json"), e.what());
    }
  }

  // declaredInputSize reads only integers from 1 to 16384; anything else counts as absent (0),
  // and analyzeArchitecture names the problem (errors(), above).
  void declaredInputSizes() {
    int h = -1, w = -1;
    declaredInputSize(R"({"input": {"height": 40, "width": 48}, "layers": []})", h, w);
    QCOMPARE(h, 40);
    QCOMPARE(w, 48);
    declaredInputSize(R"({"input": {"height": 32, "width": 3.2e26}, "layers": []})", h, w);
    QCOMPARE(h, 32);
    QCOMPARE(w, 0);
    declaredInputSize(R"({"input": {"height": 16385, "width": 0}})", h, w);
    QCOMPARE(h, 0);
    QCOMPARE(w, 0);
    declaredInputSize("{", h, w);
    QCOMPARE(h, 0);
    QCOMPARE(w, 0);
  }

  void tooSmallImageForPreset() {
    QVERIFY_THROWS_EXCEPTION(Error, analyzeArchitecture(presetJson("dcgan32"), 1, 6, 6));
  }

  void unknownPresetOrFile() {
    try {
      resolveArchitecture("nonexistent", 32, 32);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY(QString(e.what()).contains("dcgan32"));
    }
  }
};

QTEST_GUILESS_MAIN(TestArchitecture)
#include "test_architecture.moc"
