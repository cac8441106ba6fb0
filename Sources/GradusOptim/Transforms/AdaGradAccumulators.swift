import GradusRuntime

/// AdaGrad's per-coordinate accumulator (torch.optim.Adagrad): `S ← S + g²`, output `g/(√S + ε)`,
/// scaled by `1/(1 + (k − 1)·lr_decay)`.
public struct AdaGradAccumulator<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        public let sum: StateBuffer<Scalar>
        let shape: [Int]
        public func write(to writer: inout StateWriter) { writer.write("sum", sum, shape: shape) }
        public mutating func read(from reader: StateReader) throws(GradusError) { try reader.read("sum", into: sum) }
    }
    public var initialAccumulator: Double
    public var epsilon: Double
    public var learningRateDecay: Double

    public init(initialAccumulator: Double = 0, epsilon: Double = 1e-10, learningRateDecay: Double = 0) {
        self.initialAccumulator = initialAccumulator; self.epsilon = epsilon; self.learningRateDecay = learningRateDecay
    }
    public var name: String { "AdaGradAccumulator" }
    public func makeState(for parameter: ParameterInfo) -> State {
        State(sum: StateBuffer(count: parameter.count, value: Scalar(initialAccumulator)), shape: parameter.shape)
    }
    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        context.outputScale = 1 / (1 + Double(context.tensorStep - 1) * learningRateDecay)
        return nil
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let s = state.sum.base + block.offset, eps = Scalar(epsilon)
        for i in 0..<block.count {
            let g = input[i]
            let si = s[i] + g * g
            s[i] = si
            output[i] = g / (Scalar.squareRoot(of: si) + eps)
        }
        return 0
    }
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        guard hyperparameter == .epsilon else { return false }
        epsilon = value; return true
    }
}

/// The scalar AdaGrad-Norm of the AdAdaGrad paper: one accumulator over every tensor of the chain,
/// `b² ← b² + Σ‖g‖²` (from `b₀²`), then `g/b`. Costs the norm pass only; the division is folded.
public struct AdaGradNormScaling<Scalar: OptimizerScalar>: GradientTransform {
    public struct Shared: TransformState {
        var bSquared: Double
        public func write(to writer: inout StateWriter) { writer.write("b_squared", bSquared) }
        public mutating func read(from reader: StateReader) throws(GradusError) { bSquared = try reader.read("b_squared") }
    }
    public var initialB: Double
    public init(b0: Double = 0.1) { self.initialB = b0 }
    public var name: String { "AdaGradNormScaling" }
    public var modifiesUpdate: Bool { false }
    public var isScaleEquivariant: Bool { true }
    public func makeSharedState() -> Shared { Shared(bSquared: initialB * initialB) }
    public func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest? { StatisticRequest(count: 1, scope: .global) }
    public func accumulateRawStatistic(_ accumulator: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>,
                                       block: BlockContext<Scalar>) {
        accumulator[0] += Kernels.sumOfSquares(gradient, count: block.count)
    }
    public func beginStep(_ shared: inout Shared, globalStep: Int, globalRawStatistic: [Double]?) {
        shared.bSquared += globalRawStatistic?[0] ?? 0
    }
    public func prepare(_ state: inout EmptyState, shared: inout Shared, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        context.outputScale = 1 / ScalarMath.sqrt(shared.bSquared)
        return nil
    }
    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }
}

/// The official AdAdaGrad `Adagradnorm` class (spec §4.2): one accumulator per output row of each
/// 2-D/4-D tensor (`acc_r += ‖g_r‖²`), per coordinate for 1-D tensors (plus the row statistic that leaks
/// from the most recent matrix when the sizes divide), output `g/(√acc + 1e-10)`, scaled by
/// `1/(1 + (k − 1)·lr_decay)`. Tensor order matters.
public struct RowwiseAdaGradNorm<Scalar: OptimizerScalar>: GradientTransform {
    public struct State: TransformState {
        public let accumulator: StateBuffer<Scalar>
        let isRowwise: Bool
        let rowLength: Int
        public func write(to writer: inout StateWriter) { writer.write("sum", accumulator, shape: [accumulator.count]) }
        public mutating func read(from reader: StateReader) throws(GradusError) { try reader.read("sum", into: accumulator) }
    }
    public struct Shared: TransformState {
        var lastRowNorms: [Double]? = nil
        public func write(to writer: inout StateWriter) {}
        public mutating func read(from reader: StateReader) throws(GradusError) {}
    }
    public var initialAccumulator: Double
    public var learningRateDecay: Double
    public init(initialAccumulator: Double = 1e-2, learningRateDecay: Double = 0) {
        self.initialAccumulator = initialAccumulator; self.learningRateDecay = learningRateDecay
    }
    public var name: String { "RowwiseAdaGradNorm" }
    public func makeSharedState() -> Shared { Shared() }
    public func makeState(for parameter: ParameterInfo) -> State {
        let rowwise = parameter.rank >= 2
        return State(accumulator: StateBuffer(count: rowwise ? parameter.rowCount : parameter.count, value: Scalar(initialAccumulator)),
                     isRowwise: rowwise, rowLength: parameter.rowLength)
    }
    public func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest? {
        parameter.rank >= 2 ? StatisticRequest(count: parameter.rowCount) : nil
    }
    public func accumulateRawStatistic(_ accumulator: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>,
                                       block: BlockContext<Scalar>) {
        Kernels.forEachRowSegment(offset: block.offset, count: block.count, rowLength: block.parameter.rowLength) { row, start, len in
            accumulator[row] += Kernels.sumOfSquares(gradient + start, count: len)
        }
    }
    public func beginStep(_ shared: inout Shared, globalStep: Int, globalRawStatistic: [Double]?) { shared.lastRowNorms = nil }
    public func prepare(_ state: inout State, shared: inout Shared, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        let acc = state.accumulator.base
        if state.isRowwise, let rows = rawStatistic {
            for r in rows.indices { acc[r] += Scalar(rows[r]) }
            shared.lastRowNorms = rows
        } else if let last = shared.lastRowNorms, state.accumulator.count > 0, last.count % state.accumulator.count == 0 {
            let n = state.accumulator.count, q = last.count / n
            for j in 0..<n {
                var s = 0.0
                for r in 0..<q { s += last[j * q + r] }
                acc[j] += Scalar(s / Double(q))
            }
        }
        context.outputScale = 1 / (1 + Double(context.tensorStep - 1) * learningRateDecay)
        return nil
    }
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let acc = state.accumulator.base
        let eps: Scalar = 1e-10
        if state.isRowwise {
            Kernels.forEachRowSegment(offset: block.offset, count: block.count, rowLength: state.rowLength) { row, start, len in
                let d = Scalar.squareRoot(of: acc[row]) + eps
                for i in start ..< start + len { output[i] = input[i] / d }
            }
        } else {
            let a = acc + block.offset
            for i in 0..<block.count {
                let g = input[i]
                let s = a[i] + g * g
                a[i] = s
                output[i] = g / (Scalar.squareRoot(of: s) + eps)
            }
        }
        return 0
    }
}
