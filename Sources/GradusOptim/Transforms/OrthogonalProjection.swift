import GradusRuntime
import GradusTensor

/// ⊥Grad (Prieto et al., official `orthograd.py`): per tensor, removes the component of the gradient along
/// the weights and restores the original norm:
/// `g⊥ = g − (w·g/(w·w + 1e-30))·w`, output `g⊥·‖g‖/(‖g⊥‖ + 1e-30)`.
/// Costs one pass for the dot products (`w·g`, `w·w`, `g·g`); `‖g⊥‖² = g·g − 2c·w·g + c²·w·w`.
/// The dot products, the coefficient and the projection are GradusTensor's shared `Projection` kernels
/// (the same code as AdamP's projection and APG guidance).
public struct OrthogonalProjection<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        var coefficient: Double = 0
        var rescale: Double = 1
        public func write(to writer: inout StateWriter) {}
        public mutating func read(from reader: StateReader) throws(GradusError) {}
    }
    /// ⊥Grad's floor: `w·g/(w·w + 1e-30)`.
    public static var floor: NormFloor { .addSquared(1e-30) }

    public init() {}
    public var name: String { "OrthogonalProjection" }
    public var isScaleEquivariant: Bool { true }
    public var isRecomputable: Bool { true }
    public func makeState(for parameter: ParameterInfo) -> State { State() }
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { StatisticRequest(count: 3) }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        // [w·g, w·w, g·g] in one pass over the block; g: the block's input, w: its weights, both (n).
        Projection.accumulate(input, block.parameters, count: block.count,
                              dot: &accumulator[0], uu: &accumulator[1], vv: &accumulator[2])
    }
    public func absorb(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic s: [Double]) {
        (state.rescale, state.coefficient) = Self.coefficients(wg: s[0], ww: s[1], gg: s[2])
    }
    /// The projection coefficient `c` and the norm-restoring factor from the three dot products.
    public static func coefficients(wg: Double, ww: Double, gg: Double) -> (rescale: Double, coefficient: Double) {
        let c = Projection.coefficient(dot: wg, uNormSquared: ww, floor: floor)
        let perp2 = Swift.max(0, gg - 2 * c * wg + c * c * ww)
        return (ScalarMath.sqrt(gg) / (ScalarMath.sqrt(perp2) + 1e-30), c)
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        Projection.removeComponent(input, along: block.parameters, coefficient: state.coefficient, scale: state.rescale,
                                   out: output, count: block.count)
        return 0
    }
}
