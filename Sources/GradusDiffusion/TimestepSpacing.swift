import GradusRuntime

/// How `N` inference timesteps are picked from `T` training steps (diffusers `timestep_spacing`).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    /// `k · (T div N)` for `k = 0 … N−1`, reversed, plus the offset (Stable Diffusion uses offset 1).
    case leading
    /// `round(T − k·T/N) − 1` for `k = 0 … N−1`: the first step sits at `T − 1` (Lin et al.).
    case trailing
    /// `round(linspace(0, T−1, N))`, reversed.
    case linspace
}

/// Inference timesteps, largest (noisiest) first.
///
/// As in diffusers `DDIMScheduler.set_timesteps`, `offset` (`steps_offset`) applies to `.leading` only;
/// `.trailing` and `.linspace` ignore it. Rounding is half-to-even (numpy). The sampler's previous timestep is
/// always `t − (T div N)` (see `previousTimestep`), whatever the spacing.
///
/// - Parameters:
///   - trainSteps: `T` (default schedules use 1000).
///   - steps: `N`, 1 … T.
///   - spacing: default `.leading`.
///   - offset: default 0.
/// - Throws: `GradusError.invalidArgument` when `N` is not in `1 … T`.
public func inferenceTimesteps(trainSteps: Int, steps: Int, spacing: TimestepSpacing = .leading, offset: Int = 0) throws(GradusError) -> [Int] {
    guard trainSteps >= 1 else { throw .invalidArgument("inferenceTimesteps: trainSteps must be ≥ 1") }
    guard steps >= 1, steps <= trainSteps else {
        throw .invalidArgument("inferenceTimesteps: steps \(steps) must be in 1...\(trainSteps)")
    }
    let T = trainSteps, N = steps
    var out = [Int](repeating: 0, count: N)
    switch spacing {
    case .leading:
        let ratio = T / N
        for k in 0..<N { out[N - 1 - k] = k * ratio + offset }
    case .trailing:
        let ratio = Double(T) / Double(N)
        // np.arange(T, 0, -ratio) computes start + k·step.
        for k in 0..<N { out[k] = Int((Double(T) - Double(k) * ratio).rounded(.toNearestOrEven)) - 1 }
    case .linspace:
        let grid = NoiseSchedule.linspace(0, Double(T - 1), N)
        for k in 0..<N { out[N - 1 - k] = Int(grid[k].rounded(.toNearestOrEven)) }
    }
    return out
}

/// The DDPM/DDIM previous timestep `t − (T div N)`; negative past the end of the chain.
@inlinable
public func previousTimestep(_ t: Int, trainSteps: Int, steps: Int) -> Int {
    t - trainSteps / max(steps, 1)
}
