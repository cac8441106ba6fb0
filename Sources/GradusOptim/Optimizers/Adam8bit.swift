import GradusRuntime

extension GradientChain {
    /// 8-bit Adam (bitsandbytes `Adam8bit`; spec `lowbit.md` §4.3): both moments blockwise-quantized to
    /// 8 bits (dynamic signed map for `m`, unsigned for `v`, float32 absmax per 256 elements), tensors below
    /// `minQuantizedSize` in full precision. Weight decay is **decoupled** (`θ ← θ(1 − αλ)` before the
    /// update), as bitsandbytes does even for `Adam8bit`. State: about 2 bytes per element instead of 8.
    /// Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0, min size 4096, block 256.
    public static func adam8bit(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                epsilon: Double = 1e-8, weightDecay: Double = 0, minQuantizedSize: Int = 4096,
                                blockSize: Int = 256) throws(GradusError) -> GradientChain {
        var t: [any GradientTransform<Scalar>] = [
            try AdamPreconditioner8bit<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon, blockSize: blockSize,
                                               minQuantizedSize: minQuantizedSize),
        ]
        if weightDecay != 0 { t.append(DecoupledWeightDecay<Scalar>(weightDecay, timing: .beforeUpdate)) }
        t.append(LearningRate<Scalar>(learningRate))
        return GradientChain(t)
    }

    /// AdamW with 8-bit moments (bitsandbytes `AdamW8bit`): `adam8bit` with weight decay 1e-2 by default.
    public static func adamW8bit(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                 epsilon: Double = 1e-8, weightDecay: Double = 1e-2, minQuantizedSize: Int = 4096,
                                 blockSize: Int = 256) throws(GradusError) -> GradientChain {
        try adam8bit(learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay,
                     minQuantizedSize: minQuantizedSize, blockSize: blockSize)
    }

    /// Stable-SPAM (see `stableSPAM`) whose Adam moments are stored in 8 bits: AdaClip, AdaGN and the
    /// periodic momentum reset are unchanged; their own statistics are a few scalars per tensor.
    public static func stableSPAM8bit(learningRate: Schedule = .constant(1e-3), betas: (Double, Double) = (0.9, 0.999),
                                      epsilon: Double = 1e-8, weightDecay: Double = 0, gamma1: Double = 0.7,
                                      gamma2: Double = 0.9, gamma3: Double = 0.999, totalSteps: Int? = nil,
                                      minimumFactor: Double = 0.5, resetInterval: Int = 1000,
                                      minQuantizedSize: Int = 4096, blockSize: Int = 256) throws(GradusError) -> GradientChain {
        let decay = CosineDecayFactor(totalSteps: totalSteps, minimum: minimumFactor)
        let g1 = gamma1 == -1 ? betas.0 : gamma1
        return GradientChain(
            DecoupledWeightDecay<Scalar>(weightDecay),
            SpikeClipping<Scalar>(gamma3: gamma3),
            GradientNormalization<Scalar>(gamma1: g1, gamma2: gamma2, epsilon: epsilon, gamma1Decay: decay),
            MomentumReset(try AdamPreconditioner8bit<Scalar>(beta1: betas.0, beta2: betas.1, epsilon: epsilon, blockSize: blockSize,
                                                             minQuantizedSize: minQuantizedSize, beta1Decay: decay),
                          interval: resetInterval, timing: .afterUpdateRestartingCount),
            LearningRate<Scalar>(learningRate))
    }
}
