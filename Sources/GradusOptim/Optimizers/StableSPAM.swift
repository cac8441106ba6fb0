extension GradientChain {
    /// Stable-SPAM (official `stablespam.py`; spec §3.2): decoupled decay first, AdaClip (`SpikeClipping`),
    /// AdaGN (`GradientNormalization`), Adam with `β1·s_t` whose moments are reset every `update_proj_gap`
    /// steps after use (and `k` restarts), learning rate. `totalSteps` nil means no cosine decay.
    /// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0, γ1 0.7, γ2 0.9, γ3 0.999, eta_min 0.5, gap 1000.
    public static func stableSPAM(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                  epsilon: Double = 1e-8, weightDecay: Double = 0, gamma1: Double = 0.7,
                                  gamma2: Double = 0.9, gamma3: Double = 0.999, totalSteps: Int? = nil,
                                  minimumFactor: Double = 0.5, resetInterval: Int = 1000) -> GradientChain {
        let decay = CosineDecayFactor(totalSteps: totalSteps, minimum: minimumFactor)
        let g1 = gamma1 == -1 ? betas.0 : gamma1
        return GradientChain(
            DecoupledWeightDecay<Scalar>(weightDecay),
            SpikeClipping<Scalar>(gamma3: gamma3),
            GradientNormalization<Scalar>(gamma1: g1, gamma2: gamma2, epsilon: epsilon, gamma1Decay: decay),
            MomentumReset(AdamPreconditioner<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon, beta1Decay: decay),
                          interval: resetInterval, timing: .afterUpdateRestartingCount),
            LearningRate<Scalar>(learningRate))
    }
}
