extension GradientChain {
    /// SGDP (Heo et al., official `sgdp.py`; spec §2.3): `buf ← μ buf + (1 − dampening) g` (from the first
    /// step), direction `buf` or `g + μ buf`, radially projected (without Nesterov the projection also
    /// reaches the buffer, as in the official code), decay `θ(1 − αλ·wd_factor/(1 − μ))`, `θ ← θ − α·d`.
    /// Defaults: momentum 0, dampening 0, weight decay 0, no Nesterov, eps 1e-8, delta 0.1, wd_ratio 0.1.
    public static func sgdP(learningRate: Schedule, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0,
                            nesterov: Bool = false, epsilon: Double = 1e-8, delta: Double = 0.1,
                            weightDecayRatio: Double = 0.1) -> GradientChain {
        GradientChain(
            Momentum<Scalar>(momentum, dampening: dampening, form: nesterov ? .nesterov : .heavyBall,
                             firstStep: .accumulates, aliasing: nesterov ? .none : .bufferFollowsUpdate),
            RadialProjection<Scalar>(delta: delta, weightDecayRatio: weightDecayRatio, epsilon: epsilon),
            DecoupledWeightDecay<Scalar>(weightDecay, multiplier: 1 / (1 - momentum)),
            LearningRate<Scalar>(learningRate))
    }
}
