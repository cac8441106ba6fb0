import GradusRuntime

/// Coupled L2 weight decay: `g ← g + λθ` (the gradient of `λ/2·‖θ‖²`), placed before the moments.
/// Used by torch Adam/SGD/Adagrad's `weight_decay` and diffGrad.
public struct CoupledWeightDecay<Scalar: OptimizerScalar>: GradientTransform {
    /// λ.
    public var weightDecay: Double
    public init(_ weightDecay: Double) { self.weightDecay = weightDecay }

    public var name: String { "CoupledWeightDecay" }
    public var modifiesUpdate: Bool { weightDecay != 0 }

    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? { nil }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let lambda = Scalar(weightDecay), theta = block.parameters
        for i in 0..<block.count { output[i] = input[i] + lambda * theta[i] }
        return 0
    }

    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        guard hyperparameter == .weightDecay else { return false }
        weightDecay = value; return true
    }
    public func value(of hyperparameter: Hyperparameter) -> Double? { hyperparameter == .weightDecay ? weightDecay : nil }
}

/// Decoupled weight decay on the weights themselves (Loshchilov & Hutter): `θ ← θ·(1 − f)` with
/// `f = c·λ·r·multiplier`, where `c` is the learning rate (`.learningRate`) or `α_t/α_peak`
/// (`.independent`, Wortsman et al.'s independent decay), and `r` the weight-decay ratio a radial
/// projection chose (AdamP). Applied before the update (AdamW, AdamP, Stable-SPAM) or to the updated
/// weights (SPAM). Costs no pass over memory: it is folded into the parameter update.
public struct DecoupledWeightDecay<Scalar: OptimizerScalar>: GradientTransform {
    /// When the decay acts relative to the update.
    public enum Timing: Sendable { case beforeUpdate, afterUpdate }
    /// What the decay is proportional to.
    public enum Coupling: Sendable {
        /// `f = α_t·λ` (AdamW).
        case learningRate
        /// `f = (α_t/α_peak)·λ`: the schedule only.
        case independent(peakLearningRate: Double)
    }
    public var weightDecay: Double
    public var timing: Timing
    public var coupling: Coupling
    /// Extra factor (SGDP divides by `1 − μ`).
    public var multiplier: Double

    /// Decoupled decay λ (`weightDecay`), before the update and proportional to the learning rate by default.
    public init(_ weightDecay: Double, timing: Timing = .beforeUpdate, coupling: Coupling = .learningRate,
                multiplier: Double = 1) {
        self.weightDecay = weightDecay; self.timing = timing; self.coupling = coupling; self.multiplier = multiplier
    }

    public var name: String { "DecoupledWeightDecay" }
    public var modifiesUpdate: Bool { false }
    public var isScaleEquivariant: Bool { true }

    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        guard weightDecay != 0 else { return nil }
        let c: Double
        switch coupling {
        case .learningRate: c = context.learningRate
        case .independent(let peak): c = context.learningRate / peak
        }
        let f = 1 - c * weightDecay * context.weightDecayRatio * multiplier
        switch timing {
        case .beforeUpdate: context.preUpdateFactor *= f
        case .afterUpdate: context.postUpdateFactor *= f
        }
        return nil
    }

    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }

    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        guard hyperparameter == .weightDecay else { return false }
        weightDecay = value; return true
    }
    public func value(of hyperparameter: Hyperparameter) -> Double? { hyperparameter == .weightDecay ? weightDecay : nil }
}
