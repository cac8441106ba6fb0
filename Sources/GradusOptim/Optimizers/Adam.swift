extension GradientChain {
    /// Adam (Kingma & Ba; torch.optim.Adam): coupled L2 `g ← g + λθ`, then
    /// `θ ← θ − α/(1−β1^k) · m/(√v/√(1−β2^k) + ε)`. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.
    public static func adam(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0) -> GradientChain {
        var t: [any GradientTransform<Scalar>] = []
        if weightDecay != 0 { t.append(CoupledWeightDecay<Scalar>(weightDecay)) }
        t.append(AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon))
        t.append(LearningRate<Scalar>(learningRate))
        return GradientChain(t)
    }
}
