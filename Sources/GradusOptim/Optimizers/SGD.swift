extension GradientChain {
    /// SGD with optional momentum/Nesterov and coupled L2 decay (torch.optim.SGD):
    /// `g ← g + λθ`; `buf ← g` on the first step, then `μ·buf + (1 − dampening)·g`; direction `buf`
    /// (or `g + μ·buf`); `θ ← θ − α·direction`. Defaults: momentum 0, dampening 0, weight decay 0.
    public static func sgd(learningRate: Schedule, momentum: Double = 0, dampening: Double = 0,
                           weightDecay: Double = 0, nesterov: Bool = false) -> GradientChain {
        var t: [any GradientTransform<Scalar>] = []
        if weightDecay != 0 { t.append(CoupledWeightDecay<Scalar>(weightDecay)) }
        if momentum != 0 {
            t.append(Momentum<Scalar>(momentum, dampening: dampening, form: nesterov ? .nesterov : .heavyBall))
        }
        t.append(LearningRate<Scalar>(learningRate))
        return GradientChain(t)
    }
}
