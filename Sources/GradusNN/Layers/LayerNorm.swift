import GradusRuntime
import GradusTensor

extension Tensor {
    /// Layer normalisation over the trailing `normalizedRank` dimensions (biased variance, as PyTorch):
    /// `y = (x − μ)/√(σ² + eps) · weight + bias`. `weight`/`bias` (optional) have the normalised shape.
    /// Composite of differentiable ops, so gradients of any order flow.
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
        let axes = Array((rank - normalizedRank)..<rank)
        let centered = try self - mean(axes: axes, keepDims: true)
        let variance = try centered.square().mean(axes: axes, keepDims: true)
        var y = try centered / (variance + eps).sqrt()
        if let weight { y = try y * weight }
        if let bias { y = try y + bias }
        return y
    }
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
