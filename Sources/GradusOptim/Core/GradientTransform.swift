import GradusRuntime

/// Static facts about one parameter tensor, as a transform sees them.
public struct ParameterInfo: Sendable, Equatable {
    /// Position of the tensor in its optimizer (over all groups, in the order given).
    public let index: Int
    /// Row-major shape; `[]` or `[n]` for vectors.
    public let shape: [Int]
    /// Number of elements.
    public let count: Int

    public init(index: Int, shape: [Int]) {
        self.index = index
        self.shape = shape
        self.count = shape.reduce(1, *)
    }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Rows of the channel view (`shape[0]` for rank > 1, else 1): one row per output channel.
    public var rowCount: Int { rank > 1 && count > 0 ? shape[0] : 1 }
    /// Elements per row of the channel view.
    public var rowLength: Int { rowCount == 0 ? 0 : count / rowCount }
}

/// How partial statistics of different blocks (and tensors) are combined.
public enum StatisticReduction: Sendable { case sum, max }

/// Whether a statistic is per tensor or combined over every tensor of the chain (a global gradient norm).
public enum StatisticScope: Sendable { case tensor, global }

/// A statistic a transform needs before its elementwise work: `count` doubles, reduced over blocks
/// with `reduction`. The executor runs one extra pass over memory per statistic (fused with the
/// transforms before it when that is possible).
public struct StatisticRequest: Sendable, Equatable {
    public var count: Int
    public var reduction: StatisticReduction
    public var scope: StatisticScope
    public init(count: Int, reduction: StatisticReduction = .sum, scope: StatisticScope = .tensor) {
        self.count = count; self.reduction = reduction; self.scope = scope
    }
}

/// Per-tensor, per-step values shared along a chain. Transforms read the counters and the learning rate
/// and may set the scalar fields in `prepare`/`absorb`.
public struct TensorStepContext: Sendable {
    /// The optimizer step `t` (1 on the first step).
    public let globalStep: Int
    /// The tensor's step counter `k` (1 on its first step). A momentum reset may set it back.
    public var tensorStep: Int
    /// The learning rate of this step (the chain's `LearningRate` schedule at `t − 1`), or 0 without one.
    public let learningRate: Double
    /// The factor this transform's written output still needs (set by the transform; reset to 1 before each).
    /// Scalar factors are folded into the final parameter update instead of touching every element.
    public var outputScale: Double = 1
    /// Weight-decay ratio chosen by a radial projection (AdamP's `wd_ratio` when it fires), read by decay.
    public var weightDecayRatio: Double = 1
    /// `θ` is multiplied by this before the update is added (decoupled decay applied first).
    public var preUpdateFactor: Double = 1
    /// `θ` is multiplied by this after the update was added (SPAM's decay of the updated weights).
    public var postUpdateFactor: Double = 1
    /// Set by a transform in `prepare`/`absorb` (reset to false before each) when its `apply` would leave this
    /// tensor's update unchanged this step (AdamP's projection when it does not fire): the executor skips it.
    public var isIdentity: Bool = false
    /// The tensor.
    public let parameter: ParameterInfo
}

/// Where one block of one tensor lies, and scratch memory the transform may use.
public struct BlockContext<Scalar: OptimizerScalar> {
    /// Index of the block's first element in the tensor.
    public let offset: Int
    /// Elements in the block.
    public let count: Int
    /// `θ` for this block (before this step's update).
    public let parameters: UnsafePointer<Scalar>
    /// `count` elements of scratch private to the worker (contents undefined on entry).
    public let workspace: UnsafeMutablePointer<Scalar>
    /// The tensor.
    public let parameter: ParameterInfo
}

/// The final parameter update of one block, `θ ← (a·θ + c·u)·b`, handed to a transform that fuses it into its
/// own loop (`GradientTransform.applyUpdating`), so the update `u` never goes through memory.
public struct ParameterUpdate<Scalar: OptimizerScalar> {
    /// `θ` of the block, updated in place.
    public let parameters: UnsafeMutablePointer<Scalar>
    /// `c`: every scalar factor of the chain after the transform (learning rate, bias correction, AdaGN…).
    public let scale: Scalar
    /// `a`: decoupled decay applied before the update.
    public let preFactor: Scalar
    /// `b`: decay of the updated weights (SPAM).
    public let postFactor: Scalar
    /// Block-size scratch the transform may use (distinct from the input, the weights and `block.workspace`).
    public let scratch: UnsafeMutablePointer<Scalar>
    /// `s`: the transform's input is `s·input` (a pending scalar factor of the chain before it, such as AdaGN's).
    /// Not 1 only for a transform whose `fusesInputScale` is true.
    public let inputScale: Scalar

    public init(parameters: UnsafeMutablePointer<Scalar>, scale: Scalar, preFactor: Scalar, postFactor: Scalar,
                scratch: UnsafeMutablePointer<Scalar>, inputScale: Scalar = 1) {
        self.parameters = parameters; self.scale = scale; self.preFactor = preFactor; self.postFactor = postFactor
        self.scratch = scratch; self.inputScale = inputScale
    }
}

/// Named hyperparameters a running chain lets callers change (C: `GRADUS_HPARAM_*`).
public enum Hyperparameter: String, Sendable, CaseIterable {
    case learningRate, weightDecay, beta1, beta2, epsilon, momentum
}

/// A gradient transformation in optax's model, made fusable: typed per-tensor `State` (from
/// `makeState(for:)`), an optional statistic pass, and elementwise work on blocks (`apply`).
///
/// One step for one tensor, in order: `prepare` (per-step coefficients, from the optional statistic of the
/// raw gradient), optionally `absorb` (a statistic of this transform's input, when `prepare` asked for one),
/// then `apply` on every block of the tensor. `apply` reads `input` and writes `output` (which may be the same
/// memory) and returns a count of events (clipped entries) for diagnostics.
///
/// Reference: optax `GradientTransformation` (init/update); the fused block execution is Gradus's.
public protocol GradientTransform<Scalar> {
    associatedtype Scalar: OptimizerScalar
    associatedtype State: TransformState = EmptyState
    associatedtype SharedState: TransformState = EmptyState

    /// Name used in messages and in `description`.
    var name: String { get }
    /// Fresh per-tensor state.
    func makeState(for parameter: ParameterInfo) -> State
    /// Fresh state shared by all tensors of the chain (global accumulators).
    func makeSharedState() -> SharedState

    /// A statistic over the raw gradient and the weights, computed before anything runs (nil: none).
    func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest?
    /// Adds one block's contribution to `accumulator` (the raw gradient block is `gradient`).
    func accumulateRawStatistic(_ accumulator: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>,
                                block: BlockContext<Scalar>)

    /// Called once per step before any tensor, with the combined raw statistic when its scope is global.
    func beginStep(_ shared: inout SharedState, globalStep: Int, globalRawStatistic: [Double]?)
    /// Per-tensor coefficients for this step. Returns the statistic of this transform's *input* it needs
    /// before `apply` (nil: none).
    func prepare(_ state: inout State, shared: inout SharedState, context: inout TensorStepContext,
                 rawStatistic: [Double]?) -> StatisticRequest?
    /// Adds one block's contribution to the input statistic.
    func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                  block: BlockContext<Scalar>)
    /// Receives the combined input statistic.
    func absorb(_ state: inout State, shared: inout SharedState, context: inout TensorStepContext,
                inputStatistic: [Double])

    /// The statistic `prepare` will request of this transform's input, when it is known before `prepare` runs
    /// (nil: none or not known). The executor may then take it speculatively, block by block, in the statistic
    /// pass of the transform just before, for the blocks that transform turns out to leave unchanged
    /// (`leavesBlockUnchanged`): Stable-SPAM's AdaGN norm rides along AdaClip's max pass. Only then is
    /// `accumulateInputStatistic` called before `prepare`, so it must not depend on what `prepare` sets.
    func anticipatedInputStatistic(for parameter: ParameterInfo) -> StatisticRequest?
    /// For a recomputable transform with an input statistic: true when `apply` will return its input unchanged on a
    /// block this step (asked after `absorb`), given that block's own contribution to the statistic (accumulated
    /// from zero). The default, false, is always safe.
    func leavesBlockUnchanged(_ state: State, blockStatistic: UnsafePointer<Double>) -> Bool

    /// False when `apply` is the identity (the transform only sets scalars of the context).
    var modifiesUpdate: Bool { get }
    /// True when `apply(c·x) = c·apply(x)` for c > 0, so pending scalar factors may pass through it.
    var isScaleEquivariant: Bool { get }
    /// The elementwise work on one block; returns the number of events (e.g. clipped entries).
    func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
               block: BlockContext<Scalar>) -> Int

    /// True when `apply` changes no state, so that running it twice on a block gives the same output
    /// (clipping, projections): the executor then recomputes it instead of storing its output in memory.
    var isRecomputable: Bool { get }
    /// True when `applyUpdating` fuses `apply` with the parameter update in one loop (the executor calls it
    /// for the last transform that changes the update, instead of `apply` and a separate update loop).
    var fusesParameterUpdate: Bool { get }
    /// True when `applyUpdating` reads its input as `update.inputScale · input`, so that a pending scalar factor
    /// before a transform that is not scale-equivariant (AdaGN before Adam) costs no separate scaling loop.
    var fusesInputScale: Bool { get }
    /// `apply`, then `θ ← (a·θ + c·w⊙u)·b` with `u` the output and `w` the optional elementwise `weights`
    /// (diffGrad's friction). The default runs `apply` into `update.scratch`, then the update loop.
    func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                       update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int

    /// True when the transform wants the chain's final direction back (`commit`), to emulate an official
    /// code whose buffer aliases the update (SGDP's momentum).
    var commitsFinalUpdate: Bool { get }
    /// Receives the final direction of a block (before the scalar factors).
    func commit(_ state: State, update: UnsafePointer<Scalar>, block: BlockContext<Scalar>)

    /// The learning rate at global step `t` (1-based) when this transform owns it.
    func learningRate(atStep t: Int) -> Double?
    /// Changes a hyperparameter; returns false when the transform has none of that name.
    mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool
    /// The current value of a hyperparameter, when the transform has it.
    func value(of hyperparameter: Hyperparameter) -> Double?
}

extension GradientTransform where SharedState == EmptyState {
    public func makeSharedState() -> EmptyState { EmptyState() }
}
extension GradientTransform where State == EmptyState {
    public func makeState(for parameter: ParameterInfo) -> EmptyState { EmptyState() }
}

extension GradientTransform {
    public func rawStatistic(for parameter: ParameterInfo) -> StatisticRequest? { nil }
    public func accumulateRawStatistic(_ accumulator: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Scalar>,
                                       block: BlockContext<Scalar>) {}
    public func beginStep(_ shared: inout SharedState, globalStep: Int, globalRawStatistic: [Double]?) {}
    public func accumulateInputStatistic(_ accumulator: UnsafeMutablePointer<Double>, input: UnsafePointer<Scalar>,
                                         block: BlockContext<Scalar>) {}
    public func absorb(_ state: inout State, shared: inout SharedState, context: inout TensorStepContext,
                       inputStatistic: [Double]) {}
    public func anticipatedInputStatistic(for parameter: ParameterInfo) -> StatisticRequest? { nil }
    public func leavesBlockUnchanged(_ state: State, blockStatistic: UnsafePointer<Double>) -> Bool { false }
    public var modifiesUpdate: Bool { true }
    public var isScaleEquivariant: Bool { false }
    public var isRecomputable: Bool { false }
    public var fusesParameterUpdate: Bool { false }
    public var fusesInputScale: Bool { false }
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        let u = update.scratch
        let e = apply(state, input: input, output: u, block: block)
        if let w = weights { Kernels.multiply(u, by: w, count: block.count) }
        Kernels.applyUpdate(update.parameters, update: u, scale: update.scale, preFactor: update.preFactor,
                            postFactor: update.postFactor, count: block.count)
        return e
    }
    public var commitsFinalUpdate: Bool { false }
    public func commit(_ state: State, update: UnsafePointer<Scalar>, block: BlockContext<Scalar>) {}
    public func learningRate(atStep t: Int) -> Double? { nil }
    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool { false }
    public func value(of hyperparameter: Hyperparameter) -> Double? { nil }
}

/// A transform that keeps the state a reset may clear (moments), for `MomentumReset`.
public protocol ResettableTransform: GradientTransform {
    /// Zeroes the resettable state of one block.
    func reset(_ state: State, block: BlockContext<Scalar>)
}

/// A transform that keeps Adam's second moment `v`, for SPAM's spike-aware clipping.
public protocol SecondMomentTransform: GradientTransform {
    /// The second-moment buffer of a tensor state.
    func secondMoment(of state: State) -> StateBuffer<Scalar>
    /// `applyUpdating` on the input after SPAM's spike-aware clipping with threshold θ, done in the transform's own
    /// loop; the clipped count, or nil when the transform cannot (the caller then clips in a loop of its own).
    func applyUpdatingSpikeClipped(_ state: State, input: UnsafePointer<Scalar>, threshold: Scalar,
                                   update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int?
}

extension SecondMomentTransform {
    public func applyUpdatingSpikeClipped(_ state: State, input: UnsafePointer<Scalar>, threshold: Scalar,
                                          update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int? { nil }
}
