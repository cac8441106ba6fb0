import GradusRuntime

/// diffGrad's friction (Dubey et al., official `diffGrad_v2.py`), wrapped around the Adam preconditioner:
/// `ξ = σ(|g_prev − g|)`, `g_prev ← g`, output `ξ ⊙` (Adam's output). Owns `g_prev`.
///
/// The friction is defined on Adam's update (the paper's `dfc · m̂/(√v̂ + ε)`), so the transform wraps
/// `AdamPreconditioner` itself: ξ is computed inside Adam's own loop (`AdamPreconditioner.applyUpdatingDamped`),
/// one pass that reads `g, g_prev, m, v, θ` and writes `g_prev, m, v, θ`, and the update divides once:
/// `m/((√v + ε)(1 + e^−|Δg|))` rather than `m/(√v + ε)` times `1/(1 + e^−|Δg|)` (within an ulp of the official
/// `exp_avg · dfc / denom`; the float32 tolerance of the spec is 1e-5). For `Float` on a CPU with AVX2 and FMA that
/// loop is the C kernel `gradus__adam_step_f32_avx2` (`AdamStepKernel`; `GRADUS_NO_AVX2=1` forces the Swift loop).
public struct GradientChangeDamping<Scalar: OptimizerScalar>: GradientTransform {
    public typealias Inner = AdamPreconditioner<Scalar>
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
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        inner.prepare(&state.inner, shared: &shared, context: &context, rawStatistic: rawStatistic)
    }
    public var fusesParameterUpdate: Bool { true }

    /// The unfused path: Adam's output with the friction, `g_prev ← g` (`AdamPreconditioner.applyDamped`, the
    /// fused loop's arithmetic).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        inner.applyDamped(state.inner, input: input, previous: state.previous.base + block.offset, output: output, block: block)
    }

    /// Adam fused with the parameter update, ξ computed in the same loop.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        inner.applyUpdatingDamped(state.inner, input: input, previous: state.previous.base + block.offset,
                                  weights: weights, update: update, block: block)
    }
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool { inner.set(hyperparameter, to: value) }
    public func value(of hyperparameter: Hyperparameter) -> Double? { inner.value(of: hyperparameter) }
}
