extension GradientChain {
    /// AdamW (Loshchilov & Hutter; torch.optim.AdamW), as optax writes it: Adam scaling, decayed weights,
    /// learning rate. `θ ← θ(1 − αλ)` then the Adam step. With `.independent(peakLearningRate:)` the decay is
    /// `θ(1 − (α_t/α_peak)λ)` (Wortsman et al. §8.3). Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
    public static func adamW(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                             epsilon: Double = 1e-8, weightDecay: Double = 1e-2,
                             decay: DecoupledWeightDecay<Scalar>.Coupling = .learningRate) -> GradientChain {
        GradientChain(
            AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon),
            DecoupledWeightDecay<Scalar>(weightDecay, timing: .beforeUpdate, coupling: decay),
            LearningRate<Scalar>(learningRate))
    }
}
