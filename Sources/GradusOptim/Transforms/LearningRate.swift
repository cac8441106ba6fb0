import GradusRuntime

/// Scales the update by `−α_t`, the learning rate of a `Schedule` at step index `t − 1` (optax
/// `scale_by_learning_rate`). Owns the chain's learning rate, which decoupled decay also reads.
/// Costs no pass over memory: the factor is folded into the parameter update.
public struct LearningRate<Scalar: OptimizerScalar>: GradientTransform {
    /// The schedule (`.constant(α)` for a fixed rate).
    public var schedule: Schedule

    /// A learning rate following `schedule`.
    public init(_ schedule: Schedule) { self.schedule = schedule }
    /// A constant learning rate `value`.
    public init(_ value: Double) { self.schedule = .constant(value) }

    public var name: String { "LearningRate" }
    public var modifiesUpdate: Bool { false }
    public var isScaleEquivariant: Bool { true }

    public func learningRate(atStep t: Int) -> Double? { schedule.value(at: t - 1) }

    public func prepare(_ state: inout EmptyState, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        context.outputScale = -context.learningRate
        return nil
    }

    public func apply(_ state: EmptyState, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int { 0 }

    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        guard hyperparameter == .learningRate else { return false }
        schedule = schedule.withPeak(value)
        return true
    }
    public func value(of hyperparameter: Hyperparameter) -> Double? {
        hyperparameter == .learningRate ? schedule.peak : nil
    }
}
