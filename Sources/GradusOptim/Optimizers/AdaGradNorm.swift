extension GradientChain {
    /// AdaGrad-Norm, the scalar method of the AdAdaGrad paper (spec §4.2): `b² ← b² + Σ‖g‖²` over every tensor
    /// of the group, then `θ ← θ − α·g/b`. Defaults: lr 1.0, b0 0.1.
    public static func adaGradNorm(learningRate: Schedule = .constant(1), b0: Double = 0.1) -> GradientChain {
        GradientChain(AdaGradNormScaling<Scalar>(b0: b0), LearningRate<Scalar>(learningRate))
    }

    /// The official AdAdaGrad `Adagradnorm` class (row-wise for matrices, per coordinate for vectors;
    /// spec §4.2). Defaults: lr 1.0, lr_decay 0, initial accumulator 0.01. Tensor order matters.
    public static func adaGradNormRowwise(learningRate: Schedule = .constant(1), learningRateDecay: Double = 0,
                                          initialAccumulator: Double = 1e-2) -> GradientChain {
        GradientChain(RowwiseAdaGradNorm<Scalar>(initialAccumulator: initialAccumulator, learningRateDecay: learningRateDecay),
                      LearningRate<Scalar>(learningRate))
    }
}
