import GradusRuntime
import GradusTensor

/// z-loss (Wortsman et al., "Small-scale proxies for large-scale Transformer training instabilities",
/// ICLR 2024; spec §8.2): `L_z = c · mean_tokens (log Z)²` with `log Z = logsumexp` over the classes. It keeps
/// log Z near 0 and stops output logits from drifting. Gradient: `∂L_z/∂y_k = 2c·log Z·softmax(y)_k / N`.
extension Loss {
    /// `log Z` per token: logsumexp over the class axis 1 of logits (N, C) or (N, C, …) → (N) or (N, …).
    public static func logPartition(_ logits: Tensor) throws(GradusError) -> Tensor {
        guard logits.rank >= 2 else { throw .shapeMismatch("log_z: logits need shape (N, C, ...), got \(logits.shape)") }
        return try logits.logSumExp(axes: [1])
    }

    /// `coefficient · mean_tokens (log Z)²` (a scalar). `coefficient` must be finite and ≥ 0.
    public static func zLoss(_ logits: Tensor, coefficient: Double = 1e-4) throws(GradusError) -> Tensor {
        guard coefficient >= 0, coefficient.isFinite else { throw .invalidArgument("z_loss: coefficient \(coefficient) must be finite and ≥ 0") }
        return try logPartition(logits).square().mean() * coefficient
    }

    /// Mean cross-entropy plus the z-loss term: `CE + c · mean (log Z)²` (the paper uses c = 1e-4).
    /// Labels as for `crossEntropy`; only `.mean` reduction (the z-term is a mean over all tokens).
    public static func crossEntropy(_ logits: Tensor, labels: [Int], zLossCoefficient: Double,
                                    labelSmoothing: Double = 0) throws(GradusError) -> Tensor {
        let ce = try crossEntropy(logits, labels: labels, reduction: .mean, labelSmoothing: labelSmoothing)
        guard zLossCoefficient != 0 else { return ce }
        return try ce + zLoss(logits, coefficient: zLossCoefficient)
    }
}
