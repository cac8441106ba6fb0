import _GradusShims
import GradusRuntime

/// DDIM step (Song et al. 2021, eq. 12; diffusers `DDIMScheduler.step`, no clipping,
/// `use_clipped_model_output = false`). The step is a pure function: the noise `z` is an input.
///
/// `σ_t = η·√((1−ᾱ')/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ'))`, `x_{t'} = √ᾱ'·x̂₀ + √(1 − ᾱ' − σ_t²)·ε̂ + σ_t·z` (last term when η > 0).
/// `η = 0` is deterministic DDIM; `η = 1` matches DDPM's posterior variance.
public struct DDIMSampler: Sendable {
    /// The training schedule.
    public var schedule: NoiseSchedule
    /// The model's parameterisation.
    public var kind: Parameterization
    /// `ᾱ'` past the end of the chain: 1 when true, else `ᾱ_0` (diffusers `set_alpha_to_one`).
    public var setAlphaToOne: Bool
    /// Clamp `x̂₀` to `[−range, range]` when non-nil (default nil: no clipping).
    public var clipSample: Double?

    /// - Parameters: schedule; kind default `.epsilon`; setAlphaToOne default true; clipSample default nil.
    public init(schedule: NoiseSchedule, kind: Parameterization = .epsilon, setAlphaToOne: Bool = true, clipSample: Double? = nil) {
        self.schedule = schedule; self.kind = kind; self.setAlphaToOne = setAlphaToOne; self.clipSample = clipSample
    }

    /// `ᾱ'` used when the previous timestep is negative.
    public var finalAlphaCumprod: Double { setAlphaToOne ? 1 : schedule.alphasCumprod[0] }

    /// One step from `t` to `prevT`. `noise` is required when `eta > 0`.
    /// - Parameter eta: default 0.
    /// - Returns: `(prev, x0, stdDev)`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public func step<T: BinaryFloatingPoint>(
        modelOutput: [T], t: Int, prevT: Int, sample: [T], eta: Double = 0, noise: [T]?
    ) throws(GradusError) -> (prev: [T], x0: [T], stdDev: Double) {
        guard t >= 0 else { throw .invalidArgument("DDIMSampler: negative timestep \(t)") }
        guard prevT < t else { throw .invalidArgument("DDIMSampler: prevT \(prevT) must be below t \(t)") }
        return try DDIMSampler.step(modelOutput: modelOutput, kind: kind, alphaCumprod: try schedule.alphaCumprod(at: t),
                                    alphaCumprodPrev: try schedule.alphaCumprod(at: prevT, final: finalAlphaCumprod),
                                    sample: sample, eta: eta, noise: noise, clipSample: clipSample)
    }

    /// The step with explicit `ᾱ_t` and `ᾱ'` (what the golden cases give).
    /// - Parameter clipSample: clamp `x̂₀` to `[−range, range]` when non-nil (default nil); `ε̂` stays the model's
    ///   (diffusers `use_clipped_model_output = false`).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func step<T: BinaryFloatingPoint>(
        modelOutput: [T], kind: Parameterization, alphaCumprod abarT: Double, alphaCumprodPrev abarPrev: Double,
        sample: [T], eta: Double = 0, noise: [T]?, clipSample: Double? = nil
    ) throws(GradusError) -> (prev: [T], x0: [T], stdDev: Double) {
        guard abarT >= 0, abarT < 1, abarPrev > 0, abarPrev <= 1 else {
            throw .invalidArgument("DDIMSampler: alpha-bar values (\(abarT), \(abarPrev)) out of range")
        }
        guard eta >= 0, eta.isFinite else { throw .invalidArgument("DDIMSampler: eta must be ≥ 0") }
        // In Double, rounded once at the end (see DDPMSampler).
        let m64 = modelOutput.map { Double($0) }, x64 = sample.map { Double($0) }
        var x0 = try Diffusion.predictX0(from: m64, kind: kind, xt: x64, alphaCumprod: [abarT])
        let eps = try Diffusion.predictEpsilon(from: m64, kind: kind, xt: x64, alphaCumprod: [abarT])
        if let range = clipSample {
            guard range > 0 else { throw .invalidArgument("DDIMSampler: clip range must be positive") }
            x0.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { Kernels.clamp(base, limit: range, count: p.count) }
            }
        }
        let variance = (1 - abarPrev) / (1 - abarT) * (1 - abarT / abarPrev)
        let std = eta * gradus_sqrt(max(variance, 0))
        let direction = gradus_sqrt(max(1 - abarPrev - std * std, 0))
        let addsNoise = eta > 0
        if addsNoise {
            guard let noise else { throw .invalidArgument("DDIMSampler: noise is required when eta > 0") }
            guard noise.count == sample.count else {
                throw .shapeMismatch("DDIMSampler: noise has \(noise.count) elements, sample \(sample.count)")
            }
        }
        if sample.isEmpty { return ([], [], std) }
        var prev = [Double](repeating: 0, count: sample.count)
        x0.withUnsafeBufferPointer { px in
            eps.withUnsafeBufferPointer { pe in
                prev.withUnsafeMutableBufferPointer { po in
                    if addsNoise, let noise {
                        noise.map { Double($0) }.withUnsafeBufferPointer { pz in
                            Kernels.axpbypcz(gradus_sqrt(abarPrev), px.baseAddress!, direction, pe.baseAddress!,
                                             std, pz.baseAddress!, into: po.baseAddress!, count: po.count)
                        }
                    } else {
                        Kernels.axpby(gradus_sqrt(abarPrev), px.baseAddress!, direction, pe.baseAddress!,
                                      into: po.baseAddress!, count: po.count)
                    }
                }
            }
        }
        return (prev.map { T($0) }, x0.map { T($0) }, std)
    }
}
