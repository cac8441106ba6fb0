import GradusRuntime
import GradusTensor

/// StableMax (Prieto et al., "Grokking at the Edge of Numerical Stability"; official code
/// LucasPrietoAl/grokking-at-the-edge-of-numerical-stability `utils.py`), spec §5.1.
///
/// `s(x) = x + 1` for x ≥ 0 and `1/(1 − x)` for x < 0, continuous with slope 1 at 0; `StableMax(x)_i =
/// s(x_i)/Σ_j s(x_j)`. Probabilities of very negative logits decay like 1/|x| instead of exponentially, so
/// nothing overflows and no row collapses to an exact one-hot.
///
/// Both branches are evaluated select-free on clamped inputs — `relu(x) + 1/(1 − min(x, 0))` — so neither
/// produces inf/NaN for the other sign (spec §0.3/§5.1), and the slope at exactly 0 is 1.
extension Tensor {
    /// The elementwise StableMax score `s(x)`.
    public func stableMaxScores() throws(GradusError) -> Tensor {
        try relu() + (1 - clamped(max: 0)).reciprocal()
    }

    /// `log s(x)`: `log1p(x)` for x ≥ 0 and `−log1p(−x)` for x < 0 (select-free, slope 1 at 0).
    public func logStableMaxScores() throws(GradusError) -> Tensor {
        try relu().log1p() - (-clamped(max: 0)).log1p()
    }

    /// StableMax probabilities along `axis` (default the last).
    public func stableMax(axis: Int = -1) throws(GradusError) -> Tensor {
        let s = try stableMaxScores()
        return try s / s.sum(axes: [axis], keepDims: true)
    }

    /// log StableMax along `axis`: `log s(x_i) − log Σ_j s(x_j)`.
    public func logStableMax(axis: Int = -1) throws(GradusError) -> Tensor {
        try logStableMaxScores() - stableMaxScores().sum(axes: [axis], keepDims: true).log()
    }
}

/// StableMax (or log-StableMax) along an axis, as a layer (the counterpart of `Softmax`). Named with a
/// `Layer` suffix because GradusOptim's array-math reference is `StableMax`, and both reach `import Gradus`.
public final class StableMaxLayer: Module, @unchecked Sendable {
    public let axis: Int, log: Bool
    public init(axis: Int = -1, log: Bool = false) { self.axis = axis; self.log = log }
    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        log ? try x.logStableMax(axis: axis) : try x.stableMax(axis: axis)
    }
}

extension Loss {
    /// StableMax cross-entropy: `L = −(1/N) Σ_n log StableMax(x_n)_{y_n}` for logits (N, C) — or (N, C, …)
    /// with classes on axis 1 — and integer labels (spec §5.1).
    ///
    /// - Parameters:
    ///   - reduction: `.mean` (default), `.sum`, or `.none` for the per-row values.
    ///   - dtype: the computation (and result) dtype. The official code casts logits to float64 and returns a
    ///     float64 loss: pass `.float64` for that; the default (nil) computes in the logits' dtype. The cast is
    ///     differentiable, so the logits' gradient comes back in their own dtype.
    public static func stableMaxCrossEntropy(_ logits: Tensor, labels: [Int], reduction: Reduction = .mean,
                                             dtype: DType? = nil) throws(GradusError) -> Tensor {
        guard logits.rank >= 2 else { throw .shapeMismatch("stablemax_cross_entropy: logits need shape (N, C, ...), got \(logits.shape)") }
        let c = logits.shape[1]
        let cast = dtype.map { logits.to($0) } ?? logits
        let x = cast.rank == 2 ? cast : try cast.permuted([0] + Array(2..<cast.rank) + [1]).reshaped([-1, c])
        guard labels.count == x.shape[0] else { throw .shapeMismatch("stablemax_cross_entropy: \(labels.count) labels for \(x.shape[0]) rows") }
        for l in labels where l < 0 || l >= c { throw .invalidArgument("stablemax_cross_entropy: label \(l) out of range 0..<\(c)") }
        // −log p_y = log Σ_j s(x_j) − log s(x_y): the label's score is gathered before its log, so the log1p
        // passes run over N values instead of N·C (same values and gradients as gathering log StableMax).
        let nll = try x.stableMaxScores().sum(axes: [1]).log() - x.gather(axis: 1, indices: labels).logStableMaxScores()
        return try reduction.apply(nll)
    }
}
