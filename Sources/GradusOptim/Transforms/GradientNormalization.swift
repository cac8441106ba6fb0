import GradusRuntime

/// Stable-SPAM's AdaGN: with `n = ‖g‖` and `γ1' = γ1·s_t`, `μ_n ← γ1'μ_n + (1 − γ1')n`,
/// `ν_n ← γ2 ν_n + (1 − γ2)n²`, `c = (μ_n/(1 − γ1'^k))/(√(ν_n/(1 − γ2^k)) + ε)` and `g ← g·c/n` (if n > 0).
/// Costs one norm pass; the rescale itself is folded into the later passes.
public struct GradientNormalization<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        var meanNorm = 0.0
        var meanSquaredNorm = 0.0
        public func write(to writer: inout StateWriter) {
            writer.write("m_norm_t", meanNorm)
            writer.write("v_norm_t", meanSquaredNorm)
        }
        public mutating func read(from reader: StateReader) throws(GradusError) {
            meanNorm = try reader.read("m_norm_t")
            meanSquaredNorm = try reader.read("v_norm_t")
        }
    }
    public var gamma1: Double
    public var gamma2: Double
    public var epsilon: Double
    public var gamma1Decay: CosineDecayFactor?
    public init(gamma1: Double = 0.7, gamma2: Double = 0.9, epsilon: Double = 1e-8, gamma1Decay: CosineDecayFactor? = nil) {
        self.gamma1 = gamma1; self.gamma2 = gamma2; self.epsilon = epsilon; self.gamma1Decay = gamma1Decay
    }
    public var name: String { "GradientNormalization" }
    public var modifiesUpdate: Bool { false }
    public func makeState(for parameter: ParameterInfo) -> State { State() }
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { StatisticRequest(count: 1) }
    /// Always Σx², so the executor may gather it in the pass before (for blocks AdaClip leaves unchanged).
    public func anticipatedInputStatistic(for parameter: ParameterInfo) -> StatisticRequest? { StatisticRequest(count: 1) }
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        accumulator[0] += Kernels.sumOfSquares(input, count: block.count)
    }
    public func absorb(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {
        let n = ScalarMath.sqrt(inputStatistic[0]), k = context.tensorStep
        let g1 = gamma1 * (gamma1Decay?.factor(atStep: context.globalStep) ?? 1)
        state.meanNorm = g1 * state.meanNorm + (1 - g1) * n
        state.meanSquaredNorm = gamma2 * state.meanSquaredNorm + (1 - gamma2) * n * n
        let mHat = state.meanNorm / (1 - ScalarMath.pow(g1, k))
        let vHat = state.meanSquaredNorm / (1 - ScalarMath.pow(gamma2, k))
        let c = mHat / (ScalarMath.sqrt(vHat) + epsilon)
        context.outputScale = n > 0 ? c / n : 1
    }
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }
}
