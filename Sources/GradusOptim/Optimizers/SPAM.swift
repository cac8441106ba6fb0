extension GradientChain {
    /// SPAM (official `SPAM.py`; spec §3.1): momentum reset every ΔT global steps, spike-aware clipping
    /// against `v` (delayed by A steps after the start and each reset), Adam with ε on the uncorrected √v,
    /// the cosine warm-up factor after each reset, then decoupled decay of the updated weights.
    /// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-6, weight decay 0, warm-up 150, threshold 5000,
    /// ΔT 500, A 20, bias correction on.
    public static func spam(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-6, weightDecay: Double = 0, warmupSteps: Int = 150,
                            threshold: Double = 5000, interval: Int = 500, accumulationSteps: Int = 20,
                            correctsBias: Bool = true) -> GradientChain {
        let adam = AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon,
                                              correction: correctsBias ? .beforeBiasCorrection : .none)
        return GradientChain(
            MomentumReset(SpikeAwareClipping(adam, threshold: threshold, interval: interval, delay: accumulationSteps),
                          interval: interval, timing: .beforeUpdate),
            ResetWarmup<Scalar>(warmupSteps: warmupSteps, interval: interval),
            DecoupledWeightDecay<Scalar>(weightDecay, timing: .afterUpdate),
            LearningRate<Scalar>(learningRate))
    }
}
