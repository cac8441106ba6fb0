import GradusRuntime
import GradusTensor

/// Config-driven fake quantization: the forward and backward kernels the autograd wrapper
/// (`fakeQuantize(tensor, config)` in the tape) and quantized layers call.
///
/// ```swift
/// let cfg = QuantConfig(bits: 4, symmetric: false, granularity: .perGroup(size: 128))
/// try FakeQuantize.forward(x, into: y, shape: [out, in], config: cfg)          // y = dequant(quant(x))
/// try FakeQuantize.backward(x, gradOutput: g, gradInput: gx, count: n, config: cfg)  // STE / clipped / ReSTE
/// ```
public enum FakeQuantize {
    /// Forward `out = dequant(quant(x))` in the input dtype; returns nothing else (use the format kernels
    /// for codes and scales). `out` may alias `x`.
    ///
    /// - Throws: `GradusError.invalidArgument` for a bad configuration (group size not dividing the element
    ///   count, unsupported bit width, per-channel on a block format, …).
    @inlinable
    public static func forward<T: TensorScalar>(_ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, shape: [Int],
                                                config: QuantConfig) throws(GradusError) {
        let layout = try config.layout(shape: shape)
        let n = layout.count
        guard n > 0 else { return }
        switch config.format {
        case .int:
            try withUnsafeTemporaryAllocation(of: T.self, capacity: layout.channels) { (scales) throws(GradusError) in
                if case .stochastic(let seed) = config.rounding {
                    let noise = UnsafeMutablePointer<T>.allocate(capacity: n)
                    defer { noise.deallocate() }
                    IntQuantKernel.fillUniformNoise(noise, count: n, seed: seed)
                    IntQuantKernel.fakeQuantize(x, into: out, codes: nil, scales: scales.baseAddress!, zeroPoints: nil,
                                                layout: layout, bits: config.bits, symmetric: config.symmetric,
                                                noise: UnsafePointer(noise))
                } else {
                    IntQuantKernel.fakeQuantize(x, into: out, codes: nil, scales: scales.baseAddress!, zeroPoints: nil,
                                                layout: layout, bits: config.bits, symmetric: config.symmetric)
                }
            }
        case .fp4E2M1:
            FP4.absmaxFakeQuantize(x, into: out, codes: nil, scales: nil, layout: layout)
        case .mxfp4:
            FP4.mxfp4FakeQuantize(x, into: out, codes: nil, scaleExponents: nil, count: n, blockSize: layout.inner)
        case .nf4, .bnbFP4:
            guard layout.outer == 1 else {
                throw .invalidArgument("quant: \(config.format) uses consecutive blocks; per-channel is only supported for axis 0")
            }
            let cb: Codebook = config.format == .nf4 ? .nf4 : .bnbFP4
            let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
            defer { codes.deallocate() }
            let absmax = UnsafeMutablePointer<T>.allocate(capacity: layout.channels)
            defer { absmax.deallocate() }
            BlockwiseKernel.quantize(x, count: n, blockSize: layout.inner, codebook: cb, codes: codes, absmax: absmax)
            BlockwiseKernel.dequantize(codes: codes, absmax: absmax, count: n, blockSize: layout.inner, codebook: cb, into: out)
        }
    }

    /// Backward of the fake quantizer: writes `gradInput` from `gradOutput` with `config.estimator`
    /// (STE identity, clipped STE mask `|x| ≤ clip`, or the ReSTE derivative at the latent `x`).
    /// `gradInput` may alias `gradOutput`.
    @inlinable
    public static func backward<T: TensorScalar>(_ x: UnsafePointer<T>, gradOutput: UnsafePointer<T>,
                                                 gradInput: UnsafeMutablePointer<T>, count: Int,
                                                 config: QuantConfig) throws(GradusError) {
        guard count >= 0 else { throw .invalidArgument("quant backward: negative count") }
        var c = config
        c.granularity = .perTensor  // the backward is element-wise; only the format/estimator matter
        if c.format == .mxfp4 { c.format = .fp4E2M1 }
        try c.validate(shape: [count])
        EstimatorKernel.backward(config.estimator, x: x, gradOutput: gradOutput, gradInput: gradInput, count: count)
    }

    /// Array convenience for tests and small tensors.
    public static func forward<T: TensorScalar>(_ x: [T], shape: [Int], config: QuantConfig) throws(GradusError) -> [T] {
        guard shape.reduce(1, *) == x.count else {
            throw .shapeMismatch("quant: shape \(shape) does not match \(x.count) elements")
        }
        var out = [T](repeating: 0, count: x.count)
        try x.withUnsafeBufferPointer { (xb) throws(GradusError) in
            try out.withUnsafeMutableBufferPointer { (ob) throws(GradusError) in
                guard let xp = xb.baseAddress, let op = ob.baseAddress else { return }
                try forward(xp, into: op, shape: shape, config: config)
            }
        }
        return out
    }
}
