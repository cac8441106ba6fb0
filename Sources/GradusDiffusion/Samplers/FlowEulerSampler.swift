import GradusRuntime

/// First-order Euler sampler for flow matching / rectified flow (Liu et al., "Flow Straight and Fast"; SD3's
/// shifted schedule; diffusers `FlowMatchEulerDiscreteScheduler`).
///
/// Interpolation `x_σ = σ·ε + (1 − σ)·x₀`, velocity target `v = ε − x₀`, `σ = 1` is pure noise.
/// Step: `x_{i+1} = x_i + (σ_{i+1} − σ_i)·v_i`.
public struct FlowEulerSampler: Sendable {
    /// The timestep shift `k` in `shift(σ) = k·σ/(1 + (k − 1)·σ)` (1 = no shift; SD3 uses 3).
    public var shift: Double

    /// - Parameter shift: default 1.
    public init(shift: Double = 1.0) { self.shift = shift }

    /// `k·σ/(1 + (k − 1)·σ)`.
    @inlinable public func shifted(_ sigma: Double) -> Double { shift * sigma / (1 + (shift - 1) * sigma) }

    /// The `N + 1` sigmas of an `N`-step chain, ending with 0 (diffusers: `σ_min = shift(1/T)`, grid
    /// `linspace(1, σ_min, N)`, each shifted again — the smallest sigma is shifted twice, as in the reference).
    /// The model timesteps are `σ_i · T` for the first `N`.
    /// - Parameters: steps `N ≥ 1`; trainSteps `T` default 1000.
    /// - Throws: `GradusError.invalidArgument` for non-positive counts or a non-positive shift.
    public func sigmas(steps: Int, trainSteps: Int = 1000) throws(GradusError) -> [Double] {
        guard steps >= 1, trainSteps >= 1 else { throw .invalidArgument("FlowEulerSampler: steps must be ≥ 1") }
        guard shift > 0, shift.isFinite else { throw .invalidArgument("FlowEulerSampler: shift must be positive") }
        let sigmaMin = shifted(1 / Double(trainSteps))
        var out = NoiseSchedule.linspace(1, sigmaMin, steps).map(shifted)
        out.append(0)
        return out
    }

    /// Model timesteps `σ_i · T` for the first `N` sigmas.
    public func timesteps(steps: Int, trainSteps: Int = 1000) throws(GradusError) -> [Double] {
        try sigmas(steps: steps, trainSteps: trainSteps).dropLast().map { $0 * Double(trainSteps) }
    }

    /// One Euler step: `sample + (sigmaNext − sigma)·velocity`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public func step<T: BinaryFloatingPoint>(velocity: [T], sample: [T], sigma: Double, sigmaNext: Double) throws(GradusError) -> [T] {
        guard velocity.count == sample.count else {
            throw .shapeMismatch("FlowEulerSampler: velocity has \(velocity.count) elements, sample \(sample.count)")
        }
        var out = sample
        if out.isEmpty { return out }
        let dt = sigmaNext - sigma
        velocity.withUnsafeBufferPointer { pv in
            sample.withUnsafeBufferPointer { ps in
                out.withUnsafeMutableBufferPointer { po in
                    Kernels.axpby(1, ps.baseAddress!, dt, pv.baseAddress!, into: po.baseAddress!, count: po.count)
                }
            }
        }
        return out
    }

    /// `x_σ = σ·ε + (1 − σ)·x₀` (one σ for the whole batch).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func addNoise<T: BinaryFloatingPoint>(x0: [T], noise: [T], sigma: Double) throws(GradusError) -> [T] {
        guard x0.count == noise.count else { throw .shapeMismatch("addNoise: \(x0.count) vs \(noise.count) elements") }
        var out = x0
        if out.isEmpty { return out }
        x0.withUnsafeBufferPointer { px in
            noise.withUnsafeBufferPointer { pn in
                out.withUnsafeMutableBufferPointer { po in
                    Kernels.axpby(sigma, pn.baseAddress!, 1 - sigma, px.baseAddress!, into: po.baseAddress!, count: po.count)
                }
            }
        }
        return out
    }

    /// The velocity target `v = ε − x₀`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func velocityTarget<T: BinaryFloatingPoint>(x0: [T], noise: [T]) throws(GradusError) -> [T] {
        guard x0.count == noise.count else { throw .shapeMismatch("velocityTarget: \(x0.count) vs \(noise.count) elements") }
        var out = x0
        for i in out.indices { out[i] = noise[i] - x0[i] }
        return out
    }
}
