// Tests of the torch-level model: encoder output shapes per preset, heads' batched scores
// against explicit per-pair computation, checkpoint state loading.
#include <algorithm>
#include <torch/torch.h>

#include <QtTest>
#include <set>

#include <functional>
#include <sstream>

#include "archspec.h"
#include "checkpoint.h"
#include "heads.h"
#include "loader.h"
#include "infomax/architecture.h"
#include "infomax/error.h"
#include "model.h"

using namespace infomax;

namespace {

// Gives `to` the parameters and buffers of `from` (same architecture and heads).
void copyModelState(DimModel& from, DimModel& to) {
  torch::NoGradGuard g;
  for (const auto& p : from->named_parameters()) to->named_parameters()[p.key()].copy_(p.value());
  for (const auto& b : from->named_buffers()) to->named_buffers()[b.key()].copy_(b.value());
}

}  // namespace

class TestModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void encoderShapes_data() {
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::newRow("dcgan28") << "dcgan28" << 1 << 28;
    QTest::newRow("dcgan32") << "dcgan32" << 3 << 32;
    QTest::newRow("alex64") << "alex64" << 3 << 64;
    QTest::newRow("resnet32") << "resnet32" << 3 << 32;
  }
  void encoderShapes() {
    QFETCH(QString, preset);
    QFETCH(int, channels);
    QFETCH(int, size);
    auto pa = parseArchitecture(presetJson(preset.toStdString()), channels, size, size, "t");
    Encoder enc(pa);
    auto out = enc(torch::randn({3, channels, size, size}));
    const auto& info = pa.info;
    auto expect = [&](const torch::Tensor& t, const LayerInfo& l) {
      if (l.flat) {
        QCOMPARE(t.sizes().vec(), (std::vector<int64_t>{3, l.channels}));
      } else {
        QCOMPARE(t.sizes().vec(), (std::vector<int64_t>{3, l.channels, l.height, l.width}));
      }
    };
    expect(out.local, info.layer(info.localLayer));
    expect(out.conv, info.layer(info.convLayer));
    expect(out.fc, info.layer(info.fcLayer));
    expect(out.y, info.layer(info.yLayer));
    long long params = 0;
    for (const auto& p : enc->parameters()) params += p.numel();
    QCOMPARE(params, info.parameters());
  }

  void encodeDotScoresArePairwiseDots() {
    const int n = 4, c = 6, h = 3, w = 2, yd = 5;
    EncodeDotLocal head(c, yd, 16);
    head->eval();  // BN in eval so a row's encoding does not depend on the batch
    auto map = torch::randn({n, c, h, w});
    auto y = torch::randn({n, yd});
    PairScores s = head(mapToLocations(map), y);
    QCOMPARE(s.all.sizes().vec(), (std::vector<int64_t>{n, n, h * w}));
    QCOMPARE(s.pos.sizes().vec(), (std::vector<int64_t>{n, h * w}));
    QCOMPARE(s.neg.sizes().vec(), (std::vector<int64_t>{n, (n - 1) * h * w}));
    // Explicitly: encode Y_i and location (r, q) of image j on their own, dot them.
    auto named = head->named_children();
    auto* localNet = named["local"]->as<MiNetImpl>();
    auto* globalNet = named["global"]->as<MiNetImpl>();
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        for (int r = 0; r < h; ++r)
          for (int q = 0; q < w; ++q) {
            auto g = globalNet->forward(y[i].unsqueeze(0));
            auto l = localNet->forward(map[j].select(1, r).select(1, q).unsqueeze(0));
            const double want = (g * l).sum().item<double>();
            const double got = s.all[i][j][r * w + q].item<double>();
            QVERIFY2(std::abs(want - got) < 1e-4, qPrintable(QString("%1 vs %2").arg(want).arg(got)));
          }
  }

  void concatConvPositivesAndShiftedNegatives() {
    const int n = 5, c = 4, yd = 3;
    ConcatConvLocal head(c, yd, /*negatives=*/2, /*hidden=*/8);
    auto map = mapToLocations(torch::randn({n, c, 2, 2}));
    auto y = torch::randn({n, yd});
    PairScores s = head(map, y);
    QCOMPARE(s.pos.sizes().vec(), (std::vector<int64_t>{n, 4}));
    QCOMPARE(s.neg.sizes().vec(), (std::vector<int64_t>{n, 2 * 4}));
    // Negative k of anchor i pairs Y_i with image (i + k) mod n: equal to that image's positive
    // scores only if Y matched, so recompute through the head with a permuted Y instead.
    for (int k = 1; k <= 2; ++k) {
      auto rolledY = torch::roll(y, k, 0);  // rolledY[j] = y[j - k]: image j meets Y_{j-k}
      PairScores r = head(map, rolledY);
      for (int i = 0; i < n; ++i) {
        const int j = (i + k) % n;
        for (int m = 0; m < 4; ++m)
          QVERIFY(std::abs(s.neg[i][(k - 1) * 4 + m].item<double>() - r.pos[j][m].item<double>()) < 1e-5);
      }
    }
  }

  // Each head with a RowGather (two ranks emulated in one process: the "gather" splices the
  // other rank's feature codes, recorded in a first pass, around this rank's own) scores rank
  // r's anchors exactly like rows [r n, (r + 1) n) of the whole batch scored at once.
  void gatheredHeadsEqualRowsOfTheWholeBatch() {
    const int n = 3, c = 4, yd = 5, world = 2;
    auto map = torch::randn({world * n, c, 2, 2});
    auto y = torch::randn({world * n, yd});
    EncodeDotLocal dot(c, yd, 8);
    dot->eval();  // BN on running statistics: a row's code does not depend on its batch
    ConcatConvLocal concat(c, yd, /*negatives=*/4, /*hidden=*/8);  // 4 > n - 1: crosses ranks
    GlobalDisc disc(c, 2, 2, yd, 8);
    EncodeDotGlobal global(c, 2, 2, yd, 8);
    global->eval();
    using Score =
        std::function<PairScores(const torch::Tensor&, const torch::Tensor&, const RowGather*)>;
    const std::vector<std::pair<const char*, Score>> heads = {
        {"encode-dot", [&](auto& m, auto& v, auto* g) { return dot(mapToLocations(m), v, g); }},
        {"concat-conv", [&](auto& m, auto& v, auto* g) { return concat(mapToLocations(m), v, g); }},
        {"global-disc", [&](auto& m, auto& v, auto* g) { return disc(m, v, g); }},
        {"global encode-dot", [&](auto& m, auto& v, auto* g) { return global(m, v, g); }}};
    torch::NoGradGuard noGrad;
    for (const auto& [name, score] : heads) {
      const PairScores whole = score(map, y, nullptr);
      std::vector<torch::Tensor> codes(world);
      for (int pass = 0; pass < 2; ++pass)
        for (int r = 0; r < world; ++r) {
          RowGather g;
          g.rank = r;
          g.all = [&, r, pass](const torch::Tensor& own) {
            if (pass == 0) codes[r] = own.clone();
            std::vector<torch::Tensor> parts = codes;
            parts[r] = own;
            for (auto& p : parts)
              if (!p.defined()) p = torch::zeros_like(own);
            return torch::cat(parts, 0);
          };
          const PairScores part = score(map.narrow(0, r * n, n), y.narrow(0, r * n, n), &g);
          if (pass == 0) continue;
          const auto pos = whole.pos.narrow(0, r * n, n), neg = whole.neg.narrow(0, r * n, n);
          QVERIFY2(part.pos.sizes() == pos.sizes() && part.neg.sizes() == neg.sizes(), name);
          QVERIFY2(torch::allclose(part.pos, pos, 1e-5, 1e-5), name);
          QVERIFY2(torch::allclose(part.neg, neg, 1e-5, 1e-5), name);
        }
    }
  }

  void globalDiscScoresAllPairs() {
    const int n = 3, c = 2, yd = 4;
    GlobalDisc head(c, 3, 3, yd, 8);
    auto map = torch::randn({n, c, 3, 3});
    auto y = torch::randn({n, yd});
    PairScores s = head(map, y);
    QCOMPARE(s.all.sizes().vec(), (std::vector<int64_t>{n, n, 1}));
    // Score of (Y_i, map j) equals the positive score of a batch where map j is paired with Y_i.
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        PairScores one = head(map[j].unsqueeze(0).repeat({2, 1, 1, 1}), y[i].unsqueeze(0).repeat({2, 1}));
        QVERIFY(std::abs(one.pos[0][0].item<double>() - s.all[i][j][0].item<double>()) < 1e-5);
      }
  }

  void stateRoundTripAndMismatch() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 32;
    DimModel a(pa, cfg);
    torch::serialize::OutputArchive out;
    saveModuleState(out, *a, "model/");
    std::ostringstream bytes;
    out.save_to(bytes);
    const std::string s = bytes.str();

    torch::manual_seed(99);
    DimModel b(pa, cfg);
    torch::serialize::InputArchive in;
    in.load_from(s.data(), s.size());
    loadModuleState(in, *b, "model/", "ckpt");
    auto pa_ = a->named_parameters(), pb = b->named_parameters();
    for (const auto& p : pa_) QVERIFY(torch::equal(p.value(), pb[p.key()]));

    cfg.headUnits = 16;
    DimModel c(pa, cfg);
    torch::serialize::InputArchive in2;
    in2.load_from(s.data(), s.size());
    try {
      loadModuleState(in2, *c, "model/", "ckpt");
      QFAIL("mismatch accepted");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("architecture mismatch"), e.what());
    }
  }

  void objectiveCombinesTerms() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.mode = Mode::LocalGlobal;
    cfg.localFraction = 1.0;
    cfg.alpha = 0.5;
    cfg.beta = 2.0;
    cfg.gamma = 0.3;
    DimModel m(pa, cfg);
    PriorDisc prior(64);
    MineState lm, gm;
    auto out = m(torch::randn({4, 1, 28, 28}), &prior, &lm, &gm);
    QVERIFY(out.local && out.global && out.priorLoss.defined());
    const double want = 0.5 * out.global->loss.item<double>() + 2.0 * out.local->loss.item<double>() +
                        0.3 * out.priorLoss.item<double>();
    QVERIFY(std::abs(out.total.item<double>() - want) < 1e-5);
    QCOMPARE(out.localScores.all.size(2), 49);
  }

  void decorrelationPenaltyKnownAnswers() {
    // Every dimension the same signal: each correlation is 1, so (d^2 - d) / d = d - 1.
    auto x = torch::randn({32, 1});
    auto same = x.repeat({1, 8}) * torch::arange(1, 9).to(torch::kFloat);  // scales do not matter
    QVERIFY(std::abs(decorrelationPenalty(same, 1).item<double>() - 7.0) < 1e-3);
    // Orthogonal centred columns (a Hadamard matrix's non-constant columns): uncorrelated, 0.
    auto h = torch::ones({1, 1});
    for (int i = 0; i < 4; ++i) h = torch::cat({torch::cat({h, h}, 1), torch::cat({h, -h}, 1)}, 0);
    auto orth = h.narrow(1, 1, 15) * 3.0 + 5.0;  // 16 rows, 15 columns; shifted and scaled
    QVERIFY(decorrelationPenalty(orth, 1).item<double>() < 1e-6);
    // Two views are scored each on its own rows: view 1 collapsed (3), view 2 uncorrelated (0).
    auto collapsed = torch::randn({16, 1}).repeat({1, 4});
    auto twoViews = torch::cat({collapsed, orth.narrow(1, 0, 4)}, 0);
    QVERIFY(std::abs(decorrelationPenalty(twoViews, 2).item<double>() - 1.5) < 1e-3);
    // Over the 32 rows together the views' correlations mix and the answer differs.
    QVERIFY(std::abs(decorrelationPenalty(twoViews, 1).item<double>() - 1.5) > 0.05);
  }

  void decorrelationPenaltyGradientDecorrelates() {
    // Correlated 2-D data through a learnable linear map: descending the penalty separates the
    // map's outputs (the squared correlation of the two outputs falls from 0.98 to near 0).
    torch::manual_seed(1);
    auto z = torch::randn({256, 1});
    auto x = torch::cat({z + 0.1 * torch::randn({256, 1}), z + 0.1 * torch::randn({256, 1})}, 1);
    auto w = torch::eye(2).requires_grad_(true);
    const double before = decorrelationPenalty(torch::mm(x, w), 1).item<double>();
    torch::optim::Adam opt({w}, torch::optim::AdamOptions(0.02));
    for (int i = 0; i < 200; ++i) {
      opt.zero_grad();
      decorrelationPenalty(torch::mm(x, w), 1).backward();
      opt.step();
    }
    const double after = decorrelationPenalty(torch::mm(x, w), 1).item<double>();
    QVERIFY2(before > 0.7 && after < 0.01, qPrintable(QString("%1 -> %2").arg(before).arg(after)));
  }

  void objectiveAddsTheDecorrelationTerm() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.gamma = 0;
    cfg.yDecorrelation = 0.7;
    DimModel m(pa, cfg);
    MineState lm, gm;
    auto out = m(torch::randn({6, 1, 28, 28}), nullptr, &lm, &gm);
    QVERIFY(out.local && out.decorrelationLoss.defined());
    QVERIFY(std::abs(out.decorrelationLoss.item<double>() -
                     decorrelationPenalty(out.features.y, 1).item<double>()) < 1e-5);
    const double want = out.local->loss.item<double>() + 0.7 * out.decorrelationLoss.item<double>();
    QVERIFY(std::abs(out.total.item<double>() - want) < 1e-5);
    cfg.yDecorrelation = 0;
    DimModel plain(pa, cfg);
    QVERIFY(!plain(torch::randn({6, 1, 28, 28}), nullptr, &lm, &gm).decorrelationLoss.defined());
  }

  void scoreScaleMultipliesWhatTheEstimatorSees() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.localFraction = 1.0;
    DimModel plain(pa, cfg);
    cfg.scoreScale = 0.25;
    DimModel scaled(pa, cfg);
    copyModelState(plain, scaled);
    torch::NoGradGuard g;
    plain->eval();
    scaled->eval();
    auto x = torch::randn({4, 1, 28, 28});
    auto a = plain(x, nullptr, nullptr, nullptr, 0), b = scaled(x, nullptr, nullptr, nullptr, 0);
    QVERIFY(torch::allclose(b.local->pos, 0.25 * a.local->pos, 1e-5, 1e-5));
    QVERIFY(torch::allclose(b.local->neg, 0.25 * a.local->neg, 1e-5, 1e-5));
    // JSD of the scaled scores, computed by hand.
    namespace F = torch::nn::functional;
    const double want = (F::softplus(-b.local->pos).mean() + F::softplus(b.local->neg).mean()).item<double>() -
                        2 * std::log(2.0);
    QVERIFY(std::abs(b.local->loss.item<double>() - want) < 1e-5);
  }

  void localFractionScoresASubset() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.localFraction = 0.5;
    DimModel m(pa, cfg);
    auto x = torch::randn({4, 1, 28, 28});
    auto a = m(x, nullptr, nullptr, nullptr, 3);
    QCOMPARE(a.localSubset.numel(), int64_t(25));  // ceil(0.5 * 49)
    QCOMPARE(a.localScores.pos.sizes().vec(), (std::vector<int64_t>{4, 25}));
    QCOMPARE(a.localScores.neg.sizes().vec(), (std::vector<int64_t>{4, 3 * 25}));
    auto sorted = std::get<0>(torch::_unique(a.localSubset));
    QCOMPARE(sorted.numel(), int64_t(25));       // no repeats
    QVERIFY(a.localSubset.max().item<int64_t>() < 49);
    // The subset is a function of (seed, step): the same step repeats it, another step differs.
    QVERIFY(torch::equal(m(x, nullptr, nullptr, nullptr, 3).localSubset, a.localSubset));
    QVERIFY(!torch::equal(m(x, nullptr, nullptr, nullptr, 4).localSubset, a.localSubset));
    // Scores on the subset equal the full model's scores at those locations.
    cfg.localFraction = 1.0;
    DimModel full(pa, cfg);
    copyModelState(m, full);
    torch::NoGradGuard g;
    m->eval();
    full->eval();
    auto sub = m(x, nullptr, nullptr, nullptr, 3);
    auto all = full(x, nullptr, nullptr, nullptr, 3);
    auto picked = all.localScores.all.index_select(2, sub.localSubset);
    QVERIFY(torch::allclose(picked, sub.localScores.all, 1e-4, 1e-4));
  }

  void twoViewsScoreYAgainstTheOtherView() {
    // Reference: the encoder run on each view alone (eval-mode BN, so rows do not depend on the
    // batch) and a separate head holding the model's weights scoring Y of one view against the
    // other view's locations.
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.localFraction = 1.0;
    cfg.views = 2;
    DimModel m(pa, cfg);
    m->eval();
    EncodeDotLocal head(pa.info.layer(pa.info.localLayer).channels, pa.info.yDim(), 16);
    head->eval();
    torch::NoGradGuard g;
    for (const auto& p : head->named_parameters())
      p.value().copy_(m->named_parameters()["local_head." + p.key()]);
    for (const auto& b : head->named_buffers())
      b.value().copy_(m->named_buffers()["local_head." + b.key()]);
    const int n = 3;
    auto a = torch::randn({n, 1, 28, 28}), b = torch::randn({n, 1, 28, 28});
    auto out = m->forward(torch::cat({a, b}), nullptr, nullptr, nullptr, 0, 2);
    QCOMPARE(out.features.y.size(0), int64_t(2 * n));
    QCOMPARE(out.localScores.pos.sizes().vec(), (std::vector<int64_t>{2 * n, 49}));
    QCOMPARE(out.localScores.neg.sizes().vec(), (std::vector<int64_t>{2 * n, (n - 1) * 49}));
    auto fa = m->encoder(a), fb = m->encoder(b);
    auto ab = head(mapToLocations(fb.local), fa.y);  // Y of view 1, locations of view 2
    auto ba = head(mapToLocations(fa.local), fb.y);
    QVERIFY(torch::allclose(out.localScores.pos.narrow(0, 0, n), ab.pos, 1e-4, 1e-4));
    QVERIFY(torch::allclose(out.localScores.neg.narrow(0, 0, n), ab.neg, 1e-4, 1e-4));
    QVERIFY(torch::allclose(out.localScores.pos.narrow(0, n, n), ba.pos, 1e-4, 1e-4));
    QVERIFY(torch::allclose(out.localScores.neg.narrow(0, n, n), ba.neg, 1e-4, 1e-4));
    // Not the single-view pairing: Y of view 1 with its own locations scores differently.
    auto same = head(mapToLocations(fa.local), fa.y);
    QVERIFY(!torch::allclose(out.localScores.pos.narrow(0, 0, n), same.pos, 1e-3, 1e-3));
    // local_same_view: each view's Y with its own view's locations (the paper's pairing on both
    // views), negatives from the other images of the same view.
    TrainConfig sameCfg = cfg;
    sameCfg.localSameView = true;
    DimModel sm(pa, sameCfg);
    copyModelState(m, sm);
    sm->eval();
    auto within = sm->forward(torch::cat({a, b}), nullptr, nullptr, nullptr, 0, 2);
    auto bb = head(mapToLocations(fb.local), fb.y);
    QVERIFY(torch::allclose(within.localScores.pos.narrow(0, 0, n), same.pos, 1e-4, 1e-4));
    QVERIFY(torch::allclose(within.localScores.neg.narrow(0, 0, n), same.neg, 1e-4, 1e-4));
    QVERIFY(torch::allclose(within.localScores.pos.narrow(0, n, n), bb.pos, 1e-4, 1e-4));
    QVERIFY(torch::allclose(within.localScores.neg.narrow(0, n, n), bb.neg, 1e-4, 1e-4));
    // An odd row count cannot be two views.
    QVERIFY_THROWS_EXCEPTION(std::exception,
                             m->forward(torch::randn({3, 1, 28, 28}), nullptr, nullptr, nullptr, 0, 2));
  }

  void cosineScoresAreBoundedByTheScale() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 16;
    cfg.localFraction = 1.0;
    cfg.mode = Mode::LocalGlobal;
    cfg.alpha = 1;
    cfg.cosineScores = true;
    cfg.scoreScale = 5;
    DimModel m(pa, cfg);
    auto out = m(torch::randn({6, 1, 28, 28}), nullptr, nullptr, nullptr, 0);
    for (const auto& t : {out.local->pos, out.local->neg, out.global->pos, out.global->neg}) {
      QVERIFY(t.abs().max().item<double>() <= 5 + 1e-4);
      QVERIFY(t.abs().max().item<double>() > 0.01);
    }
    // Without cosine the same head's scores are dot products of LayerNorm'd codes: far larger.
    cfg.cosineScores = false;
    DimModel raw(pa, cfg);
    copyModelState(m, raw);
    auto r = raw(torch::randn({6, 1, 28, 28}), nullptr, nullptr, nullptr, 0);
    QVERIFY(r.local->pos.abs().max().item<double>() > 5);
  }

  void yDotScoresTheTwoViewsGlobalVectors() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 32;
    cfg.mode = Mode::Global;
    cfg.alpha = 1;
    cfg.beta = 0;
    cfg.views = 2;
    cfg.globalHead = HeadKind::YDot;
    cfg.yDotTemperature = 0.1;
    cfg.estimator = Estimator::Nce;
    DimModel m(pa, cfg);
    const int n = 4;
    // Identical views: every image's two global vectors are equal, so its positive is cos 1
    // over the temperature, the largest score there is.
    auto a = torch::randn({n, 1, 28, 28});
    auto same = m->forward(torch::cat({a, a}), nullptr, nullptr, nullptr, 0, 2);
    QVERIFY(!same.local);
    QCOMPARE(same.global->pos.sizes().vec(), (std::vector<int64_t>{2 * n, 1}));
    QCOMPARE(same.global->neg.sizes().vec(), (std::vector<int64_t>{2 * n, n - 1}));
    QVERIFY(torch::allclose(same.global->pos, torch::full_like(same.global->pos, 10.0), 1e-3, 1e-3));
    {  // score_scale (the encode-and-dot heads' inverse temperature) leaves y-dot's scores alone
      TrainConfig scaled = cfg;
      scaled.scoreScale = 7;
      DimModel ms(pa, scaled);
      auto s2 = ms->forward(torch::cat({a, a}), nullptr, nullptr, nullptr, 0, 2);
      QVERIFY(torch::allclose(s2.global->pos, torch::full_like(s2.global->pos, 10.0), 1e-3, 1e-3));
    }
    QVERIFY((same.global->neg < 10 - 1e-3).all().item<bool>());
    // Different views: the scores are those of the projected Y's (eval mode, so rows do not
    // depend on the batch): anchor i of view 1 against image j of view 2 is the cosine of
    // g(Y_i) and g(Y'_j) over the temperature 0.1, recomputed here from the encoder's outputs.
    m->eval();
    torch::NoGradGuard g;
    auto b = torch::randn({n, 1, 28, 28});
    auto out = m->forward(torch::cat({a, b}), nullptr, nullptr, nullptr, 0, 2);
    auto ya = m->encoder(a).y, yb = m->encoder(b).y;
    YDotGlobal head(pa.info.yDim(), 32, 0.1);
    head->eval();
    for (const auto& p : head->named_parameters())
      p.value().copy_(m->named_parameters()["global_head." + p.key()]);
    for (const auto& bu : head->named_buffers())
      bu.value().copy_(m->named_buffers()["global_head." + bu.key()]);
    auto ab = head(ya, yb);
    QVERIFY(torch::allclose(out.global->pos.narrow(0, 0, n), ab.pos, 1e-4, 1e-4));
    QVERIFY(torch::allclose(out.global->neg.narrow(0, 0, n), ab.neg, 1e-4, 1e-4));
    QVERIFY((ab.all.abs() <= 10 + 1e-4).all().item<bool>());
    // Symmetric: view 2's anchors see the transpose.
    auto ba = head(yb, ya);
    QVERIFY(torch::allclose(ab.all.squeeze(2).t(), ba.all.squeeze(2), 1e-5, 1e-5));
    QVERIFY(torch::allclose(out.global->pos.narrow(0, n, n), ba.pos, 1e-4, 1e-4));
  }

  void yDotDirectScoresTheCosineOfTheGlobalVectors() {
    auto pa = parseArchitecture(presetJson("dcgan28"), 1, 28, 28, "t");
    TrainConfig cfg;
    cfg.headUnits = 32;
    cfg.mode = Mode::LocalGlobal;
    cfg.alpha = 1;
    cfg.views = 2;
    cfg.localSameView = true;
    cfg.globalHead = HeadKind::YDot;
    cfg.yDotProjection = false;
    cfg.yDotTemperature = 0.25;
    cfg.estimator = Estimator::Nce;
    DimModel m(pa, cfg);
    // No projection: the head has no parameters of its own.
    for (const auto& p : m->named_parameters()) QVERIFY(p.key().rfind("global_head.", 0) != 0);
    m->eval();
    torch::NoGradGuard g;
    const int n = 5;
    auto a = torch::randn({n, 1, 28, 28}), b = torch::randn({n, 1, 28, 28});
    auto out = m->forward(torch::cat({a, b}), nullptr, nullptr, nullptr, 0, 2);
    auto ya = torch::nn::functional::normalize(m->encoder(a).y,
                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
    auto yb = torch::nn::functional::normalize(m->encoder(b).y,
                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
    auto cos = torch::mm(ya, yb.t()) / 0.25;  // anchor i of view 1 against image j of view 2
    QVERIFY(torch::allclose(out.global->pos.narrow(0, 0, n).squeeze(1), cos.diagonal(), 1e-4, 1e-4));
    QVERIFY(torch::allclose(out.global->pos.narrow(0, n, n).squeeze(1), cos.diagonal(), 1e-4, 1e-4));
    // Anchor 0's negatives are images 1..n-1 of the other view, in order.
    QVERIFY(torch::allclose(out.global->neg[0], cos[0].narrow(0, 1, n - 1), 1e-4, 1e-4));
    // One view (the pair inspector's batch): the local term only, the same as view 1's half.
    auto one = m->forward(a, nullptr, nullptr, nullptr, 0);
    QVERIFY(one.local && !one.global);
    QVERIFY(torch::allclose(one.localScores.pos, out.localScores.pos.narrow(0, 0, n), 1e-4, 1e-4));
  }

  void loaderTwoViewsAreTheSameImagesAugmentedApart() {
    auto set = std::make_shared<ImageSet>();
    set->channels = 1;
    set->height = set->width = 8;
    set->count = 16;
    set->pixels.resize(16 * 64);
    for (std::size_t i = 0; i < set->pixels.size(); ++i) set->pixels[i] = static_cast<std::uint8_t>((i * 37) % 251);
    set->labels.resize(16);
    for (int i = 0; i < 16; ++i) set->labels[i] = i % 10;
    LoaderOptions one;
    one.cropPad = 2;
    one.hflip = true;
    one.seed = 7;
    LoaderOptions two = one;
    two.views = 2;
    BatchLoader l1(set, 4, one), l2(set, 4, two);
    for (std::int64_t step : {0, 3, 5}) {
      Batch b1 = l1.make(step), b2 = l2.make(step);
      QCOMPARE(b2.images.size(0), int64_t(8));
      QVERIFY(torch::equal(b2.labels, b1.labels));
      // The first view is exactly the single-view batch (same augmentation stream).
      QVERIFY(torch::equal(b2.images.narrow(0, 0, 4), b1.images));
      // The second view is drawn with its own shifts/flips: not a copy of the first.
      QVERIFY(!torch::equal(b2.images.narrow(0, 4, 4), b1.images));
    }
    // Random crops: a uniform image stays uniform (samples never leave it), a varied one changes,
    // and the crop stream is a function of (seed, step).
    LoaderOptions crops = one;
    crops.cropPad = 0;
    crops.hflip = false;
    crops.cropScale = 0.4;
    auto flat = std::make_shared<ImageSet>(*set);
    std::fill(flat->pixels.begin(), flat->pixels.end(), std::uint8_t(200));
    BatchLoader lf(flat, 4, crops), lc(set, 4, crops), lc2(set, 4, crops);
    Batch fb = lf.make(2);
    QVERIFY(torch::allclose(fb.images, torch::full_like(fb.images, 200 * 2.0f / 255 - 1), 0, 1e-5));
    LoaderOptions none = crops;
    none.cropScale = 1;
    BatchLoader ln(set, 4, none);
    QVERIFY(!torch::equal(lc.make(2).images, ln.make(2).images));
    QVERIFY(torch::equal(lc.make(2).images, lc2.make(2).images));
    QVERIFY(lc.make(2).images.min().item<float>() >= -1.0f && lc.make(2).images.max().item<float>() <= 1.0f);
    // Unaugmented, both views are the same picture.
    LoaderOptions plain;
    plain.views = 2;
    BatchLoader l3(set, 4, plain);
    Batch b = l3.make(1);
    QVERIFY(torch::equal(b.images.narrow(0, 0, 4), b.images.narrow(0, 4, 4)));
  }

  // Intensity jitter: every view is an affine map of the plain image's values in [0, 1] (slope
  // contrast x brightness within [(1-s)^2, (1+s)^2]) where it is not clamped, the factors differ
  // between images and between an image's two views, and 0 leaves the stream untouched.
  void loaderIntensityJitterIsAnAffineMapOfEachImage() {
    auto set = std::make_shared<ImageSet>();
    set->channels = 1;
    set->height = set->width = 8;
    set->count = 16;
    set->pixels.resize(16 * 64);
    for (std::size_t i = 0; i < set->pixels.size(); ++i)
      set->pixels[i] = static_cast<std::uint8_t>(60 + (i * 37) % 120);  // 60..179: room either way
    LoaderOptions plain;
    plain.views = 2;
    plain.seed = 3;
    LoaderOptions jit = plain;
    jit.intensityJitter = 0.3;
    BatchLoader lp(set, 8, plain), lj(set, 8, jit);
    const Batch bp = lp.make(1), bj = lj.make(1);
    QVERIFY(torch::equal(bp.labels, bj.labels));
    const auto u = (bp.images.flatten(1) + 1) / 2, v = (bj.images.flatten(1) + 1) / 2;
    std::vector<double> slopes;
    for (int r = 0; r < 16; ++r) {
      const auto keep = v[r].gt(1e-4).logical_and(v[r].lt(1 - 1e-4));
      const auto x = u[r].masked_select(keep).to(torch::kDouble), y = v[r].masked_select(keep).to(torch::kDouble);
      QVERIFY2(x.numel() >= 8, "too many pixels clamped for the test");
      const auto xc = x - x.mean(), yc = y - y.mean();
      const double slope = (xc * yc).sum().item<double>() / (xc * xc).sum().item<double>();
      QVERIFY2(slope >= 0.7 * 0.7 - 1e-3 && slope <= 1.3 * 1.3 + 1e-3, qPrintable(QString::number(slope)));
      QVERIFY((yc - slope * xc).abs().max().item<double>() < 1e-4);  // exactly affine
      slopes.push_back(slope);
    }
    const auto [lo, hi] = std::minmax_element(slopes.begin(), slopes.end());
    QVERIFY2(*hi - *lo > 0.1, "every image got the same factors");
    for (int r = 0; r < 8; ++r) QVERIFY(std::abs(slopes[r] - slopes[r + 8]) > 1e-6);  // views differ
    QVERIFY(bj.images.min().item<float>() >= -1.0f && bj.images.max().item<float>() <= 1.0f);
    LoaderOptions zero = plain;
    zero.intensityJitter = 0;
    BatchLoader lz(set, 8, zero);
    QVERIFY(torch::equal(lz.make(1).images, bp.images));
  }

  // Random erasing: with probability 1 every view differs from the plain image in exactly one
  // filled rectangle of one grey (2-33% of the area before its sides are rounded to pixels) and
  // is equal outside it; the rectangles differ between views; probability 0.5 erases some views and not
  // others.
  void loaderRandomErasingFillsOneRectangle() {
    auto set = std::make_shared<ImageSet>();
    set->channels = 1;
    set->height = set->width = 16;
    set->count = 32;
    set->pixels.resize(32 * 256);
    for (std::size_t i = 0; i < set->pixels.size(); ++i)
      set->pixels[i] = static_cast<std::uint8_t>((i * 53) % 251);
    LoaderOptions plain;
    plain.views = 2;
    plain.seed = 5;
    LoaderOptions all = plain, half = plain;
    all.erasing = 1;
    half.erasing = 0.5;
    const Batch bp = BatchLoader(set, 32, plain).make(0), ba = BatchLoader(set, 32, all).make(0);
    const Batch bh = BatchLoader(set, 32, half).make(0);
    std::set<std::vector<int>> boxes;
    int erasedHalf = 0;
    for (int r = 0; r < 64; ++r) {
      const auto diff = ba.images[r][0].ne(bp.images[r][0]);
      const auto where = diff.nonzero();  // (n, 2): rows and columns
      QVERIFY2(where.size(0) > 0, "a view was not erased with probability 1");
      const int y0 = where.select(1, 0).min().item<int>(), y1 = where.select(1, 0).max().item<int>();
      const int x0 = where.select(1, 1).min().item<int>(), x1 = where.select(1, 1).max().item<int>();
      const auto box = ba.images[r][0].slice(0, y0, y1 + 1).slice(1, x0, x1 + 1);
      const float v = box[0][0].item<float>();
      QVERIFY(box.eq(v).all().item<bool>());  // one grey over the whole rectangle
      QVERIFY(v >= -1 && v <= 1);
      QVERIFY2((y1 - y0 + 1) * (x1 - x0 + 1) <= 1.25 * 0.33 * 256, "rectangle far larger than 33%");
      boxes.insert({y0, y1, x0, x1});
      if (!bh.images[r].equal(bp.images[r])) ++erasedHalf;
    }
    QVERIFY2(boxes.size() > 32, "the rectangles repeat");
    QVERIFY2(erasedHalf > 16 && erasedHalf < 48, qPrintable(QString::number(erasedHalf)));
    QVERIFY(torch::equal(ba.labels, bp.labels));
  }

  // Random rotation: a bright square off the centre of a black image moves on a circle about the
  // centre (its distance to the centre is kept), by an angle within [-d, d] that differs between
  // views; without rotation the image is the square itself.
  void loaderRotationTurnsAboutTheCentre() {
    auto set = std::make_shared<ImageSet>();
    set->channels = 1;
    set->height = set->width = 28;
    set->count = 16;
    set->pixels.assign(16 * 28 * 28, 0);
    for (int i = 0; i < 16; ++i)
      for (int y = 5; y < 9; ++y)  // a 4 x 4 square centred at (7, 14): 7 px above the centre
        for (int x = 12; x < 16; ++x) set->pixels[static_cast<std::size_t>(i) * 784 + y * 28 + x] = 255;
    LoaderOptions plain;
    plain.views = 2;
    plain.seed = 9;
    LoaderOptions rot = plain;
    rot.rotationDegrees = 40;
    const Batch b = BatchLoader(set, 16, rot).make(2);
    const auto ys = torch::arange(28, torch::kFloat).view({28, 1}) + 0.5f - 14;
    const auto xs = torch::arange(28, torch::kFloat).view({1, 28}) + 0.5f - 14;
    std::vector<double> angles;
    for (int r = 0; r < 32; ++r) {
      const auto w = (b.images[r][0] + 1) / 2;  // black 0, the square ~1
      const double mass = w.sum().item<double>();
      QVERIFY2(std::abs(mass - 16) < 1, qPrintable(QString::number(mass)));  // area kept
      const double cy = (w * ys).sum().item<double>() / mass, cx = (w * xs).sum().item<double>() / mass;
      QVERIFY2(std::abs(std::hypot(cy, cx) - 7) < 0.25, qPrintable(QString::number(std::hypot(cy, cx))));
      const double deg = std::atan2(cx, -cy) * 180 / M_PI;  // 0 = straight up
      QVERIFY2(std::abs(deg) <= 40.5, qPrintable(QString::number(deg)));
      angles.push_back(deg);
    }
    const auto [lo, hi] = std::minmax_element(angles.begin(), angles.end());
    QVERIFY2(*hi - *lo > 20, "the angles barely vary");
    for (int r = 0; r < 16; ++r) QVERIFY(std::abs(angles[r] - angles[r + 16]) > 1e-3);
    auto expected = torch::full_like(b.images, -1);
    expected.slice(2, 5, 9).slice(3, 12, 16).fill_(1);
    QVERIFY(torch::allclose(BatchLoader(set, 16, plain).make(2).images, expected, 0, 1e-6));
  }
};

QTEST_GUILESS_MAIN(TestModel)
#include "test_model.moc"
