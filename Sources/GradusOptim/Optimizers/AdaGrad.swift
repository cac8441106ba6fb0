extension GradientChain {
    /// AdaGrad with PyTorch semantics (spec §4.1): `g ← g + λθ`, `S ← S + g²`,
    /// `θ ← θ − α/(1 + (k−1)·lr_decay) · g/(√S + ε)`.
    /// Defaults: lr 1e-2, lr_decay 0, weight decay 0, initial accumulator 0, eps 1e-10.
    public static func adaGrad(learningRate: Schedule = .constant(1e-2), learningRateDecay: Double = 0,
                               weightDecay: Double = 0, initialAccumulator: Double = 0,
                               epsilon: Double = 1e-10) -> GradientChain {
        var t: [any GradientTransform<Scalar>] = []
        if weightDecay != 0 { t.append(CoupledWeightDecay<Scalar>(weightDecay)) }
        t.append(AdaGradAccumulator<Scalar>(initialAccumulator: initialAccumulator, epsilon: epsilon,
                                            learningRateDecay: learningRateDecay))
        t.append(LearningRate<Scalar>(learningRate))
        return GradientChain(t)
    }
}
