import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusOptim

/// Cosine vs linear decay vs the refined schedule (Defazio, Cutkosky, Mehta, Mishchenko, "When, Why and How
/// Much? Adaptive Learning Rate Scheduling by Refinement"; spec optimizers §6) on a small task: an MLP
/// 784 → 128 → ReLU → 10 on Fashion-MNIST with Adam, batch 128.
///
/// Per seed: a cosine run and a linear-decay run (which logs the ℓ1 norm of every step's gradient), then a
/// run with `Schedule.refined(gradientNorms:power: 1, tau: 0.1)` computed from that linear run (ℓ1 norms and
/// p = 1 for Adam, as the paper prescribes). Every run has the same peak learning rate, steps, data order and
/// initial weights; the score is the held-out loss at the end.
public enum OptimLRRefinement: Reproduction {
    public static let name = "lr-refinement"
    public static let summary = "Cosine vs linear decay vs the refined schedule (from gradient norms) on a small Fashion-MNIST MLP"

    static let hidden = 128, batch = 128, peak = 2e-3

    struct Result { var trainLoss: Double; var testLoss: Double; var testAccuracy: Double; var norms: [Double] }

    static func train(_ schedule: Schedule, steps: Int, train: Dataset, test: Dataset, seed: UInt64) throws(GradusError) -> Result {
        let model = SequentialModel([try Linear(784, hidden, seed: OptimReproSupport.seed(seed, 1)), ReLU(),
                                     try Linear(hidden, 10, seed: OptimReproSupport.seed(seed, 2))])
        let opt = try Optimizer(model.parameters, chain: GradientChain<Float>.adam(learningRate: try schedule.validated()))
        var norms: [Double] = []
        norms.reserveCapacity(steps)
        var epoch = 0
        outer: while true {
            for b in try train.batches(size: batch, shuffle: true, seed: seed, epoch: epoch, dropLast: true) {
                opt.zeroGrad()
                let loss = try Loss.crossEntropy(model(b.x), labels: b.labels)
                try loss.backward()
                norms.append(OptimReproSupport.gradientNorm(model.parameters, power: 1))
                try opt.step()
                if norms.count == steps { break outer }
            }
            epoch += 1
        }
        func evaluate(_ d: Dataset) throws(GradusError) -> (loss: Double, accuracy: Double) {
            try GradMode.withoutGrad { () throws(GradusError) -> (loss: Double, accuracy: Double) in
                var lossSum = 0.0, correct = 0.0
                for b in try d.batches(size: 5000, shuffle: false) {
                    let logits = try model(b.x)
                    lossSum += try Loss.crossEntropy(logits, labels: b.labels, reduction: .sum).item()
                    correct += try Loss.accuracy(logits, labels: b.labels) * Double(b.labels.count)
                }
                return (lossSum / Double(d.count), correct / Double(d.count))
            }
        }
        let tr = try evaluate(train), te = try evaluate(test)
        return Result(trainLoss: tr.loss, testLoss: te.loss, testAccuracy: te.accuracy, norms: norms)
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = OptimReproSupport
        let start = MonotonicTime.now()
        let trainSet = try FashionMNIST.load(.train, directory: options.fashionMNISTDirectory, flatten: true,
                                             limit: options.scaled(60_000, minimum: 2048))
        let testSet = try FashionMNIST.load(.test, directory: options.fashionMNISTDirectory, flatten: true,
                                            limit: options.scaled(10_000, minimum: 1000))
        let steps = options.scaled(1500, minimum: 20)
        let seeds = options.scale >= 0.5 ? 3 : 1
        log("lr-refinement: \(trainSet.count) train / \(testSet.count) test images, \(steps) Adam steps, peak lr \(peak), \(seeds) seed(s)")

        var results: [String: [Result]] = ["cosine": [], "linear": [], "refined": []]
        var refinedShapes: [[Double]] = []
        for k in 0..<seeds {
            let seed = S.seed(options.seed, UInt64(100 + k))
            let cosine = try train(.cosine(peak: peak, total: steps, minimum: 0), steps: steps, train: trainSet, test: testSet, seed: seed)
            let linear = try train(.linear(peak: peak, total: steps), steps: steps, train: trainSet, test: testSet, seed: seed)
            let refinement = try Schedule.refined(gradientNorms: linear.norms, power: 1, tau: 0.1)
            refinedShapes.append(refinement.schedule)
            let refined = try train(.piecewise(peak: peak, multipliers: refinement.schedule), steps: steps, train: trainSet, test: testSet, seed: seed)
            results["cosine"]!.append(cosine)
            results["linear"]!.append(linear)
            results["refined"]!.append(refined)
            log("  seed \(k): test loss cosine \(S.format(cosine.testLoss, "%.4f")), linear \(S.format(linear.testLoss, "%.4f")), refined \(S.format(refined.testLoss, "%.4f"))")
        }

        let names = ["cosine", "linear", "refined"]
        var report = ReproReport(name: name)
        var table = ReproTable(title: "Fashion-MNIST MLP, Adam, peak lr \(peak), \(steps) steps, batch \(batch) (mean over \(seeds) seed(s))",
                               header: ["schedule", "train loss", "test loss", "test acc", "test loss per seed"])
        var means: [String: Double] = [:]
        var runsJSON: [String: JSON] = [:]
        for n in names {
            let r = results[n]!
            let testLoss = S.mean(r.map(\.testLoss))
            means[n] = testLoss
            table.rows.append([n, S.format(S.mean(r.map(\.trainLoss)), "%.4f"), S.format(testLoss, "%.4f"),
                               S.percent(S.mean(r.map(\.testAccuracy))), r.map { S.format($0.testLoss, "%.4f") }.joined(separator: " ")])
            runsJSON[n] = .object(["train_loss": S.json(r.map(\.trainLoss)), "test_loss": S.json(r.map(\.testLoss)),
                                   "test_accuracy": S.json(r.map(\.testAccuracy)), "mean_test_loss": S.json(testLoss)])
        }
        report.tables.append(table)
        // The refined schedule's shape (first seed) beside the two fixed shapes, at a few fractions of training.
        let shape = refinedShapes[0]
        var shapeTable = ReproTable(title: "Learning-rate multiplier over training (refined: seed 0)", header: ["t/T", "cosine", "linear", "refined"])
        for f in [0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99] {
            let t = Swift.min(steps - 1, Int(f * Double(steps)))
            shapeTable.rows.append([S.format(f, "%.2f"),
                                    S.format(Schedule.cosine(peak: 1, total: steps, minimum: 0).value(at: t), "%.3f"),
                                    S.format(Schedule.linear(peak: 1, total: steps).value(at: t), "%.3f"),
                                    S.format(shape[t], "%.3f")])
        }
        report.tables.append(shapeTable)
        let peakIndex = shape.firstIndex(of: shape.max() ?? 1) ?? 0
        let tenth = Swift.max(1, steps / 10)
        report.claims = [
            (claim: "Linear decay is at least as good as cosine annealing (mean final test loss)", holds: means["linear"]! <= means["cosine"]!),
            (claim: "The refined schedule matches or beats linear decay (mean final test loss)", holds: means["refined"]! <= means["linear"]!),
            (claim: "The refined schedule has a warm-up (starts below half its peak) and anneals to 0 at the end",
             holds: shape[0] < 0.5 && peakIndex > 0 && (shape.last ?? 1) == 0 && shape[steps - tenth] < shape[peakIndex]),
        ]
        report.metrics = [
            "settings": .object(["train_size": .number(Double(trainSet.count)), "test_size": .number(Double(testSet.count)),
                                 "steps": .number(Double(steps)), "peak_lr": .number(peak), "batch": .number(Double(batch)),
                                 "seeds": .number(Double(seeds)), "optimizer": .string("adam"), "refinement_power": .number(1),
                                 "refinement_tau": .number(0.1), "model": .string("MLP 784-128-ReLU-10")]),
            "runs": .object(runsJSON),
            "refined_schedule_seed0": S.json(stride(from: 0, to: steps, by: Swift.max(1, steps / 100)).map { shape[$0] }),
            "refined_peak_fraction": S.json(Double(peakIndex) / Double(steps)),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        return report
    }
}
