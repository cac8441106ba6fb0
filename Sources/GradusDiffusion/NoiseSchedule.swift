import _GradusShims
import Glibc
import GradusRuntime

/// A discrete noise schedule over `T` training steps: `β_i` and `ᾱ_i = Π_{j≤i}(1 − β_j)`, `i = 0 … T−1`
/// (`t = 0` is the least noisy).
///
/// Built in Double (the diffusers reference builds in float32; the golden tolerances accept either).
/// Reference: diffusers `DDPMScheduler.__init__`, `betas_for_alpha_bar`, `rescale_zero_terminal_snr`;
/// Ho et al. 2020 (linear), Nichol & Dhariwal 2021 (cosine), Lin et al. 2024 (zero terminal SNR).
public struct NoiseSchedule: Sendable, Equatable {
    /// `β_i`, one per training step.
    public let betas: [Double]
    /// `ᾱ_i`, the cumulative product of `1 − β`.
    public let alphasCumprod: [Double]

    /// Number of training steps `T`.
    public var trainSteps: Int { betas.count }

    /// A schedule from explicit betas.
    /// - Throws: `GradusError.invalidArgument` when empty or a β is outside `[0, 1]` or not finite.
    public init(betas: [Double]) throws(GradusError) {
        guard !betas.isEmpty else { throw .invalidArgument("NoiseSchedule: no betas") }
        for b in betas where !(b >= 0 && b <= 1) {
            throw .invalidArgument("NoiseSchedule: beta \(b) outside [0, 1]")
        }
        self.betas = betas
        var acc = 1.0
        var cum = [Double](repeating: 0, count: betas.count)
        for i in betas.indices { acc *= 1 - betas[i]; cum[i] = acc }
        self.alphasCumprod = cum
    }

    /// DDPM's linear schedule: `β` evenly spaced from `betaStart` to `betaEnd` inclusive.
    /// - Parameters: betaStart default 1e-4, betaEnd default 0.02, steps default 1000.
    public static func linear(betaStart: Double = 1e-4, betaEnd: Double = 0.02, steps: Int = 1000) throws(GradusError) -> NoiseSchedule {
        try NoiseSchedule(betas: linspace(betaStart, betaEnd, try checkedSteps(steps)))
    }

    /// Stable Diffusion's "scaled linear" schedule: `√β` evenly spaced, then squared.
    /// - Parameters: betaStart default 0.00085, betaEnd default 0.012, steps default 1000.
    public static func scaledLinear(betaStart: Double = 0.00085, betaEnd: Double = 0.012, steps: Int = 1000) throws(GradusError) -> NoiseSchedule {
        guard betaStart >= 0, betaEnd >= 0 else { throw .invalidArgument("scaledLinear: negative beta") }
        let roots = linspace(gradus_sqrt(betaStart), gradus_sqrt(betaEnd), try checkedSteps(steps))
        return try NoiseSchedule(betas: roots.map { $0 * $0 })
    }

    /// The cosine schedule (`squaredcos_cap_v2`): `f(u) = cos²((u + 0.008)/1.008 · π/2)`,
    /// `β_i = min(1 − f((i+1)/T)/f(i/T), maxBeta)`.
    /// - Parameters: steps default 1000, maxBeta default 0.999.
    public static func cosine(steps: Int = 1000, maxBeta: Double = 0.999) throws(GradusError) -> NoiseSchedule {
        let n = try checkedSteps(steps)
        guard maxBeta > 0, maxBeta <= 1 else { throw .invalidArgument("cosine: maxBeta \(maxBeta) outside (0, 1]") }
        func f(_ u: Double) -> Double { let c = cos((u + 0.008) / 1.008 * Double.pi / 2); return c * c }
        var betas = [Double](repeating: 0, count: n)
        for i in 0..<n {
            betas[i] = min(1 - f(Double(i + 1) / Double(n)) / f(Double(i) / Double(n)), maxBeta)
        }
        return try NoiseSchedule(betas: betas)
    }

    /// Lin et al. Algorithm 1: shifts and rescales `√ᾱ` so that the last `ᾱ` is exactly 0 (zero terminal SNR)
    /// while the first is unchanged, then recovers `β`. The last β becomes 1; pair it with v-prediction.
    /// - Throws: `GradusError.invalidArgument` when the schedule has a single step or `√ᾱ` is constant.
    public func rescaledToZeroTerminalSNR() throws(GradusError) -> NoiseSchedule {
        let n = alphasCumprod.count
        guard n >= 2 else { throw .invalidArgument("rescaledToZeroTerminalSNR: needs at least 2 steps") }
        var s = alphasCumprod.map { gradus_sqrt($0) }
        let s0 = s[0], sT = s[n - 1]
        guard s0 > sT else { throw .invalidArgument("rescaledToZeroTerminalSNR: alpha-bar does not decrease") }
        let k = s0 / (s0 - sT)
        for i in 0..<n { s[i] = (s[i] - sT) * k }
        var betas = [Double](repeating: 0, count: n)
        var previous = 1.0
        for i in 0..<n {
            let bar = s[i] * s[i]
            // α_0 = ᾱ_0; α_i = ᾱ_i/ᾱ_{i−1}. ᾱ only reaches 0 at the last index, so the division is safe.
            let alpha = i == 0 ? bar : bar / previous
            betas[i] = min(max(1 - alpha, 0), 1)
            previous = bar
        }
        betas[n - 1] = 1
        return try NoiseSchedule(betas: betas)
    }

    /// `ᾱ_t`, or `final` when `t < 0` (the step past the end of the chain).
    /// - Throws: `GradusError.invalidArgument` when `t ≥ T`.
    public func alphaCumprod(at t: Int, final: Double = 1) throws(GradusError) -> Double {
        if t < 0 { return final }
        guard t < alphasCumprod.count else {
            throw .invalidArgument("timestep \(t) outside 0..<\(alphasCumprod.count)")
        }
        return alphasCumprod[t]
    }

    static func checkedSteps(_ steps: Int) throws(GradusError) -> Int {
        guard steps >= 1 else { throw .invalidArgument("NoiseSchedule: steps must be ≥ 1, got \(steps)") }
        return steps
    }

    /// `n` values evenly spaced from `a` to `b` inclusive (numpy/torch `linspace`).
    static func linspace(_ a: Double, _ b: Double, _ n: Int) -> [Double] {
        if n == 1 { return [a] }
        let step = (b - a) / Double(n - 1)
        var out = [Double](repeating: 0, count: n)
        // torch.linspace fills the second half backwards from `end` so that the last value is exact.
        let half = n / 2
        for i in 0..<n { out[i] = i < half ? a + step * Double(i) : b - step * Double(n - 1 - i) }
        return out
    }
}
