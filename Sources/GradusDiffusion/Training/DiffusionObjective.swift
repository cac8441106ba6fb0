import _GradusShims
import GradusRuntime
import GradusTensor

/// What a denoiser is trained to predict (spec §2 and §3.3).
public enum DiffusionObjective: Sendable, Equatable {
    /// Discrete-time diffusion over `schedule`: `x_t = a·x₀ + s·ε` at integer `t ~ U{0…T−1}`, target ε, v or x₀.
    case diffusion(NoiseSchedule, Parameterization)
    /// Rectified flow: `x_σ = σ·ε + (1 − σ)·x₀` at `σ ~ U(0, 1)`, velocity target `ε − x₀`; the model sees the
    /// continuous timestep `σ·trainSteps`.
    case flow(trainSteps: Int)

    /// A training batch: the noised inputs, their timesteps (as the model sees them) and the targets.
    public struct Batch {
        public var noised: Tensor
        public var timesteps: [Double]
        public var target: Tensor
    }

    /// Noises `x0` (`(B, ...)`) with fresh noise and timesteps drawn from `rng`.
    /// - Throws: `GradusError.invalidArgument` for an empty batch or a bad schedule.
    public func makeBatch(x0: Tensor, rng: inout PhiloxStream) throws(GradusError) -> Batch {
        guard x0.rank >= 1, x0.shape[0] >= 1 else { throw .invalidArgument("DiffusionObjective: empty batch") }
        let b = x0.shape[0]
        let noise = Tensor.normal(x0.shape, seed: rng.nextUInt64(), dtype: x0.dtype)
        let perSample = [b] + [Int](repeating: 1, count: x0.rank - 1)
        switch self {
        case .diffusion(let schedule, let kind):
            var t = [Double](), a = [Double](), s = [Double]()
            for _ in 0..<b {
                let ti = rng.nextInt(below: schedule.trainSteps)
                let abar = try schedule.alphaCumprod(at: ti)
                t.append(Double(ti)); a.append(gradus_sqrt(abar)); s.append(gradus_sqrt(1 - abar))
            }
            let at = Tensor(shape: perSample, scalars: a, dtype: x0.dtype), st = Tensor(shape: perSample, scalars: s, dtype: x0.dtype)
            let xt = try x0 * at + noise * st
            let target: Tensor
            switch kind {
            case .epsilon: target = noise
            case .sample: target = x0
            case .vPrediction: target = try noise * at - x0 * st
            }
            return Batch(noised: xt, timesteps: t, target: target)
        case .flow(let trainSteps):
            guard trainSteps >= 1 else { throw .invalidArgument("DiffusionObjective.flow: trainSteps must be ≥ 1") }
            var sig = [Double]()
            for _ in 0..<b { sig.append(rng.nextDouble()) }
            let st = Tensor(shape: perSample, scalars: sig, dtype: x0.dtype)
            let xt = try noise * st + x0 * (1 - st)
            return Batch(noised: xt, timesteps: sig.map { $0 * Double(trainSteps) }, target: try noise - x0)
        }
    }
}
