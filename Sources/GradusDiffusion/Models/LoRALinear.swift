import GradusRuntime
import GradusTensor
import GradusNN

/// A linear layer with a low-rank adapter (Hu et al., "LoRA"; AlignProp fine-tunes these):
/// `y = x·(W₀ + (α/r)·B·A)ᵀ + b`, with `W₀` (out, in) and `b` frozen, `A` (r, in) and `B` (out, r) trainable.
///
/// Standard init: `B = 0` (the adapted layer starts equal to the base), `A` Kaiming-uniform like a `Linear`.
/// The frozen weight and bias are buffers (`weight`, `bias`), so `parameters` lists only `lora_A`, `lora_B`
/// and an optimizer built from it trains the adapter alone; checkpoints still carry everything.
/// Computed as `x·W₀ᵀ + b + (α/r)·(x·Aᵀ)·Bᵀ` (never forms `B·A`), so the cost is two thin GEMMs.
public final class LoRALinear: Module, @unchecked Sendable {
    /// Frozen base weight (out, in).
    public let weight: Tensor
    /// Frozen base bias (out), if any.
    public let bias: Tensor?
    /// Adapter down-projection (rank, in).
    public let loraA: Tensor
    /// Adapter up-projection (out, rank).
    public let loraB: Tensor
    /// Rank `r` and scale `α`.
    public let rank: Int, alpha: Double
    /// `α / r`.
    public var scaling: Double { alpha / Double(rank) }

    /// Wraps explicit tensors. `weight`/`bias` are detached (frozen); `loraA`/`loraB` are used as given and marked
    /// as requiring gradients.
    /// - Throws: `GradusError.shapeMismatch` for inconsistent shapes, `.invalidArgument` for `alpha` not finite.
    public init(weight: Tensor, bias: Tensor?, loraA: Tensor, loraB: Tensor, alpha: Double) throws(GradusError) {
        guard weight.rank == 2 else { throw .shapeMismatch("LoRALinear: weight must be (out, in), got \(weight.shape)") }
        let out = weight.shape[0], inF = weight.shape[1]
        guard loraA.rank == 2, loraA.shape[1] == inF, loraA.shape[0] >= 1 else {
            throw .shapeMismatch("LoRALinear: lora_A must be (rank, \(inF)), got \(loraA.shape)")
        }
        let r = loraA.shape[0]
        guard loraB.shape == [out, r] else { throw .shapeMismatch("LoRALinear: lora_B must be [\(out), \(r)], got \(loraB.shape)") }
        if let bias, bias.shape != [out] { throw .shapeMismatch("LoRALinear: bias must be [\(out)], got \(bias.shape)") }
        guard loraA.dtype == weight.dtype, loraB.dtype == weight.dtype, bias.map({ $0.dtype == weight.dtype }) ?? true else {
            throw .dtypeMismatch("LoRALinear: all tensors must share the weight's dtype \(weight.dtype)")
        }
        guard alpha.isFinite else { throw .invalidArgument("LoRALinear: alpha must be finite") }
        self.weight = weight.detached()
        self.bias = bias?.detached()
        self.loraA = loraA.isLeaf ? loraA.requiringGrad() : loraA.detached().requiringGrad()
        self.loraB = loraB.isLeaf ? loraB.requiringGrad() : loraB.detached().requiringGrad()
        self.rank = r
        self.alpha = alpha
    }

    /// Adapts a trained `Linear`: its weight and bias are shared (not copied) and frozen.
    /// - Parameters: rank ≥ 1; alpha (default: rank, i.e. scaling 1); seed for `A` (default `Init.nextSeed()`).
    public convenience init(base: Linear, rank: Int, alpha: Double? = nil, seed: UInt64? = nil) throws(GradusError) {
        guard rank >= 1 else { throw .invalidArgument("LoRALinear: rank must be ≥ 1, got \(rank)") }
        let dtype = base.weight.dtype
        let a = Init.kaimingUniform([rank, base.inFeatures], fanIn: base.inFeatures, seed: seed ?? Init.nextSeed(), dtype: dtype)
        let b = Tensor.zeros([base.outFeatures, rank], dtype: dtype)
        try self.init(weight: base.weight, bias: base.bias, loraA: a, loraB: b, alpha: alpha ?? Double(rank))
    }

    override public var localParameters: [(String, Tensor)] { [("lora_A", loraA), ("lora_B", loraB)] }
    override public var localBuffers: [(String, Tensor)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }
    override public func setBuffer(_ name: String, _ value: Tensor) throws(GradusError) {
        let target: Tensor
        switch name {
        case "weight": target = weight
        case "bias": guard let bias else { throw .notFound("LoRALinear has no bias") }; target = bias
        default: throw .notFound("LoRALinear has no buffer \(name)")
        }
        guard value.shape == target.shape else { throw .shapeMismatch("LoRALinear.\(name): shape \(value.shape), expected \(target.shape)") }
        GradMode.withoutGrad { GradusTensor.Kernels.copy(from: value, to: target) }
    }

    // x: (..., in) -> (..., out)
    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        let base = try Tensor.linear(input, weight: weight, bias: bias)
        let low = try Tensor.linear(input, weight: loraA, bias: nil)          // (..., r)
        let up = try Tensor.linear(low, weight: loraB, bias: nil)             // (..., out)
        return try base + up * scaling
    }

    /// The merged weight `W₀ + (α/r)·B·A` (out, in), without gradient.
    public func mergedWeight() throws(GradusError) -> Tensor {
        try GradMode.withoutGrad { () throws(GradusError) in try weight + loraB.matmul(loraA) * scaling }
    }
}
