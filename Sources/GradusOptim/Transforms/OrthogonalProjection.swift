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

/// diffGrad's friction (Dubey et al., official `diffGrad_v2.py`), wrapped around the Adam preconditioner:
/// `ξ = σ(|g_prev − g|)`, `g_prev ← g`, output `ξ ⊙` (inner output). Owns `g_prev`.
public struct GradientChangeDamping<Inner: GradientTransform>: GradientTransform {
    public typealias Scalar = Inner.Scalar
    public struct State: TransformState {
        public var inner: Inner.State
        public let previous: StateBuffer<Scalar>
        let shape: [Int]
        public func write(to writer: inout StateWriter) {
            inner.write(to: &writer)
            writer.write("previous_grad", previous, shape: shape)
        }
        public mutating func read(from reader: StateReader) throws(GradusError) {
            try inner.read(from: reader)
            try reader.read("previous_grad", into: previous)
        }
    }
    public var inner: Inner
    public init(_ inner: Inner) { self.inner = inner }
    public var name: String { "GradientChangeDamping(\(inner.name))" }
    public func makeState(for parameter: ParameterInfo) -> State {
        State(inner: inner.makeState(for: parameter), previous: StateBuffer(count: parameter.count), shape: parameter.shape)
    }
    public func makeSharedState() -> Inner.SharedState { inner.makeSharedState() }
    public func beginStep(_ shared: inout Inner.SharedState, globalStep: Int, globalRawStatistic: [Double]?) {
        inner.beginStep(&shared, globalStep: globalStep, globalRawStatistic: globalRawStatistic)
    }
    public func prepare(_ state: inout State, shared: inout Inner.SharedState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        inner.prepare(&state.inner, shared: &shared, context: &context, rawStatistic: rawStatistic)
    }
    public var fusesParameterUpdate: Bool { inner.fusesParameterUpdate }

    /// ξ of one block into `block.workspace`, and `g_prev ← g`.   g, g_prev, ξ: (n)
    @inline(__always)
    func friction(_ state: State, input: UnsafePointer<Scalar>, block: BlockContext<Scalar>) -> UnsafeMutablePointer<Scalar> {
        let prev = state.previous.base + block.offset, xi = block.workspace
        var i = 0
        while i < block.count {
            let g = input[i]
            xi[i] = 1 / (1 + Scalar.fastExponential(-(prev[i] - g).magnitude))
            prev[i] = g
            i &+= 1
        }
        return xi
    }

    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        // ξ goes to the workspace first: input may alias output, which the inner transform overwrites.
        let xi = friction(state, input: input, block: block)
        let e = inner.apply(state.inner, input: input, output: output, block: block)
        Kernels.multiply(output, by: xi, count: block.count)
        return e
    }

    /// ξ, then the inner transform fused with the parameter update, with ξ as its elementwise weights.
    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        let xi = friction(state, input: input, block: block)
        if let w = weights { Kernels.multiply(xi, by: w, count: block.count) }
        return inner.applyUpdating(state.inner, input: input, weights: UnsafePointer(xi), update: update, block: block)
    }
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool { inner.set(hyperparameter, to: value) }
    public func value(of hyperparameter: Hyperparameter) -> Double? { inner.value(of: hyperparameter) }
}
