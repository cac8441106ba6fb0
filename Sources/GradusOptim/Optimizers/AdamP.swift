extension GradientChain {
    /// AdamP (Heo et al., official `adamp.py`; spec §2.2): the Adam direction `m/(√v̂ + ε)` (Nesterov:
    /// `(β1 m + (1−β1) g)/…`), radially projected on scale-invariant weights, decoupled decay
    /// `θ(1 − αλ·wd_factor)`, step `α/(1−β1^k)`.
    /// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0, delta 0.1, wd_ratio 0.1, no Nesterov.
    public static func adamP(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                             epsilon: Double = 1e-8, weightDecay: Double = 0, delta: Double = 0.1,
                             weightDecayRatio: Double = 0.1, nesterov: Bool = false) -> GradientChain {
        GradientChain(
            AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon, form: nesterov ? .nesterov : .standard),
            RadialProjection<Scalar>(delta: delta, weightDecayRatio: weightDecayRatio, epsilon: epsilon),
            DecoupledWeightDecay<Scalar>(weightDecay),
            LearningRate<Scalar>(learningRate))
    }
}
