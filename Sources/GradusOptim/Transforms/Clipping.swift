import GradusRuntime

/// Clips every coordinate to `[−c, c]` (optax `clip`; torch `clip_grad_value_`).
public struct ClipByValue<Scalar: OptimizerScalar>: GradientTransform {
    public var limit: Double
    public init(_ limit: Double) { self.limit = limit }
    public var name: String { "ClipByValue" }
    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { nil }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let c = Scalar(limit)
        var clipped = 0
        for i in 0..<block.count {
            let x = input[i]
            if x > c { output[i] = c; clipped += 1 } else if x < -c { output[i] = -c; clipped += 1 } else { output[i] = x }
        }
        return clipped
    }
}

/// Rescales the update so the norm over every tensor of the chain is at most `maxNorm`
/// (torch `clip_grad_norm_`: factor `min(1, maxNorm/(‖g‖ + 1e-6))`). Costs one norm pass.
public struct ClipByGlobalNorm<Scalar: OptimizerScalar>: GradientTransform {
    public var maxNorm: Double
    public init(_ maxNorm: Double) { self.maxNorm = maxNorm }
    public var name: String { "ClipByGlobalNorm" }
    public var modifiesUpdate: Bool { false }
    public var isScaleEquivariant: Bool { true }
    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { StatisticRequest(count: 1, scope: .global) }
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        accumulator[0] += Kernels.sumOfSquares(input, count: block.count)
    }
    public func absorb(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {
        context.outputScale = Swift.min(1, maxNorm / (ScalarMath.sqrt(inputStatistic[0]) + 1e-6))
    }
    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }
}
