import Glibc
import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusOptim

/// Grokking without regularisation (Prieto et al., "Grokking at the Edge of Numerical Stability", 2025;
/// spec optimizers §5): modular addition mod 113 (40% of the equations for training) with the official
/// one-hidden-layer MLP (200 units) on one-hot operands, float32, full batch, no weight decay.
///
/// Runs (same data, same initial weights):
/// 1. softmax cross-entropy + AdamW (weight decay 0) — the paper's baseline: it memorises, the logits keep
///    growing along the naive-loss-minimisation direction and float32 softmax rounds the label's probability
///    to exactly 1 for more and more samples (Softmax Collapse, SC): their gradient vanishes before the model
///    generalises.
/// 2. StableMax cross-entropy + AdamW (weight decay 0) — the paper's fix on the loss side.
/// 3. softmax cross-entropy + ⊥AdamW (weight decay 0) — the fix on the optimizer side (⊥Grad removes the
///    gradient component along the weights).
/// 4. softmax cross-entropy + AdamW with weight decay — the classic regularised grokking reference.
///
/// Optimizer settings follow the official runs (spec §5.2): AdamW with β = (0.9, 0.99), ε = 1e-25; ⊥AdamW with
/// torch's defaults β = (0.9, 0.999), ε = 1e-8. The SC fraction is the share of training samples whose float32
/// loss (the run's own loss) is exactly 0.
public enum OptimGrokking: Reproduction {
    public static let name = "grokking"
    public static let summary = "Modular addition (p = 113): softmax vs StableMax CE and AdamW vs ⊥AdamW without weight decay; test accuracy and Softmax Collapse"

    static let modulus = 113, hidden = 200, trainFraction = 0.4, learningRate = 1e-2, referenceWeightDecay = 1.0

    struct Run {
        let label: String
        let stableMax: Bool
        let optimizer: String
        let hyperparameters: [String: Double]
    }

    static let runs: [Run] = [
        Run(label: "softmax + AdamW", stableMax: false, optimizer: "adamw",
            hyperparameters: ["weight_decay": 0, "beta1": 0.9, "beta2": 0.99, "eps": 1e-25]),
        Run(label: "StableMax + AdamW", stableMax: true, optimizer: "adamw",
            hyperparameters: ["weight_decay": 0, "beta1": 0.9, "beta2": 0.99, "eps": 1e-25]),
        Run(label: "softmax + ⊥AdamW", stableMax: false, optimizer: "perp-adamw",
            hyperparameters: ["weight_decay": 0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8]),
        Run(label: "softmax + AdamW wd=\(referenceWeightDecay)", stableMax: false, optimizer: "adamw",
            hyperparameters: ["weight_decay": referenceWeightDecay, "beta1": 0.9, "beta2": 0.99, "eps": 1e-25]),
    ]

    struct Point { var step: Int; var trainLoss: Double; var trainAccuracy: Double; var testAccuracy: Double; var zeroLossFraction: Double }

    /// The operand rows of the one-hot input `[a | b]`: indices `a` and `p + b` per equation, and the labels.
    static func operands(_ data: Dataset, p: Int) -> (indices: [Int], labels: [Int]) {
        var indices: [Int] = []
        indices.reserveCapacity(2 * data.count)
        for i in 0..<data.count { indices += [Int(data.features[i * 4]), p + Int(data.features[i * 4 + 2])] }
        return (indices, data.labels.map { Int($0) })
    }

    /// The paper's MLP on one-hot operands, `Linear(2p, h) → ReLU → Linear(h, p)`. The first layer's product
    /// with a one-hot vector is the sum of two rows of its weight, so it is computed as a row lookup (the
    /// same function and gradients as the dense product, without multiplying by zeros).
    final class OneHotMLP: Module, @unchecked Sendable {
        let inputWeight: Tensor, inputBias: Tensor
        let output: Linear

        init(p: Int, hidden: Int, seed: UInt64) throws(GradusError) {
            // PyTorch's nn.Linear(2p, h) initialisation, stored transposed: row k is input feature k.
            inputWeight = Init.kaimingUniform([2 * p, hidden], fanIn: 2 * p, seed: seed, dtype: .float32).requiringGrad()
            inputBias = Init.biasUniform([hidden], fanIn: 2 * p, seed: seed &+ 1, dtype: .float32).requiringGrad()
            output = try Linear(hidden, p, seed: seed &+ 2)
        }

        override var localParameters: [(String, Tensor)] { [("input.weight", inputWeight), ("input.bias", inputBias)] }
        override var children: [(String, Module)] { [("output", output)] }

        /// Logits (N, p) for operand rows `indices` (2 per equation).
        func logits(_ indices: [Int]) throws(GradusError) -> Tensor {
            let n = indices.count / 2
            let h = try inputWeight.indexSelect(axis: 0, indices: indices).reshaped([n, 2, -1]).sum(axes: [1]) + inputBias
            return try output(h.relu())
        }
    }

    /// Share of rows whose float32 loss is exactly 0, and the accuracy, from float32 logits (N, C).
    static func collapse(_ logits: Tensor, labels: [Int], stableMax: Bool) -> (zero: Double, accuracy: Double) {
        let c = logits.shape[1]
        let z = OptimReproSupport.floats(logits)
        var zero = 0, correct = 0
        for (i, y) in labels.enumerated() {
            let row = z[(i * c)..<((i + 1) * c)]
            var m = -Float.infinity, arg = 0
            for (j, v) in row.enumerated() where v > m { m = v; arg = j }
            if arg == y { correct += 1 }
            let loss: Float
            if stableMax {
                func s(_ x: Float) -> Float { x >= 0 ? x + 1 : 1 / (1 - x) }
                var total: Float = 0
                for v in row { total += s(v) }
                loss = -(logf(s(row[row.startIndex + y])) - logf(total))
            } else {
                var total: Float = 0
                for v in row { total += expf(v - m) }
                loss = -(row[row.startIndex + y] - m - logf(total))
            }
            if loss == 0 { zero += 1 }
        }
        return (Double(zero) / Double(labels.count), Double(correct) / Double(labels.count))
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = OptimReproSupport
        let start = MonotonicTime.now()
        let p = modulus
        let steps = options.scaled(1000, minimum: 10)
        let data = try Synthetic.modularArithmetic(modulus: p, operation: .add, trainFraction: trainFraction,
                                                   seed: S.seed(options.seed, 1))
        let train = operands(data.train, p: p), test = operands(data.test, p: p)
        log("grokking: p = \(p), \(data.train.count) train / \(data.test.count) test equations, \(steps) full-batch steps per run")
        let marks = Set(S.checkpoints(total: steps, count: 20))
        let modelSeed = S.seed(options.seed, 2)

        var histories: [[Point]] = []
        var runSeconds: [Double] = []
        for run in runs {
            let t0 = MonotonicTime.now()
            let model = try OneHotMLP(p: p, hidden: hidden, seed: modelSeed)
            let opt = try OptimizerCatalog.make(run.optimizer, parameters: model.parameters, lr: learningRate,
                                                hyperparameters: run.hyperparameters)
            var history: [Point] = []
            for step in 1...steps {
                opt.zeroGrad()
                let logits = try model.logits(train.indices)
                let loss = run.stableMax
                    ? try Loss.stableMaxCrossEntropy(logits, labels: train.labels, dtype: .float64)
                    : try Loss.crossEntropy(logits, labels: train.labels)
                try loss.backward()
                try opt.step()
                if marks.contains(step) {
                    let (zero, trainAcc) = collapse(logits.detached(), labels: train.labels, stableMax: run.stableMax)
                    let testLogits = try GradMode.withoutGrad { () throws(GradusError) in try model.logits(test.indices) }
                    let testAcc = try Loss.accuracy(testLogits, labels: test.labels)
                    let point = Point(step: step, trainLoss: try loss.item(), trainAccuracy: trainAcc, testAccuracy: testAcc, zeroLossFraction: zero)
                    history.append(point)
                    log("  \(run.label) step \(step): loss \(S.format(point.trainLoss, "%.3e")) train \(S.percent(trainAcc)) test \(S.percent(testAcc)) zero-loss \(S.percent(zero))")
                }
            }
            histories.append(history)
            runSeconds.append(S.elapsed(since: t0))
        }

        var report = ReproReport(name: name)
        var curve = ReproTable(title: "Test accuracy over steps (full batch, lr \(learningRate), no weight decay unless stated)",
                               header: ["step"] + runs.map(\.label))
        var sc = ReproTable(title: "Softmax Collapse: share of training samples with float32 loss exactly 0",
                            header: ["step"] + runs.map(\.label))
        for (i, point) in histories[0].enumerated() {
            curve.rows.append(["\(point.step)"] + histories.map { S.percent($0[i].testAccuracy) })
            sc.rows.append(["\(point.step)"] + histories.map { S.percent($0[i].zeroLossFraction) })
        }
        var final = ReproTable(title: "Final", header: ["run", "train loss", "train acc", "test acc", "zero-loss share", "best test acc", "steps to 90% test", "seconds"])
        var runJSON: [String: JSON] = [:]
        for (k, run) in runs.enumerated() {
            let h = histories[k], last = h[h.count - 1]
            let best = h.map(\.testAccuracy).max() ?? 0
            let reach = h.first { $0.testAccuracy >= 0.9 }?.step
            final.rows.append([run.label, S.format(last.trainLoss, "%.3e"), S.percent(last.trainAccuracy), S.percent(last.testAccuracy),
                               S.percent(last.zeroLossFraction), S.percent(best), reach.map { "\($0)" } ?? "not reached",
                               S.format(runSeconds[k], "%.1f")])
            runJSON[run.label] = .object([
                "loss": .string(run.stableMax ? "stablemax_cross_entropy" : "softmax_cross_entropy"),
                "optimizer": .string(run.optimizer),
                "hyperparameters": .object(run.hyperparameters.mapValues { S.json($0) }),
                "steps": S.json(h.map { Double($0.step) }),
                "train_loss": S.json(h.map(\.trainLoss)),
                "train_accuracy": S.json(h.map(\.trainAccuracy)),
                "test_accuracy": S.json(h.map(\.testAccuracy)),
                "zero_loss_fraction": S.json(h.map(\.zeroLossFraction)),
                "final_test_accuracy": S.json(last.testAccuracy),
                "steps_to_90pct_test": reach.map { .number(Double($0)) } ?? .null,
                "seconds": S.json(runSeconds[k]),
            ])
        }
        report.tables = [curve, sc, final]
        let base = histories[0].last!, stable = histories[1].last!, perp = histories[2].last!
        let baseMaxSC = histories[0].map(\.zeroLossFraction).max() ?? 0
        report.claims = [
            (claim: "Softmax CE without weight decay memorises (train acc ≥ 99%) but does not generalise (test acc < 50%)",
             holds: base.trainAccuracy >= 0.99 && base.testAccuracy < 0.5),
            (claim: "Softmax Collapse appears without weight decay (some training samples reach float32 loss exactly 0)",
             holds: baseMaxSC > 0),
            (claim: "StableMax CE generalises without weight decay (test acc ≥ 90%) where softmax CE does not",
             holds: stable.testAccuracy >= 0.9 && base.testAccuracy < 0.9),
            (claim: "⊥AdamW generalises without weight decay (test acc ≥ 90%) where AdamW does not",
             holds: perp.testAccuracy >= 0.9 && base.testAccuracy < 0.9),
        ]
        report.metrics = [
            "settings": .object(["modulus": .number(Double(p)), "train_fraction": .number(trainFraction),
                                 "train_size": .number(Double(data.train.count)), "test_size": .number(Double(data.test.count)),
                                 "hidden": .number(Double(hidden)), "steps": .number(Double(steps)), "lr": .number(learningRate),
                                 "model": .string("MLP one-hot(a)|one-hot(b) (226) -> 200 -> ReLU -> 113, float32, full batch")]),
            "runs": .object(runJSON),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        return report
    }
}
