import Glibc
import GradusData
import GradusNN
import GradusOptim
import GradusQuant
import GradusRuntime
import GradusTensor

/// ReSTE's `o_end` sweep against the clipped STE on a binary MLP (Wu et al., "Estimator Meets Equilibrium
/// Perspective: A Rectified Straight Through Estimator for Binary Neural Networks Training", ICCV 2023;
/// spec `lowbit.md` §5 and the ReSTE row of §7).
///
/// Model — the plain (non-residual) `vgg_small_1w1a` of the official code with Linear layers for convolutions:
/// `Linear(784→h, no bias) → ReLU → BN → [BinaryLinear(h→h, no bias) → ReLU → BN] ×2 → Linear(h→10)`.
/// Binary layers use `sign(W)·mean|W|` weights (scale not detached) and `sign(x)` inputs; the first and last
/// layers stay full precision; ReLU comes before BatchNorm as in the code's 1w1a forward. Initialisation as
/// `vgg_small`: `N(0, 2/fan_out)` for the first and binary layers, `N(0, 0.01²)` and a zero bias for the classifier.
///
/// Arms: the clipped STE (`|z| ≤ 1`, the code's `Binary`, weights and activations) and ReSTE with t = 1.5 and
/// `o(e) = 1 + (o_end − 1)(1 − cos(π/2 · e/E))`, e = 0…E−1, for `o_end ∈ {1, 1.5, 2, 3, 5, 10}` (3 is the
/// code's and README's default). Training as the official `main.py` (without the CIFAR README's 5-epoch
/// `--warm_up`): SGD lr 0.1, momentum 0.9, weight decay 1e-4 on every parameter, per-epoch cosine to 0
/// (`CosineAnnealingLR(T_max = E)`), batch 256, the same seeds (initialisation and batch order) in every arm.
/// 30 epochs on a 10 240-sample Fashion-MNIST subset with width h = 128 (7 arms × 3 seeds must fit a few
/// minutes on 2 cores: 3.8 CPU-minutes at h = 128, 8.7 at h = 256), 3 seeds; final-epoch test accuracy on the 10k test set
/// (the code logs the best epoch's; with the cosine to 0 the last is within noise of it).
///
/// Indicators (§5.2, as `utils/tools.py` logs them: after the last step of each epoch, summed over the binary
/// layers): estimating error `e = Σ‖f_{o_end}(w) − sign(w)‖₂` with the arm's `o_end` (for the clipped STE its
/// equivalent forward `clamp(w, −1, 1)`), gradient stability `s = Σ var(|∂L/∂w|)` (unbiased).
public enum LowBitReSTE: Reproduction {
    public static let name = "reste"
    public static let summary = "binary MLP on Fashion-MNIST: ReSTE o_end ∈ {1,1.5,2,3,5,10} vs clipped STE (official SGD recipe), 3 seeds, accuracy and the indicators e, s"

    static let oEnds: [Double] = [1, 1.5, 2, 3, 5, 10]
    /// The code's `--o_end` default and the README's setting.
    static let defaultOEnd = 3.0
    static let t = 1.5, seeds = 3, batchSize = 256
    static let learningRate = 0.1, momentum = 0.9, weightDecay = 1e-4

    /// One arm of the sweep: the clipped STE (`oEnd == nil`) or ReSTE annealed to `oEnd`.
    struct Arm {
        var oEnd: Double?
        var label: String { oEnd.map { "ReSTE o_end \(LowBitRepro.fmt($0))" } ?? "clipped STE" }
        var key: String { oEnd.map { "reste_o\(LowBitRepro.fmt($0))" } ?? "ste" }
    }

    static var arms: [Arm] { [Arm(oEnd: nil)] + oEnds.map { Arm(oEnd: $0) } }

    /// Overwrites a fresh float32 parameter with `N(0, std²)` draws (the official code's `normal_` init).
    static func initNormal(_ w: Tensor, std: Double, seed: UInt64) {
        precondition(w.dtype == .float32 && w.isContiguous, "fresh float32 parameters are contiguous")
        let src = Tensor.normal(w.shape, std: std, seed: seed, dtype: .float32)
        w.basePointer(as: Float.self).update(from: src.basePointer(as: Float.self), count: w.count)
    }

    static func model(hidden: Int, seed: UInt64, estimator: QuantEstimator) throws(GradusError) -> SequentialModel {
        let first = try Linear(784, hidden, bias: false, seed: seed &+ 1)
        let b1 = try BinaryLinear(hidden, hidden, bias: false, estimator: estimator, seed: seed &+ 2)
        let b2 = try BinaryLinear(hidden, hidden, bias: false, estimator: estimator, seed: seed &+ 3)
        let last = try Linear(hidden, 10, seed: seed &+ 4)
        let std = (2 / Double(hidden)).squareRoot()  // vgg_small: n = k·k·out_channels, k = 1
        initNormal(first.weight, std: std, seed: seed &+ 11)
        initNormal(b1.linear.weight, std: std, seed: seed &+ 12)
        initNormal(b2.linear.weight, std: std, seed: seed &+ 13)
        initNormal(last.weight, std: 0.01, seed: seed &+ 14)
        if let b = last.bias { b.basePointer(as: Float.self).update(repeating: 0, count: b.count) }
        return SequentialModel([
            first, ReLU(), try BatchNorm1d(hidden),
            b1, ReLU(), try BatchNorm1d(hidden),
            b2, ReLU(), try BatchNorm1d(hidden),
            last,
        ])
    }

    /// (estimating error, gradient stability) summed over the binary layers; `oEnd == nil` is the clipped STE.
    static func indicators(_ m: Module, oEnd: Double?) -> (Double, Double) {
        var e = 0.0, s = 0.0
        for (_, q) in m.quantizedLayers {
            guard let l = q.wrapped as? Linear else { continue }
            let w = l.weight.scalars(as: Double.self)
            if let oEnd {
                e += w.withUnsafeBufferPointer { ReSTE.estimatingError(weights: $0.baseAddress!, count: $0.count, oEnd: oEnd) }
            } else {
                // ‖clamp(w, −1, 1) − sign(w)‖₂: the clipped STE's equivalent forward is hardtanh
                var acc = 0.0
                for v in w {
                    let d = Swift.min(Swift.max(v, -1), 1) - (v > 0 ? 1 : (v < 0 ? -1 : 0))
                    acc += d * d
                }
                e += acc.squareRoot()
            }
            if let g = l.weight.grad?.scalars(as: Double.self) {
                s += g.withUnsafeBufferPointer { ReSTE.gradientStability(grads: $0.baseAddress!, count: $0.count) }
            }
        }
        return (e, s)
    }

    /// What the runs of one arm produced (index = seed).
    struct ArmResult {
        var accuracy: [Double] = []
        var perEpoch: [[(e: Double, s: Double)]] = []
        var oPerEpoch: [Double] = []

        func meanAt(_ epoch: Int, _ pick: ((e: Double, s: Double)) -> Double) -> Double {
            LowBitRepro.mean(perEpoch.compactMap { epoch < $0.count ? pick($0[epoch]) : nil })
        }
        /// Mean over seeds of each seed's last logged epoch.
        func final(_ pick: ((e: Double, s: Double)) -> Double) -> Double { LowBitRepro.mean(perEpoch.compactMap { $0.last.map(pick) }) }
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        let started = MonotonicTime.now()
        let full = options.scale >= 0.5
        let data = try LowBitRepro.data(options, train: 10_240)
        let epochs = full ? 30 : 1
        let hidden = full ? 128 : 32
        let stepsPerEpoch = (data.0.count + batchSize - 1) / batchSize
        // CosineAnnealingLR(T_max = E) stepped once per epoch: lr_e = 0.1·(1 + cos(π e/E))/2, constant within an epoch
        let perStep = (0..<epochs).flatMap { e in
            [Double](repeating: (1 + cos(Double.pi * Double(e) / Double(epochs))) / 2, count: stepsPerEpoch)
        }
        let arms = Self.arms
        log("reste: \(data.0.count) train / \(data.1.count) test samples, hidden \(hidden), \(epochs) epoch(s), \(seeds) seeds, \(arms.count) arms")
        var results = [ArmResult](repeating: ArmResult(), count: arms.count)
        var runs: [LowBitRepro.Run] = []
        for k in 0..<seeds {
            let seed = options.seed &* 7919 &+ UInt64(k) &* 104_729 &+ 5
            for (a, arm) in arms.enumerated() {
                let start: QuantEstimator = arm.oEnd == nil ? .clippedSTE(clip: 1) : .reste(o: 1, t: t)
                let m = try model(hidden: hidden, seed: seed, estimator: start)
                let chain = GradientChain<Float>.sgd(learningRate: .piecewise(peak: learningRate, multipliers: perStep),
                                                     momentum: momentum, weightDecay: weightDecay)
                let opt = try Optimizer(m.parameters, chain: chain)
                var perEpoch: [(e: Double, s: Double)] = []
                var os: [Double] = []
                let r = try LowBitRepro.train("\(arm.label) seed \(k)", model: m, optimizer: opt, data: data, epochs: epochs,
                                              seed: seed, batchSize: batchSize,
                                              beforeEpoch: { e in
                                                  guard let oEnd = arm.oEnd else { return }
                                                  let o = (try? ReSTE.schedule(oEnd: oEnd, epoch: e, epochs: epochs)) ?? 1
                                                  os.append(o)
                                                  m.setQuantEstimator(.reste(o: o, t: t))
                                              },
                                              afterEpoch: { _ in perEpoch.append(indicators(m, oEnd: arm.oEnd)) }, log: log)
                log("  \(arm.label) seed \(k): test accuracy \(LowBitRepro.percent(r.testAccuracy))")
                if k == 0 { results[a].oPerEpoch = os }
                results[a].accuracy.append(r.testAccuracy)
                results[a].perEpoch.append(perEpoch)
                runs.append(r)
            }
        }
        var report = ReproReport(name: name)
        report.tables = sweepTables(arms, results, epochs: epochs, hidden: hidden, trainCount: data.0.count)
        report.claims = claims(arms, results)
        report.metrics = metrics(arms, results, epochs: epochs, hidden: hidden, trainCount: data.0.count,
                                 seconds: MonotonicTime.now() - started)
        if let path = try LowBitRepro.writeCurves(name, runs, options: options) { report.files.append(path) }
        return report
    }

    static func index(of oEnd: Double?) -> Int { arms.firstIndex { $0.oEnd == oEnd }! }

    static func sweepTables(_ arms: [Arm], _ res: [ArmResult], epochs: Int, hidden: Int, trainCount: Int) -> [ReproTable] {
        var table = ReproTable(title: "Binary MLP 784-\(hidden)-\(hidden)-\(hidden)-10 (1W/1A hidden layers), test accuracy over \(seeds) seeds; \(epochs) epochs on \(trainCount) Fashion-MNIST samples, SGD lr 0.1 cosine, momentum 0.9, wd 1e-4, batch \(batchSize); e, s at the last epoch (mean over seeds)",
                               header: ["estimator", "o at last epoch", "mean acc", "std", "per seed", "e = Σ‖f_o_end(w) − sign(w)‖", "s = Σ var|g|"])
        for (a, arm) in arms.enumerated() {
            let r = res[a]
            table.rows.append([arm.label + (arm.oEnd == defaultOEnd ? " (code default)" : ""),
                               r.oPerEpoch.last.map { LowBitRepro.fmt($0, 3) } ?? "—",
                               LowBitRepro.percent(LowBitRepro.mean(r.accuracy)), LowBitRepro.percent(LowBitRepro.std(r.accuracy)),
                               r.accuracy.map { LowBitRepro.percent($0) }.joined(separator: " "),
                               LowBitRepro.fmt(r.final { $0.e }), LowBitRepro.fmt(r.final { $0.s })])
        }
        let ste = res[index(of: nil)], def = res[index(of: defaultOEnd)]
        var perEpoch = ReproTable(title: "Indicators per epoch, clipped STE vs ReSTE o_end 3 (mean over seeds)",
                                  header: ["epoch", "ReSTE o", "STE e", "ReSTE e", "STE s", "ReSTE s"])
        for e in 0..<epochs {
            perEpoch.rows.append(["\(e + 1)", e < def.oPerEpoch.count ? LowBitRepro.fmt(def.oPerEpoch[e], 3) : "—",
                                  LowBitRepro.fmt(ste.meanAt(e) { $0.e }), LowBitRepro.fmt(def.meanAt(e) { $0.e }),
                                  LowBitRepro.fmt(ste.meanAt(e) { $0.s }), LowBitRepro.fmt(def.meanAt(e) { $0.s })])
        }
        return [table, perEpoch]
    }

    /// Paired (same seed) accuracy differences `b − a`.
    static func pairedDifferences(_ a: ArmResult, _ b: ArmResult) -> [Double] { zip(b.accuracy, a.accuracy).map { $0 - $1 } }

    static func claims(_ arms: [Arm], _ res: [ArmResult]) -> [(claim: String, holds: Bool)] {
        let ste = res[index(of: nil)], def = res[index(of: defaultOEnd)]
        let sweep = oEnds.map { res[index(of: $0)] }
        let accs = sweep.map { LowBitRepro.mean($0.accuracy) }
        let es = sweep.map { $0.final { $0.e } }, ss = sweep.map { $0.final { $0.s } }
        let best = accs.indices.max { accs[$0] < accs[$1] }!
        let steAcc = LowBitRepro.mean(ste.accuracy), defAcc = LowBitRepro.mean(def.accuracy)
        let d = pairedDifferences(ste, def)
        func list(_ xs: [Double]) -> String { xs.map { LowBitRepro.fmt($0) }.joined(separator: ", ") }
        func meanStd(_ r: ArmResult) -> String { LowBitRepro.percent(LowBitRepro.mean(r.accuracy)) + " ± " + LowBitRepro.percent(LowBitRepro.std(r.accuracy)) }
        return [
            ("ReSTE (o_end 3, the code's default) mean test accuracy ≥ the clipped STE's: \(LowBitRepro.percent(defAcc)) vs \(LowBitRepro.percent(steAcc)) (paired difference \(LowBitRepro.percent(LowBitRepro.mean(d))) ± \(LowBitRepro.percent(LowBitRepro.std(d))) over seeds)",
             defAcc >= steAcc),
            ("estimating error e falls monotonically in o_end ∈ {\(list(oEnds))}: \(list(es))",
             zip(es, es.dropFirst()).allSatisfy { $0 > $1 }),
            ("gradient stability s rises monotonically in o_end: \(list(ss))", zip(ss, ss.dropFirst()).allSatisfy { $0 < $1 }),
            ("accuracy peaks at an intermediate o_end: best o_end \(LowBitRepro.fmt(oEnds[best])) at \(meanStd(sweep[best])) vs o_end 1 at \(meanStd(sweep[0])) and o_end 10 at \(meanStd(sweep[oEnds.count - 1]))",
             best != 0 && best != oEnds.count - 1),
            ("the best o_end's accuracy is above the clipped STE's (\(LowBitRepro.percent(accs[best])) vs \(LowBitRepro.percent(steAcc)))",
             accs[best] > steAcc),
        ]
    }

    static func metrics(_ arms: [Arm], _ res: [ArmResult], epochs: Int, hidden: Int, trainCount: Int, seconds: Double) -> [String: JSON] {
        let ste = res[index(of: nil)], def = res[index(of: defaultOEnd)]
        func series(_ r: ArmResult, _ pick: @escaping ((e: Double, s: Double)) -> Double) -> JSON {
            .array((0..<epochs).map { LowBitRepro.json(r.meanAt($0, pick)) })
        }
        let sweep: [JSON] = arms.enumerated().map { a, arm in
            let r = res[a]
            return .object([
                "estimator": .string(arm.label), "o_end": arm.oEnd.map { .number($0) } ?? .null,
                "test_accuracy": .array(r.accuracy.map { LowBitRepro.json($0) }),
                "mean_test_accuracy": LowBitRepro.json(LowBitRepro.mean(r.accuracy)),
                "std_test_accuracy": LowBitRepro.json(LowBitRepro.std(r.accuracy)),
                "estimating_error": LowBitRepro.json(r.final { $0.e }), "gradient_stability": LowBitRepro.json(r.final { $0.s }),
                "estimating_error_per_epoch": series(r) { $0.e }, "gradient_stability_per_epoch": series(r) { $0.s },
                "o_per_epoch": .array(r.oPerEpoch.map { .number($0) }),
            ])
        }
        return [
            "seconds": .number(seconds),
            "optimizer": .string("SGD lr 0.1 (per-epoch cosine), momentum 0.9, wd 1e-4, batch \(batchSize)"),
            "model": .string("784-\(hidden)(fp, no bias)-ReLU-BN-[binary \(hidden)-ReLU-BN]x2-10(fp)"),
            "epochs": .number(Double(epochs)), "seeds": .number(Double(seeds)), "train_samples": .number(Double(trainCount)),
            "default_o_end": .number(defaultOEnd), "t": .number(t),
            "sweep": .array(sweep),
            // the default arm against the baseline, under the keys of the two-arm version
            "mean_test_accuracy_ste": LowBitRepro.json(LowBitRepro.mean(ste.accuracy)),
            "mean_test_accuracy_reste": LowBitRepro.json(LowBitRepro.mean(def.accuracy)),
            "test_accuracy_ste": .array(ste.accuracy.map { LowBitRepro.json($0) }),
            "test_accuracy_reste": .array(def.accuracy.map { LowBitRepro.json($0) }),
            "reste_o_per_epoch": .array(def.oPerEpoch.map { .number($0) }),
            "estimating_error": .object(["STE": series(ste) { $0.e }, "ReSTE": series(def) { $0.e }]),
            "gradient_stability": .object(["STE": series(ste) { $0.s }, "ReSTE": series(def) { $0.s }]),
        ]
    }
}
