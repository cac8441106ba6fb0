import GradusRuntime

/// Whole sampling chains over a denoise function `(x, t) -> model output` (plain model or `GuidedDenoiser`).
/// Noise is drawn from a Philox stream, so a seed reproduces a chain.
public enum Sampling {
    /// Standard normal samples (Double Box–Muller from `PhiloxStream.nextNormal`).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func normal<T: BinaryFloatingPoint>(count: Int, rng: inout PhiloxStream, as: T.Type = T.self) -> [T] {
        var out = [T](repeating: 0, count: count)
        for i in 0..<count { out[i] = T(rng.nextNormal()) }
        return out
    }

    /// A DDIM chain of `steps` steps from `xT` (noisiest timestep first).
    /// - Parameters: spacing default `.leading`; offset default 0; eta default 0.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func ddim<T: BinaryFloatingPoint>(
        _ sampler: DDIMSampler, steps: Int, spacing: TimestepSpacing = .leading, offset: Int = 0, eta: Double = 0,
        xT: [T], rng: inout PhiloxStream, denoise: ([T], Int) throws(GradusError) -> [T]
    ) throws(GradusError) -> [T] {
        let T_ = sampler.schedule.trainSteps
        var x = xT
        for t in try inferenceTimesteps(trainSteps: T_, steps: steps, spacing: spacing, offset: offset) {
            let m = try denoise(x, t)
            let z: [T]? = eta > 0 ? normal(count: x.count, rng: &rng) : nil
            x = try sampler.step(modelOutput: m, t: t, prevT: previousTimestep(t, trainSteps: T_, steps: steps),
                                 sample: x, eta: eta, noise: z).prev
        }
        return x
    }

    /// A DDPM (ancestral) chain of `steps` steps from `xT`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func ddpm<T: BinaryFloatingPoint>(
        _ sampler: DDPMSampler, steps: Int, spacing: TimestepSpacing = .leading, offset: Int = 0,
        xT: [T], rng: inout PhiloxStream, denoise: ([T], Int) throws(GradusError) -> [T]
    ) throws(GradusError) -> [T] {
        let T_ = sampler.schedule.trainSteps
        var x = xT
        for t in try inferenceTimesteps(trainSteps: T_, steps: steps, spacing: spacing, offset: offset) {
            let m = try denoise(x, t)
            let z: [T]? = t > 0 ? normal(count: x.count, rng: &rng) : nil
            x = try sampler.step(modelOutput: m, t: t, prevT: previousTimestep(t, trainSteps: T_, steps: steps),
                                 sample: x, noise: z).prev
        }
        return x
    }

    /// A flow-matching Euler chain; the velocity model receives the continuous timestep `σ·T`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func flowEuler<T: BinaryFloatingPoint>(
        _ sampler: FlowEulerSampler, steps: Int, trainSteps: Int = 1000, xT: [T],
        velocity: ([T], Double) throws(GradusError) -> [T]
    ) throws(GradusError) -> [T] {
        let sigmas = try sampler.sigmas(steps: steps, trainSteps: trainSteps)
        var x = xT
        for i in 0..<steps {
            let v = try velocity(x, sigmas[i] * Double(trainSteps))
            x = try sampler.step(velocity: v, sample: x, sigma: sigmas[i], sigmaNext: sigmas[i + 1])
        }
        return x
    }
}
