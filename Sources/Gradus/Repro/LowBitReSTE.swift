import Glibc
import GradusData
import GradusNN
import GradusOptim
import GradusQuant
import GradusRuntime
import GradusTensor

/// ReSTE vs the clipped STE for a binary network (Wu et al., "Estimator Meets Equilibrium Perspective: A
/// Rectified Straight Through Estimator for Binary Neural Networks Training", ICCV 2023; spec `lowbit.md` §5, §7).
///
/// Model: 784 → 256 (float) → BN → [BinaryLinear 256→256 → BN] ×2 → 10 (float), the binary layers with
/// `sign(W)·mean|W|` weights and `sign(x)` inputs (first and last layers in full precision, as in the paper's
/// code). STE is the clipped STE (`|z| ≤ 1`, the code's `Binary`); ReSTE uses the code's fixed t = 1.5 (for
/// weights and activations) and `o` annealed per epoch `o(e) = 1 + (o_end − 1)(1 − cos(π/2 · e/E))`,
/// e = 0…E−1, to o_end = 3. Training follows the official `main.py`: SGD, momentum 0.9, weight decay 1e-4,
/// lr 0.1 with per-epoch cosine annealing to 0 (`CosineAnnealingLR(T_max = E)`), batch 256, same seeds for
/// both estimators; 30 epochs (spec §7's toy length, so that `o` gets close to o_end) on a 10 240-sample
/// Fashion-MNIST subset. Reported: mean ± std test accuracy over 3 seeds, and per epoch the two
/// indicators of the paper summed over the binary layers: the estimating error `Σ‖f_{o_end}(w) − sign(w)‖₂`
/// and the gradient stability `Σ var(|∂L/∂w|)` (last step of the epoch, as the code logs them).
public enum LowBitReSTE: Reproduction {
    public static let name = "reste"
    public static let summary = "binary MLP on Fashion-MNIST: clipped STE vs ReSTE (o annealed to 3, official SGD recipe), 3 seeds, indicators"

    static let hidden = 256, oEnd = 3.0, t = 1.5, seeds = 3, batchSize = 256
    static let learningRate = 0.1, momentum = 0.9, weightDecay = 1e-4

    static func model(seed: UInt64, estimator: QuantEstimator) throws(GradusError) -> SequentialModel {
        SequentialModel([
            try Linear(784, hidden, seed: seed &+ 1), try BatchNorm1d(hidden),
            try BinaryLinear(hidden, hidden, estimator: estimator, seed: seed &+ 2), try BatchNorm1d(hidden),
            try BinaryLinear(hidden, hidden, estimator: estimator, seed: seed &+ 3), try BatchNorm1d(hidden),
            try Linear(hidden, 10, seed: seed &+ 4),
        ])
    }

    /// (estimating error, gradient stability) summed over the binary layers.
    static func indicators(_ m: Module) -> (Double, Double) {
        var e = 0.0, s = 0.0
        for (_, q) in m.quantizedLayers {
            guard let l = q.wrapped as? Linear else { continue }
            let w = l.weight.scalars(as: Double.self)
            e += w.withUnsafeBufferPointer { ReSTE.estimatingError(weights: $0.baseAddress!, count: $0.count, oEnd: oEnd) }
            if let g = l.weight.grad?.scalars(as: Double.self) {
                s += g.withUnsafeBufferPointer { ReSTE.gradientStability(grads: $0.baseAddress!, count: $0.count) }
            }
        }
        return (e, s)
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        let started = MonotonicTime.now()
        let data = try LowBitRepro.data(options, train: 10_240)
        let epochs = options.scale >= 0.5 ? 30 : 2
        let stepsPerEpoch = (data.0.count + batchSize - 1) / batchSize
        // CosineAnnealingLR(T_max = E) stepped once per epoch: lr_e = 0.1·(1 + cos(π e/E))/2, constant within an epoch
        let perStep = (0..<epochs).flatMap { e in
            [Double](repeating: (1 + cos(Double.pi * Double(e) / Double(epochs))) / 2, count: stepsPerEpoch)
        }
        log("reste: \(data.0.count) train / \(data.1.count) test samples, \(epochs) epoch(s), \(seeds) seeds")
        var acc: [String: [Double]] = ["STE": [], "ReSTE": []]
        var ind: [String: [[(Double, Double)]]] = ["STE": [], "ReSTE": []]
        var oPerEpoch: [Double] = []
        var runs: [LowBitRepro.Run] = []
        for k in 0..<seeds {
            let seed = options.seed &* 7919 &+ UInt64(k) &* 104_729 &+ 5
            for method in ["STE", "ReSTE"] {
                let start: QuantEstimator = method == "STE" ? .clippedSTE(clip: 1) : .reste(o: 1, t: t)
                let m = try model(seed: seed, estimator: start)
                let chain = GradientChain<Float>.sgd(learningRate: .piecewise(peak: learningRate, multipliers: perStep),
                                                     momentum: momentum, weightDecay: weightDecay)
                let opt = try Optimizer(m.parameters, chain: chain)
                var perEpoch: [(Double, Double)] = []
                var os: [Double] = []
                let r = try LowBitRepro.train("\(method) seed \(k)", model: m, optimizer: opt, data: data, epochs: epochs, seed: seed, batchSize: batchSize,
                                              beforeEpoch: { e in
                                                  guard method == "ReSTE" else { return }
                                                  let o = (try? ReSTE.schedule(oEnd: oEnd, epoch: e, epochs: epochs)) ?? 1
                                                  os.append(o)
                                                  m.setQuantEstimator(.reste(o: o, t: t))
                                              },
                                              afterEpoch: { _ in perEpoch.append(indicators(m)) }, log: log)
                if method == "ReSTE" && k == 0 { oPerEpoch = os }
                acc[method]!.append(r.testAccuracy)
                ind[method]!.append(perEpoch)
                runs.append(r)
            }
        }
        let meanSTE = LowBitRepro.mean(acc["STE"]!), meanReSTE = LowBitRepro.mean(acc["ReSTE"]!)
        var table = ReproTable(title: "Binary MLP test accuracy over \(seeds) seeds (\(epochs) epochs on \(data.0.count) samples, SGD lr 0.1 cosine, momentum 0.9, wd 1e-4, batch \(batchSize))",
                               header: ["estimator", "mean acc", "std", "per seed"])
        for method in ["STE", "ReSTE"] {
            let a = acc[method]!
            table.rows.append([method == "STE" ? "clipped STE (|z| ≤ 1)" : "ReSTE (t 1.5, o → 3)", LowBitRepro.percent(LowBitRepro.mean(a)),
                               LowBitRepro.percent(LowBitRepro.std(a)), a.map { LowBitRepro.percent($0) }.joined(separator: " ")])
        }
        var indTable = ReproTable(title: "Indicators per epoch (mean over seeds; e = Σ‖f_3(w) − sign(w)‖, s = Σ var|g|)",
                                  header: ["epoch", "ReSTE o", "STE e", "ReSTE e", "STE s", "ReSTE s"])
        func meanAt(_ method: String, _ e: Int, _ pick: ((Double, Double)) -> Double) -> Double {
            LowBitRepro.mean(ind[method]!.compactMap { e < $0.count ? pick($0[e]) : nil })
        }
        for e in 0..<epochs {
            indTable.rows.append(["\(e + 1)", e < oPerEpoch.count ? LowBitRepro.fmt(oPerEpoch[e], 3) : "—",
                                  LowBitRepro.fmt(meanAt("STE", e, { $0.0 })), LowBitRepro.fmt(meanAt("ReSTE", e, { $0.0 })),
                                  LowBitRepro.fmt(meanAt("STE", e, { $0.1 })), LowBitRepro.fmt(meanAt("ReSTE", e, { $0.1 }))])
        }
        var report = ReproReport(name: name)
        report.tables += [table, indTable]
        report.claims.append(("ReSTE's mean test accuracy ≥ the clipped STE's (\(LowBitRepro.percent(meanReSTE)) vs \(LowBitRepro.percent(meanSTE)))",
                              meanReSTE >= meanSTE))
        report.metrics = [
            "seconds": .number(MonotonicTime.now() - started), "optimizer": .string("SGD lr 0.1 (per-epoch cosine), momentum 0.9, wd 1e-4, batch 256"),
            "epochs": .number(Double(epochs)), "seeds": .number(Double(seeds)), "train_samples": .number(Double(data.0.count)),
            "mean_test_accuracy_ste": LowBitRepro.json(meanSTE), "mean_test_accuracy_reste": LowBitRepro.json(meanReSTE),
            "test_accuracy_ste": .array(acc["STE"]!.map { LowBitRepro.json($0) }),
            "test_accuracy_reste": .array(acc["ReSTE"]!.map { LowBitRepro.json($0) }),
            "reste_o_per_epoch": .array(oPerEpoch.map { .number($0) }),
            "estimating_error": .object(["STE": .array((0..<epochs).map { LowBitRepro.json(meanAt("STE", $0, { $0.0 })) }),
                                         "ReSTE": .array((0..<epochs).map { LowBitRepro.json(meanAt("ReSTE", $0, { $0.0 })) })]),
            "gradient_stability": .object(["STE": .array((0..<epochs).map { LowBitRepro.json(meanAt("STE", $0, { $0.1 })) }),
                                           "ReSTE": .array((0..<epochs).map { LowBitRepro.json(meanAt("ReSTE", $0, { $0.1 })) })]),
        ]
        if let path = try LowBitRepro.writeCurves(name, runs, options: options) { report.files.append(path) }
        return report
    }
}
