import GradusRuntime
import GradusTensor

/// The number format a fake quantizer rounds to.
public enum QuantFormat: Sendable, Equatable {
    /// Uniform integer grid (`bits` 2…8 symmetric or asymmetric; `bits == 1` is binary `sign`).
    case int
    /// OCP E2M1 elements with a float scale `absmax/6` per group (spec §3.2).
    case fp4E2M1
    /// OCP MXFP4: E2M1 elements, shared power-of-two (E8M0) scale per block (spec §3.2).
    case mxfp4
    /// bitsandbytes NF4 codebook, absmax scale per block (spec §3.3).
    case nf4
    /// bitsandbytes "fp4" codebook (not E2M1), absmax scale per block (spec §3.3).
    case bnbFP4
}

/// Which elements share one scale (and zero point).
public enum QuantGranularity: Sendable, Equatable {
    /// One scale for the whole tensor.
    case perTensor
    /// One scale per index along `axis` (negative axes count from the end).
    case perChannel(axis: Int)
    /// One scale per run of `size` consecutive elements of the row-major flattened tensor.
    case perGroup(size: Int)
}

/// How scaled values are rounded to integer codes.
public enum QuantRounding: Sendable, Equatable {
    /// Round half to even (torch `round`, numpy `rint`).
    case nearestEven
    /// Stochastic rounding: `round_half_even(v + u − 0.5)`, `u ~ U[0, 1)` drawn from a Philox stream.
    case stochastic(seed: UInt64)
}

/// The surrogate gradient used in the backward pass of a non-differentiable quantizer.
public enum QuantEstimator: Sendable, Equatable {
    /// Straight-through: the incoming gradient passes unchanged.
    case ste
    /// Clipped straight-through: the gradient passes where `|x| ≤ clip`, else 0.
    case clippedSTE(clip: Double)
    /// ReSTE(o, t) (spec §5.1): derivative of `sign(z)|z|^(1/o)`, secant on `|z| ≤ 0.1`, 0 beyond `t`.
    case reste(o: Double, t: Double)
}

/// A complete fake-quantization configuration (forward format + backward estimator).
///
/// Defaults: INT8, symmetric, per tensor, round half to even, STE.
/// Call `validate(shape:)` (the kernels do) to get a `GradusError.invalidArgument` for bad combinations.
public struct QuantConfig: Sendable, Equatable {
    public var bits: Int
    public var format: QuantFormat
    public var symmetric: Bool
    public var granularity: QuantGranularity
    public var rounding: QuantRounding
    public var estimator: QuantEstimator

    public init(bits: Int = 8, format: QuantFormat = .int, symmetric: Bool = true,
                granularity: QuantGranularity = .perTensor, rounding: QuantRounding = .nearestEven,
                estimator: QuantEstimator = .ste) {
        self.bits = bits
        self.format = format
        self.symmetric = symmetric
        self.granularity = granularity
        self.rounding = rounding
        self.estimator = estimator
    }

    /// Checks the configuration against a tensor shape; returns the row-major `(outer, channels, inner)`
    /// decomposition each scale covers: a scale group is `inner` consecutive elements of channel `c`,
    /// repeated `outer` times with stride `channels·inner`.
    @discardableResult
    public func validate(shape: [Int]) throws(GradusError) -> (outer: Int, channels: Int, inner: Int) {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument("quant: negative dimension in shape \(shape)") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw .invalidArgument("quant: shape \(shape) overflows") }
            count = p
        }
        switch format {
        case .int:
            guard bits >= 1 && bits <= 8 else {
                throw .invalidArgument("quant: unsupported bit width \(bits) for integer format (use 1...8)")
            }
            if bits == 1 && !symmetric {
                throw .invalidArgument("quant: 1-bit (binary sign) quantization must be symmetric")
            }
        case .fp4E2M1, .mxfp4, .nf4, .bnbFP4:
            guard bits == 4 else { throw .invalidArgument("quant: format \(format) is 4-bit; got bits = \(bits)") }
            guard symmetric else { throw .invalidArgument("quant: format \(format) is symmetric (absmax scale)") }
            if case .stochastic = rounding {
                throw .invalidArgument("quant: stochastic rounding is only implemented for the integer format")
            }
        }
        if case .reste(let o, let t) = estimator {
            guard o >= 1, t > 0 else { throw .invalidArgument("quant: ReSTE needs o ≥ 1 and t > 0 (got o = \(o), t = \(t))") }
        }
        if case .clippedSTE(let c) = estimator, !(c > 0) {
            throw .invalidArgument("quant: clipped STE needs clip > 0 (got \(c))")
        }
        switch granularity {
        case .perTensor:
            if format == .mxfp4 { throw .invalidArgument("quant: MXFP4 needs per-group blocks (use .perGroup(size: 32))") }
            return (1, 1, count)
        case .perGroup(let g):
            guard g > 0 else { throw .invalidArgument("quant: group size must be positive (got \(g))") }
            guard count % g == 0 else {
                throw .invalidArgument("quant: group size \(g) does not divide the element count \(count) of shape \(shape)")
            }
            return (1, count / g, g)
        case .perChannel(let axis):
            if format == .mxfp4 { throw .invalidArgument("quant: MXFP4 needs per-group blocks (use .perGroup(size: 32))") }
            let a = axis < 0 ? axis + shape.count : axis
            guard a >= 0 && a < shape.count else {
                throw .invalidArgument("quant: channel axis \(axis) out of range for rank \(shape.count)")
            }
            var outer = 1, inner = 1
            for i in 0..<a { outer *= shape[i] }
            for i in (a + 1)..<shape.count { inner *= shape[i] }
            return (outer, shape[a], inner)
        }
    }

    /// Number of scales (and zero points) the configuration produces for `shape`.
    public func scaleCount(shape: [Int]) throws(GradusError) -> Int {
        let d = try validate(shape: shape)
        return d.channels
    }
}
