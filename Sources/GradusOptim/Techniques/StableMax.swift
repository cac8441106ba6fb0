#if canImport(Glibc)
import Glibc
#endif
import GradusRuntime

/// StableMax and its cross-entropy as array math (Prieto et al., spec §5.1), for golden checks and as the
/// reference the NN layer's composite is tested against. Logits are row-major `(rows, classes)`.
public enum StableMax {
    /// `s(x) = x + 1` for x ≥ 0, `1/(1 − x)` for x < 0, evaluated branch-safely.
    @inlinable public static func s(_ x: Double) -> Double { x >= 0 ? Swift.max(x, 0) + 1 : 1 / (1 - Swift.min(x, 0)) }
    /// `log s(x)`: `log1p(x)` or `−log1p(−x)`.
    @inlinable public static func logS(_ x: Double) -> Double { x >= 0 ? log1p(Swift.max(x, 0)) : -log1p(-Swift.min(x, 0)) }

    /// Forward and backward of the mean StableMax cross-entropy.
    public struct Result: Sendable {
        public var s: [Double]
        public var probabilities: [Double]
        public var logProbabilities: [Double]
        public var lossPerRow: [Double]
        public var lossMean: Double
        /// ∂(mean loss)/∂logits.
        public var gradient: [Double]
    }

    /// Evaluates StableMax cross-entropy on `logits` (rows × classes) with integer `labels`.
    public static func crossEntropy(logits: [Double], classes: Int, labels: [Int]) throws(GradusError) -> Result {
        guard classes > 0, logits.count % classes == 0 else { throw .shapeMismatch("logits count \(logits.count) is not a multiple of \(classes) classes") }
        let rows = logits.count / classes
        guard labels.count == rows else { throw .shapeMismatch("\(labels.count) labels for \(rows) rows") }
        guard labels.allSatisfy({ (0..<classes).contains($0) }) else { throw .invalidArgument("label out of range 0..<\(classes)") }
        var r = Result(s: logits.map(s), probabilities: [], logProbabilities: [], lossPerRow: [], lossMean: 0,
                       gradient: Array(repeating: 0, count: logits.count))
        for row in 0..<rows {
            let base = row * classes
            var sum = 0.0
            for k in 0..<classes { sum += r.s[base + k] }
            let logSum = log(sum)
            for k in 0..<classes {
                r.probabilities.append(r.s[base + k] / sum)
                r.logProbabilities.append(logS(logits[base + k]) - logSum)
            }
            let y = labels[row]
            r.lossPerRow.append(-r.logProbabilities[base + y])
            for k in 0..<classes {
                let x = logits[base + k], sk = r.s[base + k]
                let ds = x >= 0 ? 1 : sk * sk
                var g = ds / sum
                if k == y { g -= ds / sk }
                r.gradient[base + k] = g / Double(rows)
            }
        }
        r.lossMean = r.lossPerRow.reduce(0, +) / Double(rows)
        return r
    }
}

/// The z-loss of Wortsman et al. (spec §8.2) as array math: `L = CE + c·mean(logZ²)`.
public enum ZLoss {
    public struct Result: Sendable {
        public var logZ: [Double]
        public var crossEntropyMean: Double
        public var zLoss: Double
        public var total: Double
        /// ∂total/∂logits.
        public var gradient: [Double]
    }
    /// Mean softmax cross-entropy plus `coefficient·mean(logsumexp²)` over rows of `logits` (rows × classes).
    public static func evaluate(logits: [Double], classes: Int, labels: [Int], coefficient: Double = 1e-4) throws(GradusError) -> Result {
        guard classes > 0, logits.count % classes == 0 else { throw .shapeMismatch("logits count is not a multiple of classes") }
        let rows = logits.count / classes
        guard labels.count == rows, labels.allSatisfy({ (0..<classes).contains($0) }) else { throw .invalidArgument("labels do not match the rows") }
        var r = Result(logZ: [], crossEntropyMean: 0, zLoss: 0, total: 0, gradient: Array(repeating: 0, count: logits.count))
        let n = Double(rows)
        for row in 0..<rows {
            let x = logits[row * classes ..< (row + 1) * classes]
            let m = x.max()!
            let lz = m + log(x.reduce(0) { $0 + exp($1 - m) })
            r.logZ.append(lz)
            r.crossEntropyMean += (lz - logits[row * classes + labels[row]]) / n
            r.zLoss += coefficient * lz * lz / n
            for k in 0..<classes {
                let p = exp(logits[row * classes + k] - lz)
                r.gradient[row * classes + k] = (p - (k == labels[row] ? 1 : 0)) / n + 2 * coefficient * lz * p / n
            }
        }
        r.total = r.crossEntropyMean + r.zLoss
        return r
    }
}
