import GradusRuntime

/// Periodic momentum reset around a transform with resettable state (SPAM, Stable-SPAM): at global
/// steps `t` that are multiples of `interval`, the inner state is zeroed for every block.
public struct MomentumReset<Inner: ResettableTransform>: GradientTransform {
    public typealias Scalar = Inner.Scalar
    public enum Timing: Sendable {
        /// Zero, then update (SPAM): the step starts from empty moments; `k` keeps counting.
        case beforeUpdate
        /// Update with the old moments, then zero (official Stable-SPAM, "use, then zero"), and restart
        /// the tensor's step counter at 1 for this step's bias corrections.
        case afterUpdateRestartingCount
    }
    public struct State: TransformState {
        public var inner: Inner.State
        var isResetStep = false
        public func write(to writer: inout StateWriter) { inner.write(to: &writer) }
        public mutating func read(from reader: StateReader) throws(GradusError) { try inner.read(from: reader) }
    }
    public var inner: Inner
    public var interval: Int
    public var timing: Timing
    public init(_ inner: Inner, interval: Int, timing: Timing) {
        self.inner = inner; self.interval = interval; self.timing = timing
    }
    public var name: String { "MomentumReset(\(inner.name))" }
    public var isScaleEquivariant: Bool { inner.isScaleEquivariant }
    public func makeState(for parameter: ParameterInfo) -> State { State(inner: inner.makeState(for: parameter)) }
    public func makeSharedState() -> Inner.SharedState { inner.makeSharedState() }
    public func beginStep(_ shared: inout Inner.SharedState, globalStep: Int, globalRawStatistic: [Double]?) {
        inner.beginStep(&shared, globalStep: globalStep, globalRawStatistic: globalRawStatistic)
    }
    /// True when global step `t` resets.
    public func isResetStep(_ t: Int) -> Bool { interval > 0 && t % interval == 0 }
    public func prepare(_ state: inout State, shared: inout Inner.SharedState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        state.isResetStep = isResetStep(context.globalStep)
        if state.isResetStep && timing == .afterUpdateRestartingCount { context.tensorStep = 1 }
        return inner.prepare(&state.inner, shared: &shared, context: &context, rawStatistic: rawStatistic)
    }
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        inner.accumulateInputStatistic(accumulator, input: input, block: block)
    }
    public func absorb(_ state: inout State, shared: inout Inner.SharedState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {
        inner.absorb(&state.inner, shared: &shared, context: &context, inputStatistic: inputStatistic)
    }
    // Specialised for the chains that use it (Stable-SPAM, Stable-SPAM 8-bit, SPAM): unspecialised, the per-block
    // call into the generic inner transform looked up generic metadata on every block (~4% of a Stable-SPAM step).
    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    @_specialize(where Inner == AdamPreconditioner8bit<Float>) @_specialize(where Inner == AdamPreconditioner8bit<Double>)
    @_specialize(where Inner == SpikeAwareClipping<AdamPreconditioner<Float>>)
    @_specialize(where Inner == SpikeAwareClipping<AdamPreconditioner<Double>>)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        guard state.isResetStep else { return inner.apply(state.inner, input: input, output: output, block: block) }
        switch timing {
        case .beforeUpdate:
            inner.reset(state.inner, block: block)
            return inner.apply(state.inner, input: input, output: output, block: block)
        case .afterUpdateRestartingCount:
            let e = inner.apply(state.inner, input: input, output: output, block: block)
            inner.reset(state.inner, block: block)
            return e
        }
    }
    public var fusesParameterUpdate: Bool { inner.fusesParameterUpdate }
    public var fusesInputScale: Bool { inner.fusesInputScale }
    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    @_specialize(where Inner == AdamPreconditioner8bit<Float>) @_specialize(where Inner == AdamPreconditioner8bit<Double>)
    @_specialize(where Inner == SpikeAwareClipping<AdamPreconditioner<Float>>)
    @_specialize(where Inner == SpikeAwareClipping<AdamPreconditioner<Double>>)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        guard state.isResetStep else {
            return inner.applyUpdating(state.inner, input: input, weights: weights, update: update, block: block)
        }
        switch timing {
        case .beforeUpdate:
            inner.reset(state.inner, block: block)
            return inner.applyUpdating(state.inner, input: input, weights: weights, update: update, block: block)
        case .afterUpdateRestartingCount:
            let e = inner.applyUpdating(state.inner, input: input, weights: weights, update: update, block: block)
            inner.reset(state.inner, block: block)
            return e
        }
    }
    public func reset(_ state: State, block: BlockContext<Scalar>) { inner.reset(state.inner, block: block) }
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool { inner.set(hyperparameter, to: value) }
    public func value(of hyperparameter: Hyperparameter) -> Double? { inner.value(of: hyperparameter) }
}
extension MomentumReset: ResettableTransform {}

/// SPAM's cosine warm-up after each reset, as a factor on the update: `s(c) = 1 − r(c)`,
/// `r(c) = 0.99(1 + cos(πc/(W + 1)))/2` for `c < W`, else 0, where `c` counts steps since the last reset
/// (`W + 1 + N` before the first). Folded into the parameter update.
public struct ResetWarmup<Scalar: OptimizerScalar>: GradientTransform {
    public var warmupSteps: Int
    public var interval: Int
    public init(warmupSteps: Int = 150, interval: Int = 500) { self.warmupSteps = warmupSteps; self.interval = interval }
    public var name: String { "ResetWarmup" }
    public var modifiesUpdate: Bool { false }
    public var isScaleEquivariant: Bool { true }

    /// The warm-up counter `c` at global step `t` (1-based).
    public func counter(atStep t: Int) -> Int {
        let n = t - 1
        guard interval > 0 else { return warmupSteps + 1 + n }
        let lastReset = n - (n + 1) % interval
        return lastReset >= 1 ? n - lastReset : warmupSteps + 1 + n
    }
    /// The factor `s` at global step `t`.
    public func factor(atStep t: Int) -> Double {
        let c = counter(atStep: t)
        guard c < warmupSteps else { return 1 }
        return 1 - 0.99 * (1 + ScalarMath.cos(Double.pi * Double(c) / Double(warmupSteps + 1))) / 2
    }
    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        context.outputScale = factor(atStep: context.globalStep)
        return nil
    }
    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }
}
