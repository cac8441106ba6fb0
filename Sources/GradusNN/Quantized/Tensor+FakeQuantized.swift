import GradusQuant
import GradusRuntime
import GradusTensor

/// Autograd ops over the GradusQuant kernels: fake quantization recorded on the tape with the
/// configured estimator as its backward (spec `lowbit.md` §1, §2, §5).
extension Tensor {
    /// `dequant(quant(x))` per `config`, in this tensor's dtype; the backward is `config.estimator`:
    /// STE passes the gradient unchanged, clipped STE masks it with `|x| ≤ clip`, ReSTE multiplies it by
    /// the surrogate derivative at the latent `x`.
    ///
    /// Groups are runs of consecutive elements of the row-major flattened tensor (spec §0).
    /// Large per-group inputs run on `ThreadPool.shared` in chunks of whole groups.
    ///
    /// - Throws: `GradusError.invalidArgument` for a bad configuration (group size not dividing the element
    ///   count, unsupported bit width, …).
    public func fakeQuantized(_ config: QuantConfig) throws(GradusError) -> Tensor {
        try config.validate(shape: shape)
        let x = GradMode.withoutGrad { contiguous() }
        let out = Tensor.uninitializedContiguous(shape, dtype: dtype)
        switch dtype {
        case .float32: try QuantOps.fakeQuantize(x.basePointer(as: Float.self), out.basePointer(as: Float.self), shape, config)
        case .float64: try QuantOps.fakeQuantize(x.basePointer(as: Double.self), out.basePointer(as: Double.self), shape, config)
        }
        let estimator = config.estimator
        return Tensor.custom(name: "fakeQuantize", inputs: [self], output: out) { g throws(GradusError) in
            if estimator == .ste { return [g] }
            return [try g * QuantOps.estimatorDerivative(x, estimator)]
        }
    }

    /// `sign(x)` (sign(0) = 0) with a straight-through-family backward (clipped STE, ReSTE, or plain STE):
    /// the binary activation of BNNs (spec §5.1).
    public func binarized(estimator: QuantEstimator = .clippedSTE(clip: 1)) throws(GradusError) -> Tensor {
        try fakeQuantized(QuantConfig(bits: 1, estimator: estimator))
    }

    /// The scaled binary weight `sign(W)·mean|W|` of ReSTE's `BinarizeConv2d` (spec §5.1). The scale is not
    /// detached: `∂W = g ⊙ f'(W)·mean|W| + sign(W)·Σ(g ⊙ sign(W))/N`. First-order only (the backward is a
    /// kernel, not recorded).
    public func scaledBinaryWeight(estimator: QuantEstimator = .clippedSTE(clip: 1)) throws(GradusError) -> Tensor {
        try QuantConfig(bits: 1, estimator: estimator).validate(shape: [count])
        let w = GradMode.withoutGrad { contiguous() }
        let out = Tensor.uninitializedContiguous(shape, dtype: dtype)
        let n = count
        switch dtype {
        case .float32: Binarize.scaledWeight(w.basePointer(as: Float.self), into: out.basePointer(as: Float.self), count: n)
        case .float64: Binarize.scaledWeight(w.basePointer(as: Double.self), into: out.basePointer(as: Double.self), count: n)
        }
        return Tensor.custom(name: "scaledBinaryWeight", inputs: [self], output: out) { g in
            let gc = g.detached().contiguous()
            let gw = Tensor.uninitializedContiguous(w.shape, dtype: w.dtype)
            switch w.dtype {
            case .float32:
                Binarize.scaledWeightBackward(w.basePointer(as: Float.self), gradOutput: gc.basePointer(as: Float.self),
                                              gradInput: gw.basePointer(as: Float.self), count: n, estimator: estimator)
            case .float64:
                Binarize.scaledWeightBackward(w.basePointer(as: Double.self), gradOutput: gc.basePointer(as: Double.self),
                                              gradInput: gw.basePointer(as: Double.self), count: n, estimator: estimator)
            }
            return [gw]
        }
    }

    /// Stable-SPAM's activation quantizer (`A8Linear`, spec §2.2): symmetric `bits`-bit per group of
    /// `groupSize` consecutive elements with the `topK` largest-|x| entries of each group kept exactly;
    /// straight-through backward.
    public func outlierKeepingQuantized(bits: Int = 4, groupSize: Int = 256, topK: Int = 2) throws(GradusError) -> Tensor {
        try StableSPAMQuant.validate(count: count, groupSize: groupSize, bits: bits, topK: topK)
        let x = GradMode.withoutGrad { contiguous() }
        let out = Tensor.uninitializedContiguous(shape, dtype: dtype)
        let n = count
        switch dtype {
        case .float32:
            StableSPAMQuant.activationQuantize(x.basePointer(as: Float.self), into: out.basePointer(as: Float.self), codes: nil,
                                               groupScales: nil, topKIndex: nil, count: n, groupSize: groupSize, bits: bits, topK: topK)
        case .float64:
            StableSPAMQuant.activationQuantize(x.basePointer(as: Double.self), into: out.basePointer(as: Double.self), codes: nil,
                                               groupScales: nil, topKIndex: nil, count: n, groupSize: groupSize, bits: bits, topK: topK)
        }
        return Tensor.custom(name: "outlierKeepingQuantize", inputs: [self], output: out) { g in [g] }
    }

    /// Stable-SPAM's "FP4" simulation (`Qfp4Linear`, spec §2.3): per group the top-k kept, the rest rounded
    /// to the 9-level grid `{−4…4}·α/4`; straight-through backward.
    public func stableSPAMFP4Quantized(groupSize: Int = 256, topK: Int = 2) throws(GradusError) -> Tensor {
        try StableSPAMQuant.validate(count: count, groupSize: groupSize, bits: 4, topK: topK)
        let x = GradMode.withoutGrad { contiguous() }
        let out = Tensor.uninitializedContiguous(shape, dtype: dtype)
        let n = count
        switch dtype {
        case .float32:
            StableSPAMQuant.fp4SimQuantize(x.basePointer(as: Float.self), into: out.basePointer(as: Float.self), gridIndex: nil,
                                           groupAlpha: nil, count: n, groupSize: groupSize, topK: topK)
        case .float64:
            StableSPAMQuant.fp4SimQuantize(x.basePointer(as: Double.self), into: out.basePointer(as: Double.self), gridIndex: nil,
                                           groupAlpha: nil, count: n, groupSize: groupSize, topK: topK)
        }
        return Tensor.custom(name: "stableSPAMFP4Quantize", inputs: [self], output: out) { g in [g] }
    }

    /// A fresh contiguous tensor whose elements the caller writes.
    static func uninitializedContiguous(_ shape: [Int], dtype: DType) -> Tensor {
        let n = Tensor.elementCount(shape)
        return Tensor(storage: Storage(byteCount: Swift.max(n, 1) * dtype.size), shape: shape,
                      strides: Tensor.contiguousStrides(shape), offset: 0, dtype: dtype)
    }
}

/// Raw-buffer plumbing shared by the quantized ops.
enum QuantOps {
    /// Elements below which the forward runs on the caller's thread.
    static let parallelThreshold = 1 << 15

    /// `FakeQuantize.forward`, split over the pool in chunks of whole groups when the configuration is
    /// per-group with deterministic rounding (the result does not depend on the split).
    static func fakeQuantize<T: TensorScalar>(_ x: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>, _ shape: [Int],
                                              _ config: QuantConfig) throws(GradusError) {
        let n = Tensor.elementCount(shape)
        guard n > 0 else { return }
        if case .perGroup(let g) = config.granularity, config.rounding == .nearestEven, n >= parallelThreshold,
           ThreadPool.shared.threadCount > 1 {
            let groups = n / g
            var chunkConfig = config
            chunkConfig.granularity = .perGroup(size: g)
            let grain = Swift.max(1, (parallelThreshold / 2) / g)
            ThreadPool.shared.parallelFor(groups, grain: grain) { r, _ in
                let start = r.lowerBound * g, len = r.count * g
                // Validated above with the full shape; a chunk of whole groups cannot fail.
                try? FakeQuantize.forward(UnsafePointer(x + start), into: out + start, shape: [len], config: chunkConfig)
            }
            return
        }
        try FakeQuantize.forward(UnsafePointer(x), into: out, shape: shape, config: config)
    }

    /// The estimator's derivative at the latent `x` as a constant tensor (mask for clipped STE).
    static func estimatorDerivative(_ x: Tensor, _ estimator: QuantEstimator) -> Tensor {
        let d = Tensor.ones(x.shape, dtype: x.dtype)
        let n = x.count
        switch x.dtype {
        case .float32:
            let p = d.basePointer(as: Float.self)
            EstimatorKernel.backward(estimator, x: x.basePointer(as: Float.self), gradOutput: p, gradInput: p, count: n)
        case .float64:
            let p = d.basePointer(as: Double.self)
            EstimatorKernel.backward(estimator, x: x.basePointer(as: Double.self), gradOutput: p, gradInput: p, count: n)
        }
        return d
    }
}
