import GradusRuntime

/// Stable-SPAM's AdaClip: `μ_max ← γ3 μ_max + (1 − γ3)·max|g|`, `μ̂ = μ_max/(1 − γ3^k)`, and every entry
/// with `|g| > μ̂` becomes `g/max|g|·μ̂` (sign kept). Costs one max pass. Events: clipped entries.
public struct SpikeClipping<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        var maxEMA = 0.0
        var threshold: Scalar = 0
        var maximum: Scalar = 0
        public func write(to writer: inout StateWriter) { writer.write("m_max_t", maxEMA) }
        public mutating func read(from reader: StateReader) throws(GradusError) { maxEMA = try reader.read("m_max_t") }
    }
    /// γ3 (the paper's θ).
    public var gamma3: Double
    public init(gamma3: Double = 0.999) { self.gamma3 = gamma3 }
    public var name: String { "SpikeClipping" }
    public var isRecomputable: Bool { true }
    public func makeState(for parameter: ParameterInfo) -> State { State() }
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { StatisticRequest(count: 1, reduction: .max) }
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {
        accumulator[0] = Swift.max(accumulator[0], Kernels.maxMagnitude(input, count: block.count))
    }
    public func absorb(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {
        let m = inputStatistic[0]
        state.maxEMA = gamma3 * state.maxEMA + (1 - gamma3) * m
        state.threshold = Scalar(state.maxEMA / (1 - ScalarMath.pow(gamma3, context.tensorStep)))
        state.maximum = Scalar(m)
    }
    /// A block whose largest |g| does not exceed the threshold has no spike: clipping leaves it as it is.
    public func leavesBlockUnchanged(_ state: State, blockStatistic: UnsafePointer<Double>) -> Bool {
        Scalar(blockStatistic[0]) <= state.threshold
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        // Branch-free (selects and a counted mask), so the loop vectorises; a 32-bit count (a block has at most
        // `FusedOptimizer.blockSize` elements) keeps the mask in the lanes of a float vector.
        let th = state.threshold, mx = state.maximum
        var clipped: Int32 = 0
        var i = 0
        while i < block.count {
            let g = input[i]
            let isSpike = g.magnitude > th
            output[i] = isSpike ? g / mx * th : g
            clipped &+= isSpike ? 1 : 0
            i &+= 1
        }
        return Int(clipped)
    }
}

/// SPAM's spike-aware clipping, wrapped around the Adam preconditioner whose second moment it reads:
/// at global step `τ` with `τ ≥ A` and `τ mod ΔT ≥ A`, entries with `g² > θ·v` (v before this step's
/// update) become `sign(g)·√(θ·v)`; then the inner transform runs. Events: clipped entries.
public struct SpikeAwareClipping<Inner: SecondMomentTransform>: GradientTransform {
    public typealias Scalar = Inner.Scalar
    public struct State: TransformState {
        public var inner: Inner.State
        var isActive = false
        public func write(to writer: inout StateWriter) { inner.write(to: &writer) }
        public mutating func read(from reader: StateReader) throws(GradusError) { try inner.read(from: reader) }
    }
    public var inner: Inner
    /// θ (0 disables clipping).
    public var threshold: Double
    /// ΔT, the reset interval the clipping delay counts from.
    public var interval: Int
    /// A (`grad_accu_steps`): steps without clipping after the start and after each reset.
    public var delay: Int

    public init(_ inner: Inner, threshold: Double = 5000, interval: Int = 500, delay: Int = 20) {
        self.inner = inner; self.threshold = threshold; self.interval = interval; self.delay = delay
    }
    public var name: String { "SpikeAwareClipping(\(inner.name))" }
    public func makeState(for parameter: ParameterInfo) -> State { State(inner: inner.makeState(for: parameter)) }
    public func makeSharedState() -> Inner.SharedState { inner.makeSharedState() }
    public func beginStep(_ shared: inout Inner.SharedState, globalStep: Int, globalRawStatistic: [Double]?) {
        inner.beginStep(&shared, globalStep: globalStep, globalRawStatistic: globalRawStatistic)
    }
    public func prepare(_ state: inout State, shared: inout Inner.SharedState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        let tau = context.globalStep
        state.isActive = threshold != 0 && interval > 0 && tau >= delay && tau % interval >= delay
        return inner.prepare(&state.inner, shared: &shared, context: &context, rawStatistic: rawStatistic)
    }
    /// Clips one block of `input` into `output` (distinct); returns the clipped count.
    @inline(__always)
    func clip(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>, block: BlockContext<Scalar>) -> Int {
        // The clip where the inner transform cannot fold it in (Double, no AVX2, weights; see `applyUpdating`).
        // Branch-free (selects and a counted mask, the square root taken in every lane), so the loop vectorises:
        // with the branch it ran scalar, ~6 ms per 10M elements. Same values: the selected lanes compute exactly
        // what the branch did, and what Adam's AVX2 kernel does when the clip is folded into it.
        let v = inner.secondMoment(of: state.inner).base + block.offset
        let th = Scalar(threshold)
        var clipped: Int32 = 0
        var i = 0
        while i < block.count {
            let g = input[i], limit = th * v[i]
            let isSpike = g * g > limit
            let r = Scalar.squareRoot(of: limit)
            let signed = g > 0 ? r : (g < 0 ? -r : 0)
            output[i] = isSpike ? signed : g
            clipped &+= isSpike ? 1 : 0
            i &+= 1
        }
        return Int(clipped)
    }

    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        guard state.isActive else { return inner.apply(state.inner, input: input, output: output, block: block) }
        // The clipped gradient goes to the workspace: the inner transform must not run in place.
        let clipped = clip(state, input: input, output: block.workspace, block: block)
        return clipped + inner.apply(state.inner, input: UnsafePointer(block.workspace), output: output, block: block)
    }

    public var fusesParameterUpdate: Bool { inner.fusesParameterUpdate }
    @_specialize(where Inner == AdamPreconditioner<Float>) @_specialize(where Inner == AdamPreconditioner<Double>)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        guard state.isActive else {
            return inner.applyUpdating(state.inner, input: input, weights: weights, update: update, block: block)
        }
        if weights == nil, update.inputScale == 1,
           let clipped = inner.applyUpdatingSpikeClipped(state.inner, input: input, threshold: Scalar(threshold),
                                                         update: update, block: block) {
            return clipped  // folded into the inner loop (Adam's AVX2 kernel): same bits, no clipping loop
        }
        let clipped = clip(state, input: input, output: block.workspace, block: block)
        return clipped + inner.applyUpdating(state.inner, input: UnsafePointer(block.workspace), weights: weights,
                                             update: update, block: block)
    }
}

extension SpikeAwareClipping: ResettableTransform where Inner: ResettableTransform {
    public func reset(_ state: State, block: BlockContext<Scalar>) { inner.reset(state.inner, block: block) }
}
extension SpikeAwareClipping: SecondMomentTransform {
    public func secondMoment(of state: State) -> StateBuffer<Scalar> { inner.secondMoment(of: state.inner) }
}
