extension GradientChain {
    /// diffGrad (Dubey et al., official `diffGrad_v2.py`; spec §1): coupled L2, Adam moments, friction
    /// `ξ = σ(|g_prev − g|)`, `θ ← θ − α√(1−β2^k)/(1−β1^k) · ξ m/(√v + ε)` (ε on the uncorrected √v).
    /// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
    public static func diffGrad(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                epsilon: Double = 1e-8, weightDecay: Double = 0) -> GradientChain {
        var t: [any GradientTransform<Scalar>] = []
        if weightDecay != 0 { t.append(CoupledWeightDecay<Scalar>(weightDecay)) }
        t.append(GradientChangeDamping(AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon,
                                                                  correction: .beforeBiasCorrection)))
        t.append(LearningRate<Scalar>(learningRate))
        return GradientChain(t)
    }
}
