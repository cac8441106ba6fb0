import GradusRuntime

extension Optimizer {
    /// The current value of a hyperparameter in parameter group `group` (default 0): the first transform of the
    /// group's chain that has it (`.learningRate` is the schedule's peak). Nil when no transform has it or the
    /// group does not exist. The read-back counterpart of `set(_:to:group:)` (C: `gradus_optimizer_get_hparam`).
    public func value(of hyperparameter: Hyperparameter, group: Int = 0) -> Double? {
        switch core {
        case .float32(let o): return group >= 0 && group < o.groupCount ? o.value(of: hyperparameter, group: group) : nil
        case .float64(let o): return group >= 0 && group < o.groupCount ? o.value(of: hyperparameter, group: group) : nil
        }
    }
}
