import GradusRuntime
import GradusTensor
import GradusData
import GradusNN

/// Anything that can take a step from the gradients stored on parameters.
public protocol ParameterOptimizer: AnyObject {
    /// Updates the parameters from their `grad`.
    func step() throws(GradusError)
    /// Clears the parameters' gradients.
    func zeroGrad()
}

/// What the trainer reports after each step and epoch.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var step: Int
    public var stepsPerEpoch: Int
    public var loss: Double
    public var batchAccuracy: Double
    /// Mean loss over the epoch so far.
    public var epochLoss: Double
    public var samplesPerSecond: Double
}

/// Per-epoch metrics of a run.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var seconds: Double
}

/// A plain supervised classification loop: shuffle, forward, cross-entropy, backward, step; then
/// evaluation on a held-out set. Deterministic for a given seed.
public final class ClassificationTrainer {
    public let model: Module
    public let optimizer: ParameterOptimizer
    public var batchSize: Int
    public var seed: UInt64
    /// Extra loss terms added to the cross-entropy (z-loss, penalties…), given the logits.
    public var regularizer: ((Tensor) throws(GradusError) -> Tensor)?
    /// Loss per step, in order (for plots).
    public private(set) var lossHistory: [Double] = []
    public private(set) var epochs: [EpochRecord] = []
    /// Called when an epoch starts, before its batches (schedules hook here).
    public var onEpochStart: ((Int) -> Void)?

    public init(model: Module, optimizer: ParameterOptimizer, batchSize: Int, seed: UInt64) throws(GradusError) {
        guard batchSize > 0 else { throw .invalidArgument("batch size must be positive") }
        self.model = model
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Makes the input tensor for a minibatch.
    static func tensor(_ batch: Minibatch, dtype: DType) -> Tensor {
        let t = Tensor(shape: batch.shape, scalars: batch.features)
        return dtype == .float32 ? t : t.to(dtype)
    }

    /// Trains for one epoch; `progress` is called after every step.
    @discardableResult
    public func trainEpoch(_ data: Dataset, epoch: Int, dtype: DType = .float32,
                           progress: ((TrainingProgress) -> Void)? = nil) throws(GradusError) -> EpochRecord {
        onEpochStart?(epoch)
        model.train()
        let batches = try data.minibatches(size: batchSize, shuffle: true, seed: seed, epoch: epoch)
        let start = MonotonicTime.now()
        var seen = 0, correct = 0
        var lossSum = 0.0
        var step = 0
        for batch in batches {
            let x = Self.tensor(batch, dtype: dtype)
            let labels = batch.labels.map { Int($0) }
            optimizer.zeroGrad()
            let logits = try model(x)
            var loss = try Loss.crossEntropy(logits, labels: labels)
            if let regularizer { loss = try loss + regularizer(logits) }
            try loss.backward()
            try optimizer.step()
            let l = try loss.item()
            let pred = try logits.argmax(axis: -1)
            let ok = zip(pred, labels).filter { $0 == $1 }.count
            correct += ok
            seen += labels.count
            lossSum += l * Double(labels.count)
            lossHistory.append(l)
            step += 1
            if let progress {
                let dt = MonotonicTime.now() - start
                progress(TrainingProgress(epoch: epoch, step: step, stepsPerEpoch: batches.batchCount, loss: l,
                                          batchAccuracy: Double(ok) / Double(labels.count), epochLoss: lossSum / Double(seen),
                                          samplesPerSecond: Double(seen) / Swift.max(dt, 1e-9)))
            }
        }
        let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(Swift.max(seen, 1)),
                                 trainAccuracy: Double(correct) / Double(Swift.max(seen, 1)),
                                 testLoss: nil, testAccuracy: nil, seconds: MonotonicTime.now() - start)
        epochs.append(record)
        return record
    }

    /// Loss and accuracy on `data` in evaluation mode, without recording gradients.
    public func evaluate(_ data: Dataset, dtype: DType = .float32, batchSize: Int = 1000) throws(GradusError) -> (loss: Double, accuracy: Double) {
        model.eval()
        defer { model.train() }
        return try GradMode.withoutGrad { () throws(GradusError) in
            var lossSum = 0.0, correct = 0, seen = 0
            for batch in try data.minibatches(size: batchSize, shuffle: false) {
                let x = Self.tensor(batch, dtype: dtype)
                let labels = batch.labels.map { Int($0) }
                let logits = try model(x)
                lossSum += try Loss.crossEntropy(logits, labels: labels, reduction: .sum).item()
                correct += zip(try logits.argmax(axis: -1), labels).filter { $0 == $1 }.count
                seen += labels.count
            }
            return (lossSum / Double(Swift.max(seen, 1)), Double(correct) / Double(Swift.max(seen, 1)))
        }
    }

    /// Attaches test metrics to the last epoch record.
    public func recordTest(loss: Double, accuracy: Double) {
        guard !epochs.isEmpty else { return }
        epochs[epochs.count - 1].testLoss = loss
        epochs[epochs.count - 1].testAccuracy = accuracy
    }
}
