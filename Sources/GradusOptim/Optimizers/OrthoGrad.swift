extension GradientChain {
    /// ⊥Grad (Prieto et al., official `orthograd.py`; spec §5.2) around any base optimizer: each tensor's
    /// gradient loses its component along the weights and keeps its norm, then `base` runs unchanged.
    public static func orthoGrad(_ base: GradientChain) -> GradientChain {
        base.prepending(OrthogonalProjection<Scalar>())
    }

    /// ⊥AdamW: ⊥Grad followed by torch AdamW (decoupled decay on the real weights, Adam on `g⊥`).
    /// Defaults as `adamW` (the official ⊥AdamW runs kept torch's betas (0.9, 0.999) and eps 1e-8).
    public static func perpAdamW(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                 epsilon: Double = 1e-8, weightDecay: Double = 1e-2) -> GradientChain {
        orthoGrad(adamW(learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay))
    }
}
