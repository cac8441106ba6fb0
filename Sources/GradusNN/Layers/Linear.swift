import GradusRuntime
import GradusTensor

/// y = x·Wᵀ + b, W of shape (out, in) as in PyTorch. One GEMM with the bias folded in.
public final class Linear: Module, @unchecked Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let inFeatures: Int, outFeatures: Int

    /// - Parameters: `bias` (default true); `seed` (default: next of `Init`); initialisation is PyTorch's
    ///   (Kaiming-uniform with a = √5 for W, U(±1/√in) for b).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, dtype: DType = .float32, seed: UInt64? = nil) throws(GradusError) {
        guard inFeatures > 0, outFeatures > 0 else { throw .invalidArgument("Linear(\(inFeatures), \(outFeatures)): sizes must be positive") }
        let (weights, overflow) = inFeatures.multipliedReportingOverflow(by: outFeatures)
        try BufferPool.requireFits(count: overflow ? nil : weights, elementSize: dtype.size,
                                   "Linear(\(inFeatures), \(outFeatures)): the weight")
        let s = seed ?? Init.nextSeed()
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Init.kaimingUniform([outFeatures, inFeatures], fanIn: inFeatures, seed: s, dtype: dtype).requiringGrad()
        self.bias = bias ? Init.biasUniform([outFeatures], fanIn: inFeatures, seed: s &+ 1, dtype: dtype).requiringGrad() : nil
    }

    override public var localParameters: [(String, Tensor)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        try Tensor.linear(input, weight: weight, bias: bias)
    }
}
