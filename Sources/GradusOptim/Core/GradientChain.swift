import GradusRuntime

/// An ordered list of gradient transforms: the description of an optimizer (optax's `chain`).
/// It holds no state; `FusedOptimizer` instantiates each transform's typed state per tensor and runs
/// the chain fused, block by block.
public struct GradientChain<Scalar: OptimizerScalar> {
    /// The transforms, applied in order to the gradient.
    public var transforms: [any GradientTransform<Scalar>]

    /// A chain of `transforms`, applied in the order given.
    public init(_ transforms: [any GradientTransform<Scalar>]) { self.transforms = transforms }
    /// A chain of `transforms`, applied in the order given.
    public init(_ transforms: any GradientTransform<Scalar>...) { self.transforms = transforms }

    /// This chain with `transform` run first (⊥Grad wraps any base optimizer this way).
    public func prepending(_ transform: any GradientTransform<Scalar>) -> GradientChain {
        GradientChain([transform] + transforms)
    }

    /// Names of the transforms, for messages.
    public var description: String { "chain(" + transforms.map(\.name).joined(separator: ", ") + ")" }
}

/// Type-erased holder of one transform and its typed state for every tensor of a group.
@usableFromInline
class AnyTransformSlot<S: OptimizerScalar> {
    var name: String { "" }
    var modifiesUpdate: Bool { true }
    var isScaleEquivariant: Bool { false }
    var commitsFinalUpdate: Bool { false }
    var isRecomputable: Bool { false }
    var fusesParameterUpdate: Bool { false }
    var fusesInputScale: Bool { false }
    func makeStates(_ parameters: [ParameterInfo]) {}
    func rawStatistic(_ p: Int, _ info: ParameterInfo) -> StatisticRequest? { nil }
    func accumulateRaw(_ p: Int, _ acc: UnsafeMutablePointer<Double>, _ g: UnsafePointer<S>, _ b: BlockContext<S>) {}
    func beginStep(_ t: Int, _ global: [Double]?) {}
    func prepare(_ p: Int, _ ctx: inout TensorStepContext, _ raw: [Double]?) -> StatisticRequest? { nil }
    func accumulateInput(_ p: Int, _ acc: UnsafeMutablePointer<Double>, _ x: UnsafePointer<S>, _ b: BlockContext<S>) {}
    func absorb(_ p: Int, _ ctx: inout TensorStepContext, _ stat: [Double]) {}
    func anticipatedInputStatistic(_ info: ParameterInfo) -> StatisticRequest? { nil }
    func leavesBlockUnchanged(_ p: Int, _ stat: UnsafePointer<Double>) -> Bool { false }
    func apply(_ p: Int, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ b: BlockContext<S>) -> Int { 0 }
    func applyUpdating(_ p: Int, _ x: UnsafePointer<S>, _ update: ParameterUpdate<S>, _ b: BlockContext<S>) -> Int { 0 }
    func commit(_ p: Int, _ u: UnsafePointer<S>, _ b: BlockContext<S>) {}
    func learningRate(_ t: Int) -> Double? { nil }
    func set(_ h: Hyperparameter, _ v: Double) -> Bool { false }
    func value(_ h: Hyperparameter) -> Double? { nil }
    func write(_ p: Int, _ w: inout StateWriter) {}
    func writeShared(_ w: inout StateWriter) {}
    func read(_ p: Int, _ r: StateReader) throws(GradusError) {}
    func readShared(_ r: StateReader) throws(GradusError) {}
}

@usableFromInline
final class TransformSlot<T: GradientTransform>: AnyTransformSlot<T.Scalar> {
    var transform: T
    var states: [T.State] = []
    var shared: T.SharedState

    init(_ transform: T) {
        self.transform = transform
        self.shared = transform.makeSharedState()
    }
    override var name: String { transform.name }
    override var modifiesUpdate: Bool { transform.modifiesUpdate }
    override var isScaleEquivariant: Bool { transform.isScaleEquivariant }
    override var commitsFinalUpdate: Bool { transform.commitsFinalUpdate }
    override var isRecomputable: Bool { transform.isRecomputable }
    override var fusesParameterUpdate: Bool { transform.fusesParameterUpdate }
    override var fusesInputScale: Bool { transform.fusesInputScale }
    override func makeStates(_ parameters: [ParameterInfo]) {
        states = parameters.map { transform.makeState(for: $0) }
        shared = transform.makeSharedState()
    }
    override func rawStatistic(_ p: Int, _ info: ParameterInfo) -> StatisticRequest? { transform.rawStatistic(for: info) }
    override func accumulateRaw(_ p: Int, _ acc: UnsafeMutablePointer<Double>, _ g: UnsafePointer<T.Scalar>,
                                _ b: BlockContext<T.Scalar>) {
        transform.accumulateRawStatistic(acc, gradient: g, block: b)
    }
    override func beginStep(_ t: Int, _ global: [Double]?) {
        transform.beginStep(&shared, globalStep: t, globalRawStatistic: global)
    }
    override func prepare(_ p: Int, _ ctx: inout TensorStepContext, _ raw: [Double]?) -> StatisticRequest? {
        transform.prepare(&states[p], shared: &shared, context: &ctx, rawStatistic: raw)
    }
    override func accumulateInput(_ p: Int, _ acc: UnsafeMutablePointer<Double>, _ x: UnsafePointer<T.Scalar>,
                                  _ b: BlockContext<T.Scalar>) {
        transform.accumulateInputStatistic(acc, input: x, block: b)
    }
    override func absorb(_ p: Int, _ ctx: inout TensorStepContext, _ stat: [Double]) {
        transform.absorb(&states[p], shared: &shared, context: &ctx, inputStatistic: stat)
    }
    override func anticipatedInputStatistic(_ info: ParameterInfo) -> StatisticRequest? {
        transform.anticipatedInputStatistic(for: info)
    }
    override func leavesBlockUnchanged(_ p: Int, _ stat: UnsafePointer<Double>) -> Bool {
        transform.leavesBlockUnchanged(states[p], blockStatistic: stat)
    }
    override func apply(_ p: Int, _ x: UnsafePointer<T.Scalar>, _ y: UnsafeMutablePointer<T.Scalar>,
                        _ b: BlockContext<T.Scalar>) -> Int {
        transform.apply(states[p], input: x, output: y, block: b)
    }
    override func applyUpdating(_ p: Int, _ x: UnsafePointer<T.Scalar>, _ update: ParameterUpdate<T.Scalar>,
                                _ b: BlockContext<T.Scalar>) -> Int {
        transform.applyUpdating(states[p], input: x, weights: nil, update: update, block: b)
    }
    override func commit(_ p: Int, _ u: UnsafePointer<T.Scalar>, _ b: BlockContext<T.Scalar>) {
        transform.commit(states[p], update: u, block: b)
    }
    override func learningRate(_ t: Int) -> Double? { transform.learningRate(atStep: t) }
    override func set(_ h: Hyperparameter, _ v: Double) -> Bool { transform.set(h, to: v) }
    override func value(_ h: Hyperparameter) -> Double? { transform.value(of: h) }
    override func write(_ p: Int, _ w: inout StateWriter) { states[p].write(to: &w) }
    override func writeShared(_ w: inout StateWriter) { shared.write(to: &w) }
    override func read(_ p: Int, _ r: StateReader) throws(GradusError) { try states[p].read(from: r) }
    override func readShared(_ r: StateReader) throws(GradusError) { try shared.read(from: r) }
}

extension GradientChain {
    func makeSlots() -> [AnyTransformSlot<Scalar>] {
        func open<T: GradientTransform>(_ t: T) -> AnyTransformSlot<Scalar> where T.Scalar == Scalar {
            TransformSlot(t)
        }
        return transforms.map { open($0) }
    }
}
