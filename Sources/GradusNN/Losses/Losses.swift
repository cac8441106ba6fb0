import GradusRuntime
import GradusTensor

/// How a per-example loss is reduced.
public enum Reduction: Int32, Sendable { case mean = 0, sum = 1, none = 2 }

extension Reduction {
    func apply(_ t: Tensor) throws(GradusError) -> Tensor {
        switch self {
        case .mean: return try t.mean()
        case .sum: return try t.sum()
        case .none: return t
        }
    }
}

public enum Loss {
    /// Cross-entropy of logits (N, C) — or (N, C, …) with classes on axis 1 — against integer labels,
    /// computed through a stable log-softmax. Labels equal to `ignoreIndex` contribute nothing (and are
    /// excluded from the mean).
    public static func crossEntropy(_ logits: Tensor, labels: [Int], reduction: Reduction = .mean,
                                    labelSmoothing: Double = 0, ignoreIndex: Int? = nil) throws(GradusError) -> Tensor {
        guard logits.rank >= 2 else { throw .shapeMismatch("cross_entropy: logits need shape (N, C, ...), got \(logits.shape)") }
        let c = logits.shape[1]
        let x = logits.rank == 2 ? logits : try logits.permuted([0] + Array(2..<logits.rank) + [1]).reshaped([-1, c])
        guard labels.count == x.shape[0] else { throw .shapeMismatch("cross_entropy: \(labels.count) labels for \(x.shape[0]) rows") }
        guard labelSmoothing >= 0, labelSmoothing <= 1 else { throw .invalidArgument("label smoothing \(labelSmoothing) not in [0, 1]") }
        var safe = labels
        var weights: [Double]? = nil
        for (i, l) in labels.enumerated() {
            if let ig = ignoreIndex, l == ig { safe[i] = 0; weights = weights ?? [Double](repeating: 1, count: labels.count); weights![i] = 0; continue }
            guard l >= 0, l < c else { throw .invalidArgument("cross_entropy: label \(l) out of range 0..<\(c)") }
        }
        let logp = try x.logSoftmax(axis: 1)
        var nll = try -logp.gather(axis: 1, indices: safe)
        if labelSmoothing > 0 {
            let smooth = try -logp.mean(axes: [1])
            nll = try nll * (1 - labelSmoothing) + smooth * labelSmoothing
        }
        if let weights {
            let w = Tensor(shape: [weights.count], scalars: weights, dtype: logits.dtype)
            nll = try nll * w
            if reduction == .mean { return try nll.sum() / Swift.max(weights.reduce(0, +), 1) }
        }
        return try reduction.apply(nll)
    }

    /// Mean squared error.
    public static func mse(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws(GradusError) -> Tensor {
        guard prediction.shape == target.shape else { throw .shapeMismatch("mse: \(prediction.shape) vs \(target.shape)") }
        return try reduction.apply((prediction - target).square())
    }

    /// Binary cross-entropy on logits: max(x,0) − x·y + log(1 + e^{−|x|}) (stable).
    public static func bceWithLogits(_ logits: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws(GradusError) -> Tensor {
        guard logits.shape == target.shape else { throw .shapeMismatch("bce_with_logits: \(logits.shape) vs \(target.shape)") }
        let l = try logits.relu() - logits * target + (logits.abs() * -1).exp().log1p()
        return try reduction.apply(l)
    }

    /// Fraction of rows whose arg-max equals the label.
    public static func accuracy(_ logits: Tensor, labels: [Int]) throws(GradusError) -> Double {
        let pred = try logits.argmax(axis: -1)
        guard pred.count == labels.count, !labels.isEmpty else { throw .shapeMismatch("accuracy: \(pred.count) predictions, \(labels.count) labels") }
        return Double(zip(pred, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}
