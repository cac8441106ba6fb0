import GradusRuntime
import GradusTensor
import GradusData
import GradusNN
import GradusOptim

/// Large-batch training with and without Ghost Batch Normalization (Hoffer, Hubara, Soudry, "Train longer,
/// generalize better", NeurIPS 2017; spec optimizers §7) on Fashion-MNIST.
///
/// An MLP 784 → 256 → BN → ReLU → 256 → BN → ReLU → 10 trained with SGD (momentum 0.9) for the same number of
/// epochs in three ways:
/// - small batch (128) with BatchNorm, learning rate η;
/// - large batch (4096) with BatchNorm, learning rate η·√(4096/128) (the paper's square-root scaling);
/// - large batch (4096) with Ghost BatchNorm over ghost batches of 128, same scaled learning rate.
/// The paper's third ingredient, "regime adaptation" (as many updates as the small-batch run), would take 32×
/// the epochs and is left out, so the large-batch runs here make 32× fewer updates.
public enum OptimGhostBN: Reproduction {
    public static let name = "ghost-bn"
    public static let summary = "Large-batch training with and without Ghost BatchNorm on Fashion-MNIST (vs small-batch)"

    static let smallBatch = 128, largeBatch = 4096, ghostBatch = 128, hidden = 256, baseLearningRate = 0.05

    struct Config { let label: String; let batch: Int; let ghost: Bool; let lr: Double }

    static func makeModel(ghost: Int?, seed: UInt64) throws(GradusError) -> SequentialModel {
        func norm() throws(GradusError) -> Module {
            if let ghost { return try GhostBatchNorm(hidden, ghostBatchSize: ghost) }
            return try BatchNorm1d(hidden)
        }
        return SequentialModel([try Linear(784, hidden, seed: seed), try norm(), ReLU(),
                                try Linear(hidden, hidden, seed: seed &+ 7), try norm(), ReLU(),
                                try Linear(hidden, 10, seed: seed &+ 13)])
    }

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = OptimReproSupport
        let start = MonotonicTime.now()
        let trainCount = options.scaled(60_000, minimum: 1024), testCount = options.scaled(10_000, minimum: 1000)
        let train = try FashionMNIST.load(.train, directory: options.fashionMNISTDirectory, flatten: true, limit: trainCount)
        let test = try FashionMNIST.load(.test, directory: options.fashionMNISTDirectory, flatten: true, limit: testCount)
        // Keep the large batch a real multiple of the ghost batch even on tiny scaled runs.
        let large = Swift.min(largeBatch, Swift.max(2 * ghostBatch, train.count / 4))
        let small = Swift.min(smallBatch, large / 2)
        let epochs = Swift.max(1, Int((4 * options.scale).rounded(.up)))
        let scaledLR = baseLearningRate * (Double(large) / Double(small)).squareRoot()
        let configs = [
            Config(label: "small batch \(small), BN", batch: small, ghost: false, lr: baseLearningRate),
            Config(label: "large batch \(large), BN", batch: large, ghost: false, lr: scaledLR),
            Config(label: "large batch \(large), Ghost BN \(ghostBatch)", batch: large, ghost: true, lr: scaledLR),
        ]
        log("ghost-bn: \(train.count) train / \(test.count) test images, \(epochs) epochs per run")
        var rows: [[String]] = []
        var results: [(trainAcc: Double, testAcc: Double, testLoss: Double, trainLoss: Double, steps: Int, seconds: Double, curve: [Double])] = []
        for c in configs {
            let t0 = MonotonicTime.now()
            let model = try makeModel(ghost: c.ghost ? ghostBatch : nil, seed: S.seed(options.seed, 11))
            let opt = try OptimizerCatalog.make("sgd", parameters: model.parameters, lr: c.lr, hyperparameters: ["momentum": 0.9])
            let trainer = try ClassificationTrainer(model: model, optimizer: opt, batchSize: c.batch, seed: S.seed(options.seed, 12))
            var curve: [Double] = []
            for e in 0..<epochs {
                try trainer.trainEpoch(train, epoch: e)
                let t = try trainer.evaluate(test)
                curve.append(t.accuracy)
                log("  \(c.label) epoch \(e + 1): train loss \(S.format(trainer.epochs.last!.trainLoss, "%.4f")) test acc \(S.percent(t.accuracy))")
            }
            let tr = try trainer.evaluate(train), te = try trainer.evaluate(test)
            let seconds = S.elapsed(since: t0)
            results.append((tr.accuracy, te.accuracy, te.loss, tr.loss, trainer.lossHistory.count, seconds, curve))
            rows.append([c.label, S.format(c.lr, "%.3g"), "\(trainer.lossHistory.count)", S.format(tr.loss, "%.4f"), S.percent(tr.accuracy),
                         S.format(te.loss, "%.4f"), S.percent(te.accuracy), S.format(100 * (tr.accuracy - te.accuracy), "%.1f"),
                         S.format(seconds, "%.1f")])
        }
        var report = ReproReport(name: name)
        report.tables.append(ReproTable(title: "Fashion-MNIST MLP, SGD momentum 0.9, \(epochs) epochs (eval-mode metrics)",
                                        header: ["run", "lr", "updates", "train loss", "train acc", "test loss", "test acc", "train-test gap (pts)", "seconds"],
                                        rows: rows))
        var curve = ReproTable(title: "Test accuracy after each epoch", header: ["epoch"] + configs.map(\.label))
        for e in 0..<epochs { curve.rows.append(["\(e + 1)"] + results.map { S.percent($0.curve[e]) }) }
        report.tables.append(curve)
        let sb = results[0].testAcc, lb = results[1].testAcc, gbn = results[2].testAcc
        let closed = sb > lb ? (gbn - lb) / (sb - lb) : .nan
        report.claims = [
            (claim: "Large-batch training generalises worse than small-batch training for the same epochs (generalization gap)", holds: lb < sb),
            (claim: "Ghost BatchNorm improves large-batch test accuracy over plain BatchNorm at the same batch size and learning rate", holds: gbn > lb),
        ]
        var runs: [String: JSON] = [:]
        for (c, r) in zip(configs, results) {
            runs[c.label] = .object(["batch": .number(Double(c.batch)), "ghost_bn": .bool(c.ghost), "lr": S.json(c.lr),
                                     "updates": .number(Double(r.steps)), "train_loss": S.json(r.trainLoss), "train_accuracy": S.json(r.trainAcc),
                                     "test_loss": S.json(r.testLoss), "test_accuracy": S.json(r.testAcc),
                                     "test_accuracy_per_epoch": S.json(r.curve), "seconds": S.json(r.seconds)])
        }
        report.metrics = [
            "settings": .object(["train_size": .number(Double(train.count)), "test_size": .number(Double(test.count)),
                                 "epochs": .number(Double(epochs)), "small_batch": .number(Double(small)),
                                 "large_batch": .number(Double(large)), "ghost_batch": .number(Double(ghostBatch)),
                                 "base_lr": .number(baseLearningRate), "momentum": .number(0.9),
                                 "model": .string("MLP 784-256-BN-ReLU-256-BN-ReLU-10")]),
            "runs": .object(runs),
            "gap_closed_fraction": S.json(closed),
            "seconds": S.json(S.elapsed(since: start)),
        ]
        return report
    }
}
