import GradusRuntime

/// One minibatch cut from a `Dataset`, before conversion to tensors.
public struct Minibatch: Sendable, Equatable {
    /// Positions of the samples in the dataset, in batch order.
    public let indices: [Int]
    /// `indices.count * sampleSize` floats, row-major.
    public let features: [Float]
    /// `[indices.count] + sampleShape`.
    public let shape: [Int]
    /// One label per sample.
    public let labels: [Int32]
}

/// The minibatches of one epoch, in a seeded order. Iterating twice gives the same batches.
///
/// The order is a Fisher–Yates shuffle drawn from `PhiloxStream(seed: seed, stream: epoch)`, so epoch
/// `e` of run `seed` is reproducible on its own (resume from a checkpoint without replaying epochs).
public struct MinibatchSequence: Sequence, Sendable {
    public let dataset: Dataset
    public let batchSize: Int
    /// Sample order of this epoch.
    public let order: [Int]
    /// Drop a final batch smaller than `batchSize`.
    public let dropsLast: Bool

    /// Number of batches this sequence yields.
    public var batchCount: Int { dropsLast ? order.count / batchSize : (order.count + batchSize - 1) / batchSize }

    public struct Iterator: IteratorProtocol, Sendable {
        let sequence: MinibatchSequence
        var position = 0

        public mutating func next() -> Minibatch? {
            let n = sequence.order.count
            let size = Swift.min(sequence.batchSize, n - position)
            guard size > 0, !(sequence.dropsLast && size < sequence.batchSize) else { return nil }
            let picked = Array(sequence.order[position..<position + size])
            position += size
            return sequence.gather(picked)
        }
    }

    public func makeIterator() -> Iterator { Iterator(sequence: self) }

    /// Copies the samples at `picked` into one contiguous batch.
    func gather(_ picked: [Int]) -> Minibatch {
        let s = dataset.sampleSize
        var f = [Float](repeating: 0, count: picked.count * s)
        var l = [Int32](repeating: 0, count: picked.count)
        dataset.features.withUnsafeBufferPointer { src in
            f.withUnsafeMutableBufferPointer { dst in
                for (k, i) in picked.enumerated() {
                    // dst[k, :] = src[i, :]
                    UnsafeMutableRawPointer(dst.baseAddress! + k * s)
                        .copyMemory(from: src.baseAddress! + i * s, byteCount: s * MemoryLayout<Float>.size)
                }
            }
        }
        for (k, i) in picked.enumerated() { l[k] = dataset.labels[i] }
        return Minibatch(indices: picked, features: f, shape: [picked.count] + dataset.sampleShape, labels: l)
    }
}

extension Dataset {
    /// The minibatches of one epoch.
    ///
    /// - Parameters:
    ///   - size: samples per batch (> 0).
    ///   - shuffle: draw a seeded random order (default `true`); otherwise keep dataset order.
    ///   - seed: the run's seed.
    ///   - epoch: selects an independent order per epoch (default 0).
    ///   - dropLast: drop a final short batch (default `false`).
    public func minibatches(size: Int, shuffle: Bool = true, seed: UInt64 = 0, epoch: Int = 0,
                            dropLast: Bool = false) throws(GradusError) -> MinibatchSequence {
        guard size > 0 else { throw .invalidArgument("batch size must be positive, got \(size)") }
        guard epoch >= 0 else { throw .invalidArgument("epoch must be non-negative") }
        var order = Array(0..<count)
        if shuffle {
            var rng = PhiloxStream(seed: seed, stream: UInt64(epoch))
            order = Shuffle.permutation(count, using: &rng)
        }
        return MinibatchSequence(dataset: self, batchSize: size, order: order, dropsLast: dropLast)
    }
}
