import GradusRuntime
import GradusTensor

/// A minibatch as tensors: inputs `x` of shape `[B] + sampleShape` and the labels.
public struct TensorBatch: @unchecked Sendable {
    /// Inputs, contiguous, of the requested dtype.
    public let x: Tensor
    /// Labels, one per sample.
    public let y: [Int32]
    /// The same labels as `Int` (what `Losses.crossEntropy(_:labels:)` takes).
    public var labels: [Int] { y.map { Int($0) } }
    /// Positions of the samples in the dataset.
    public let indices: [Int]
    /// Labels as a float tensor of shape `[B]` (for regression-style losses).
    public func yTensor(dtype: DType = .float32) -> Tensor {
        Tensor(shape: [y.count], scalars: y.map { Double($0) }, dtype: dtype)
    }
}

/// The tensor minibatches of one epoch (see `Dataset.batches(size:shuffle:seed:epoch:dropLast:dtype:)`).
public struct TensorBatchSequence: Sequence, Sendable {
    public let batches: MinibatchSequence
    public let dtype: DType

    public struct Iterator: IteratorProtocol {
        var inner: MinibatchSequence.Iterator
        let dtype: DType
        public mutating func next() -> TensorBatch? {
            guard let b = inner.next() else { return nil }
            let x: Tensor
            switch dtype {
            case .float32: x = Tensor(shape: b.shape, scalars: b.features)
            case .float64: x = Tensor(shape: b.shape, scalars: b.features.map { Double($0) })
            }
            return TensorBatch(x: x, y: b.labels, indices: b.indices)
        }
    }

    public func makeIterator() -> Iterator { Iterator(inner: batches.makeIterator(), dtype: dtype) }

    /// Number of batches this sequence yields.
    public var batchCount: Int { batches.batchCount }
}

extension Dataset {
    /// The minibatches of one epoch as tensors, in a seeded order.
    ///
    /// ```swift
    /// for batch in try data.batches(size: 64, seed: 7, epoch: e) {
    ///     let loss = try Losses.crossEntropy(model(batch.x), labels: batch.labels)
    /// }
    /// ```
    /// - Parameters:
    ///   - size: samples per batch (> 0).
    ///   - shuffle: seeded random order (default `true`); the order depends only on `(seed, epoch)`.
    ///   - seed: the run's seed (default 0).
    ///   - epoch: selects the epoch's order (default 0).
    ///   - dropLast: drop a final short batch (default `false`).
    ///   - dtype: dtype of `x` (default float32).
    public func batches(size: Int, shuffle: Bool = true, seed: UInt64 = 0, epoch: Int = 0, dropLast: Bool = false,
                        dtype: DType = .float32) throws(GradusError) -> TensorBatchSequence {
        TensorBatchSequence(batches: try minibatches(size: size, shuffle: shuffle, seed: seed, epoch: epoch, dropLast: dropLast),
                            dtype: dtype)
    }

    /// All samples as one tensor of shape `[count] + sampleShape` (for evaluation).
    public func inputs(dtype: DType = .float32) -> Tensor {
        switch dtype {
        case .float32: return Tensor(shape: [count] + sampleShape, scalars: features)
        case .float64: return Tensor(shape: [count] + sampleShape, scalars: features.map { Double($0) })
        }
    }
}
