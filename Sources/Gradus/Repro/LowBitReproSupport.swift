import Glibc
import GradusData
import GradusNN
import GradusOptim
import GradusRuntime
import GradusTensor

/// Shared plumbing of the low-bit reproductions: Fashion-MNIST subsets, one training run with the
/// `ClassificationTrainer`, summaries, curves written as CSV.
enum LowBitRepro {
    /// Train/test subsets at `options.scale` (train rounded down to a multiple of 128 so that every batch,
    /// including the last, has a multiple of 4 rows: group-64 activation quantizers on 784 inputs need it).
    static func data(_ options: ReproOptions, train: Int = 60_000, test: Int = 10_000) throws(GradusError) -> (Dataset, Dataset) {
        let nTrain = Swift.max(512, options.scaled(train) / 128 * 128)
        let nTest = Swift.max(500, options.scaled(test) / 100 * 100)
        let tr = try FashionMNIST.load(.train, directory: options.fashionMNISTDirectory, flatten: true, limit: Swift.min(nTrain, 60_000))
        let te = try FashionMNIST.load(.test, directory: options.fashionMNISTDirectory, flatten: true, limit: Swift.min(nTest, 10_000))
        return (tr, te)
    }

    /// What one run produced.
    struct Run {
        var label: String
        var losses: [Double] = []
        var finalLoss = Double.nan
        var testLoss = Double.nan
        var testAccuracy = Double.nan
        var seconds = 0.0
        var diverged: Bool { !finalLoss.isFinite || !testLoss.isFinite }
    }

    /// Trains `model` with `optimizer` for `epochs`; `finalLoss` is the mean training loss over the last
    /// 10% of steps. `afterEpoch(e)` runs after each epoch (indicators), `beforeEpoch(e)` before it (schedules).
    static func train(_ label: String, model: Module, optimizer: ParameterOptimizer, data: (Dataset, Dataset), epochs: Int,
                      seed: UInt64, batchSize: Int = 128, beforeEpoch: ((Int) -> Void)? = nil,
                      afterEpoch: ((Int) throws(GradusError) -> Void)? = nil, log: (String) -> Void) throws(GradusError) -> Run {
        let start = MonotonicTime.now()
        let trainer = try ClassificationTrainer(model: model, optimizer: optimizer, batchSize: batchSize, seed: seed)
        trainer.onEpochStart = beforeEpoch
        var run = Run(label: label)
        for e in 0..<epochs {
            let r = try trainer.trainEpoch(data.0, epoch: e)
            try afterEpoch?(e)
            log("  \(label) epoch \(e + 1)/\(epochs): train loss \(fmt(r.trainLoss))")
            if !r.trainLoss.isFinite { break }
        }
        run.losses = trainer.lossHistory
        let tail = Swift.max(1, run.losses.count / 10)
        run.finalLoss = mean(Array(run.losses.suffix(tail)))
        if run.finalLoss.isFinite {
            let (l, a) = try trainer.evaluate(data.1)
            run.testLoss = l; run.testAccuracy = a
        }
        run.seconds = MonotonicTime.now() - start
        return run
    }

    /// 784-h-h-10 ReLU MLP with seeded layers.
    static func mlp(hidden: Int, seed: UInt64) throws(GradusError) -> SequentialModel {
        SequentialModel([try Linear(784, hidden, seed: seed &+ 1), ReLU(), try Linear(hidden, hidden, seed: seed &+ 2), ReLU(),
                         try Linear(hidden, 10, seed: seed &+ 3)])
    }

    static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }

    static func std(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot()
    }

    /// `%.4g`-style formatting without Foundation.
    static func fmt(_ x: Double, _ digits: Int = 4) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([x]) { vsnprintf(&buf, 64, "%.\(digits)g", $0) }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func percent(_ x: Double) -> String { fmt(100 * x, 4) + "%" }

    static func json(_ x: Double) -> JSON { x.isFinite ? .number(x) : .null }

    /// A curve downsampled to at most `points` running means (for JSON).
    static func curve(_ xs: [Double], points: Int = 100) -> [Double] {
        guard xs.count > points else { return xs }
        let w = (xs.count + points - 1) / points
        return stride(from: 0, to: xs.count, by: w).map { mean(Array(xs[$0 ..< Swift.min(xs.count, $0 + w)])) }
    }

    /// Writes step-wise curves as CSV (`step,<label>...`) into the output directory; returns the path.
    static func writeCurves(_ name: String, _ runs: [Run], options: ReproOptions) throws(GradusError) -> String? {
        guard let dir = options.outputDirectory else { return nil }
        let n = runs.map(\.losses.count).max() ?? 0
        var text = "step," + runs.map { $0.label.replacingSpaces() }.joined(separator: ",") + "\n"
        for i in 0..<n {
            text += "\(i + 1)," + runs.map { i < $0.losses.count ? fmt($0.losses[i], 6) : "" }.joined(separator: ",") + "\n"
        }
        let path = (dir.isEmpty ? "." : dir) + "/\(name)-loss-curves.csv"
        try FileIO.writeAtomically(path, chunks: [Array(text.utf8)])
        return path
    }
}

extension String {
    func replacingSpaces() -> String { String(map { $0 == " " || $0 == "," ? "_" : $0 }) }
}
