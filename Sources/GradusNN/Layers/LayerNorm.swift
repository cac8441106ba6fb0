import GradusRuntime
import GradusTensor

extension Tensor {
    /// Layer normalisation over the trailing `normalizedRank` dimensions (biased variance, as PyTorch):
    /// `y = (x − μ)/√(σ² + eps) · weight + bias`. `weight`/`bias` (optional) have the normalised shape.
    ///
    /// One fused op (`LayerNormKernel`: Double statistics, each output rounded once). Its first-order backward is
    /// fused too; when the backward itself is recorded (`createGraph`), the gradient is written in differentiable
    /// ops instead, so gradients of any order flow.
    public func layerNormalized(normalizedRank: Int, weight: Tensor? = nil, bias: Tensor? = nil,
                                eps: Double = 1e-5) throws(GradusError) -> Tensor {
        guard normalizedRank >= 1, normalizedRank <= rank else {
            throw .shapeMismatch("layer_norm: cannot normalise the last \(normalizedRank) dimensions of \(shape)")
        }
        guard eps >= 0, eps.isFinite else { throw .invalidArgument("layer_norm: eps \(eps) must be finite and ≥ 0") }
        let normShape = Array(shape.suffix(normalizedRank))
        for (name, t) in [("weight", weight), ("bias", bias)] {
            guard let t else { continue }
            guard t.shape == normShape else { throw .shapeMismatch("layer_norm: \(name) \(t.shape) should be \(normShape)") }
            guard t.dtype == dtype else { throw .dtypeMismatch("layer_norm: \(name) is \(t.dtype), input \(dtype)") }
        }
        let width = normShape.reduce(1, *), rows = width == 0 ? 0 : count / width
        let (xc, wc, bc) = GradMode.withoutGrad { (contiguous(), weight?.contiguous(), bias?.contiguous()) }
        let y = Tensor.uninitializedContiguous(shape, dtype: dtype)
        func forward<T: TensorScalar>(_: T.Type) -> LayerNormKernel.Statistics {
            LayerNormKernel.forward(UnsafePointer(xc.basePointer(as: T.self)), into: y.basePointer(as: T.self), rows: rows,
                                    width: width, eps: eps, gamma: wc.map { UnsafePointer($0.basePointer(as: T.self)) },
                                    beta: bc.map { UnsafePointer($0.basePointer(as: T.self)) })
        }
        let stats = dtype == .float32 ? forward(Float.self) : forward(Double.self)
        let inputs = [self] + [weight, bias].compactMap { $0 }
        let hasWeight = weight != nil, hasBias = bias != nil, x = self
        return Tensor.custom(name: "layer_norm", inputs: inputs, output: y) { g throws(GradusError) in
            let grads: (dx: Tensor, dgamma: Tensor, dbeta: Tensor)
            if GradMode.isEnabled {
                grads = try layerNormRecordedBackward(x, g, weight: weight, normalizedRank: normalizedRank, eps: eps)
            } else {
                let gc = g.detached().contiguous()
                let dx = Tensor.uninitializedContiguous(xc.shape, dtype: xc.dtype)
                // ∂γ, ∂β only for the parameters given (an unused empty tensor stands in for the others).
                let dgamma = Tensor.uninitializedContiguous(hasWeight ? normShape : [0], dtype: xc.dtype)
                let dbeta = Tensor.uninitializedContiguous(hasBias ? normShape : [0], dtype: xc.dtype)
                func run<T: TensorScalar>(_: T.Type) {
                    LayerNormKernel.backward(UnsafePointer(xc.basePointer(as: T.self)), gradOutput: UnsafePointer(gc.basePointer(as: T.self)),
                                             stats, rows: rows, width: width,
                                             gamma: wc.map { UnsafePointer($0.basePointer(as: T.self)) },
                                             gradInput: dx.basePointer(as: T.self),
                                             dgamma: hasWeight ? dgamma.basePointer(as: T.self) : nil,
                                             dbeta: hasBias ? dbeta.basePointer(as: T.self) : nil)
                }
                if xc.dtype == .float32 { run(Float.self) } else { run(Double.self) }
                grads = (dx, dgamma, dbeta)
            }
            return [grads.dx] + (hasWeight ? [grads.dgamma] : []) + (hasBias ? [grads.dbeta] : [])
        }
    }
}

/// The backward of `layerNormalized` in recorded tensor ops (statistics recomputed from `x`), so the gradient can be
/// differentiated again: x̂ = (x − μ)/σ, ĝ = g·γ, ∂x = (ĝ − mean ĝ − x̂·mean(ĝ·x̂))/σ, ∂γ = Σ g·x̂, ∂β = Σ g.
private func layerNormRecordedBackward(_ x: Tensor, _ g: Tensor, weight: Tensor?, normalizedRank: Int,
                                       eps: Double) throws(GradusError) -> (dx: Tensor, dgamma: Tensor, dbeta: Tensor) {
    let axes = Array((x.rank - normalizedRank)..<x.rank), leading = Array(0..<(x.rank - normalizedRank))
    let centered = try x - x.mean(axes: axes, keepDims: true)
    let sigma = try (centered.square().mean(axes: axes, keepDims: true) + eps).sqrt()
    let xhat = try centered / sigma
    let ghat = try weight.map { w throws(GradusError) in try g * w } ?? g
    let dx = try (ghat - ghat.mean(axes: axes, keepDims: true) - xhat * (ghat * xhat).mean(axes: axes, keepDims: true)) / sigma
    let gx = try g * xhat
    return (dx, leading.isEmpty ? gx : try gx.sum(axes: leading), leading.isEmpty ? g : try g.sum(axes: leading))
}

/// Layer normalisation (PyTorch `nn.LayerNorm`) over the trailing dimensions `normalizedShape`, with an
/// optional elementwise affine transform: weight (ones) and bias (zeros) of shape `normalizedShape`.
public final class LayerNorm: Module, @unchecked Sendable {
    public let normalizedShape: [Int]
    public let eps: Double
    public let weight: Tensor?, bias: Tensor?

    /// - Parameters: `eps` (default 1e-5); `elementwiseAffine` (default true); `bias` (default true, only with affine).
    public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true,
                dtype: DType = .float32) throws(GradusError) {
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }) else {
            throw .invalidArgument("LayerNorm: normalized shape \(normalizedShape) must be non-empty and positive")
        }
        guard eps >= 0, eps.isFinite else { throw .invalidArgument("LayerNorm: eps \(eps) must be finite and ≥ 0") }
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Tensor.ones(normalizedShape, dtype: dtype).requiringGrad() : nil
        self.bias = elementwiseAffine && bias ? Tensor.zeros(normalizedShape, dtype: dtype).requiringGrad() : nil
    }

    /// One normalised dimension of size `features`.
    public convenience init(_ features: Int, eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true,
                            dtype: DType = .float32) throws(GradusError) {
        try self.init([features], eps: eps, elementwiseAffine: elementwiseAffine, bias: bias, dtype: dtype)
    }

    override public var localParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        if let weight { out.append(("weight", weight)) }
        if let bias { out.append(("bias", bias)) }
        return out
    }

    override public func forward(_ x: Tensor) throws(GradusError) -> Tensor {
        guard x.rank >= normalizedShape.count, Array(x.shape.suffix(normalizedShape.count)) == normalizedShape else {
            throw .shapeMismatch("LayerNorm(\(normalizedShape)): input \(x.shape) does not end with the normalized shape")
        }
        return try x.layerNormalized(normalizedRank: normalizedShape.count, weight: weight, bias: bias, eps: eps)
    }
}
