import Glibc
import GradusRuntime

/// Sinusoidal timestep embeddings (Vaswani et al.; DDPM; diffusers `get_timestep_embedding`).
///
/// For `half = dim / 2` frequencies `f_k = exp(−ln(maxPeriod)·k/(half − downscaleFreqShift))`, row `b` is
/// `scale·[sin(t_b·f_0) … sin(t_b·f_{half−1}), cos(t_b·f_0) … cos(t_b·f_{half−1})]` (cos first when
/// `flipSinToCos`), zero-padded by one column when `dim` is odd.
public struct SinusoidalTimeEmbedding: Sendable, Equatable {
    /// Embedding width.
    public var dim: Int
    /// Longest period (default 10000).
    public var maxPeriod: Double
    /// Denominator shift (default 1, diffusers; 0 gives the tensor2tensor/DDPM variant).
    public var downscaleFreqShift: Double
    /// Put cosines first (default false; Stable Diffusion's UNet uses true).
    public var flipSinToCos: Bool
    /// Multiplier of the arguments' output (default 1).
    public var scale: Double

    /// - Throws: `GradusError.invalidArgument` when `dim < 2` or `half − downscaleFreqShift ≤ 0`.
    public init(dim: Int, maxPeriod: Double = 10000, downscaleFreqShift: Double = 1, flipSinToCos: Bool = false,
                scale: Double = 1) throws(GradusError) {
        guard dim >= 2 else { throw .invalidArgument("SinusoidalTimeEmbedding: dim must be ≥ 2, got \(dim)") }
        guard Double(dim / 2) - downscaleFreqShift > 0 || dim / 2 == 1 && downscaleFreqShift == 0 else {
            throw .invalidArgument("SinusoidalTimeEmbedding: dim/2 − downscaleFreqShift must be positive")
        }
        guard maxPeriod > 0 else { throw .invalidArgument("SinusoidalTimeEmbedding: maxPeriod must be positive") }
        self.dim = dim; self.maxPeriod = maxPeriod; self.downscaleFreqShift = downscaleFreqShift
        self.flipSinToCos = flipSinToCos; self.scale = scale
    }

    /// Embeds timesteps (integer or fractional, e.g. flow `σ·T`): output `(B, dim)` row-major.
    public func callAsFunction<T: BinaryFloatingPoint>(_ timesteps: [Double], as: T.Type = T.self) -> [T] {
        let half = dim / 2
        var out = [T](repeating: 0, count: timesteps.count * dim)
        let denom = Double(half) - downscaleFreqShift
        var freqs = [Double](repeating: 0, count: half)
        for k in 0..<half { freqs[k] = exp(-log(maxPeriod) * Double(k) / denom) }
        let sinOffset = flipSinToCos ? half : 0, cosOffset = flipSinToCos ? 0 : half
        for (b, t) in timesteps.enumerated() {
            let row = b * dim
            for k in 0..<half {
                let arg = scale * t * freqs[k]
                out[row + sinOffset + k] = T(sin(arg))
                out[row + cosOffset + k] = T(cos(arg))
            }
        }
        return out
    }
}
