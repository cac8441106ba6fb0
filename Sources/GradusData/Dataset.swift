import GradusRuntime

/// An in-memory labelled dataset: `count` samples of shape `sampleShape` stored as `Float`, plus one
/// integer label per sample.
///
/// Readers and generators build it; `batches(...)` cuts it into minibatches. Token datasets (modular
/// arithmetic) store token ids as exact floats; `tokenIDs` gives them back as integers.
public struct Dataset: Sendable, Equatable {
    /// Sample values, row-major: `count * sampleSize` floats.
    public let features: [Float]
    /// Shape of one sample (`[784]`, `[28, 28]`, `[2]`, `[4]` tokens, ...).
    public let sampleShape: [Int]
    /// One label per sample, in `0..<classCount`.
    public let labels: [Int32]
    /// Number of classes (labels lie in `0..<classCount`).
    public let classCount: Int
    /// For token datasets, the vocabulary size (token ids lie in `0..<vocabularySize`); else nil.
    public let vocabularySize: Int?

    /// Number of samples.
    public var count: Int { labels.count }
    /// Floats per sample (product of `sampleShape`).
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    /// Creates a dataset, validating sizes and labels.
    ///
    /// - Parameters:
    ///   - classCount: defaults to `max(labels) + 1`.
    ///   - vocabularySize: set for datasets whose features are token ids.
    /// - Throws: `.shapeMismatch` when `features.count != labels.count * sampleSize`; `.invalidArgument` for
    ///   negative labels or labels `>= classCount`.
    public init(features: [Float], sampleShape: [Int], labels: [Int32], classCount: Int? = nil,
                vocabularySize: Int? = nil) throws(GradusError) {
        let size = try RawArray.checkedCount(sampleShape)
        let (expected, o) = size.multipliedReportingOverflow(by: labels.count)
        guard !o, expected == features.count else {
            throw .shapeMismatch("\(features.count) feature values do not hold \(labels.count) samples of shape \(sampleShape)")
        }
        let maxLabel = Int(labels.max() ?? -1)
        guard labels.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument("labels must be non-negative") }
        let classes = classCount ?? (maxLabel + 1)
        guard classes >= 0, maxLabel < classes else {
            throw .invalidArgument("label \(maxLabel) out of range for \(classes) classes")
        }
        self.features = features
        self.sampleShape = sampleShape
        self.labels = labels
        self.classCount = classes
        self.vocabularySize = vocabularySize
    }

    /// Builds a dataset from a feature array (first axis = samples) and a label array (any integer type).
    ///
    /// Typical: `Dataset(inputs: try IDX.read(images), labels: try IDX.read(labels), scale: 1/255)`.
    /// - Parameter scale: multiplies every feature (e.g. `1/255` for 8-bit pixels).
    public init(inputs: RawArray, labels: RawArray, scale: Float = 1, classCount: Int? = nil) throws(GradusError) {
        guard let n = inputs.shape.first else { throw .shapeMismatch("inputs need a sample axis, got a scalar") }
        guard labels.count == n else {
            throw .shapeMismatch("\(n) inputs but \(labels.count) labels")
        }
        var f = inputs.floats()
        if scale != 1 { f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= scale } } }
        try self.init(features: f, sampleShape: Array(inputs.shape.dropFirst()), labels: try labels.int32s(),
                      classCount: classCount)
    }

    /// Builds a dataset from CSV columns: the label column (integers) and the remaining (or listed) columns
    /// as features.
    public init(csv: CSVTable, labelColumn: String, featureColumns: [String]? = nil) throws(GradusError) {
        let li = try csv.columnIndex(labelColumn)
        var fi: [Int] = []
        for name in featureColumns ?? csv.columnNames.filter({ $0 != labelColumn }) { fi.append(try csv.columnIndex(name)) }
        var f: [Float] = []
        f.reserveCapacity(csv.rowCount * fi.count)
        var l: [Int32] = []
        for r in 0..<csv.rowCount {
            let v = csv.values[r * csv.columnCount + li]
            guard let label = Int32(exactly: v) else { throw .format("CSV row \(r + 2): label \(v) is not an integer") }
            l.append(label)
            for c in fi { f.append(Float(csv.values[r * csv.columnCount + c])) }
        }
        try self.init(features: f, sampleShape: [fi.count], labels: l)
    }

    /// The samples at `indices` (in that order).
    public func subset(_ indices: [Int]) throws(GradusError) -> Dataset {
        let s = sampleSize
        var f = [Float](repeating: 0, count: indices.count * s)
        var l = [Int32](repeating: 0, count: indices.count)
        for (k, i) in indices.enumerated() {
            guard i >= 0, i < count else { throw .invalidArgument("index \(i) out of range 0..<\(count)") }
            l[k] = labels[i]
            for j in 0..<s { f[k * s + j] = features[i * s + j] }
        }
        return try Dataset(features: f, sampleShape: sampleShape, labels: l, classCount: classCount,
                           vocabularySize: vocabularySize)
    }

    /// A seeded random split: the first `round(trainFraction * count)` samples of a shuffle go to `train`.
    public func split(trainFraction: Double, seed: UInt64) throws(GradusError) -> (train: Dataset, test: Dataset) {
        guard trainFraction >= 0, trainFraction <= 1 else { throw .invalidArgument("trainFraction must be in [0, 1]") }
        return try split(trainCount: Int((trainFraction * Double(count)).rounded()), seed: seed)
    }

    /// A seeded random split: the first `trainCount` samples of a shuffle go to `train`, the rest to `test`
    /// (the same shuffle as `split(trainFraction:seed:)` for the same seed).
    public func split(trainCount: Int, seed: UInt64) throws(GradusError) -> (train: Dataset, test: Dataset) {
        guard trainCount >= 0, trainCount <= count else {
            throw .invalidArgument("trainCount must be in 0...\(count), got \(trainCount)")
        }
        var rng = PhiloxStream(seed: seed, stream: 0x5B17)
        let order = Shuffle.permutation(count, using: &rng)
        return (try subset(Array(order[..<trainCount])), try subset(Array(order[trainCount...])))
    }

    /// Token ids of a token dataset, `count * sampleSize` integers.
    public var tokenIDs: [Int32] { features.map { Int32($0) } }
}

/// Seeded shuffles over `PhiloxStream`.
public enum Shuffle {
    /// A uniformly random permutation of `0..<n` (Fisher–Yates), determined by the stream's state.
    public static func permutation(_ n: Int, using rng: inout PhiloxStream) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            p.swapAt(i, rng.nextInt(below: i + 1))
        }
        return p
    }
}
