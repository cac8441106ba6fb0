import GradusRuntime
import GradusTensor

/// A PyTorch-shaped optimizer over `Tensor` parameters: `step()` reads each parameter's `.grad` and updates
/// it in place through a `FusedOptimizer`; `zeroGrad()` clears the gradients. All parameters share one
/// dtype (float32 runs a `GradientChain<Float>`, float64 a `GradientChain<Double>`).
///
/// A parameter whose `.grad` is nil gets a zero gradient for the step (PyTorch skips it instead; the
/// fused core keeps every tensor's counters in step).
public final class Optimizer {
    enum Core {
        case float32(FusedOptimizer<Float>)
        case float64(FusedOptimizer<Double>)
    }
    /// The parameters, over all groups in order.
    public let parameters: [Tensor]
    let core: Core

    /// One float32 group.
    public convenience init(_ parameters: [Tensor], chain: GradientChain<Float>) throws(GradusError) {
        try self.init(groups: [(parameters, chain)])
    }
    /// One float64 group.
    public convenience init(_ parameters: [Tensor], chain: GradientChain<Double>) throws(GradusError) {
        try self.init(groups: [(parameters, chain)])
    }
    /// float32 parameter groups, each with its own chain (hyperparameters).
    public init(groups: [([Tensor], GradientChain<Float>)]) throws(GradusError) {
        parameters = groups.flatMap(\.0)
        try Self.check(parameters, .float32)
        core = .float32(try FusedOptimizer(groups: groups.map { ParameterGroup(chain: $0.1, shapes: $0.0.map(\.shape)) }))
    }
    /// float64 parameter groups, each with its own chain (hyperparameters).
    public init(groups: [([Tensor], GradientChain<Double>)]) throws(GradusError) {
        parameters = groups.flatMap(\.0)
        try Self.check(parameters, .float64)
        core = .float64(try FusedOptimizer(groups: groups.map { ParameterGroup(chain: $0.1, shapes: $0.0.map(\.shape)) }))
    }

    static func check(_ ps: [Tensor], _ dtype: DType) throws(GradusError) {
        for (i, p) in ps.enumerated() {
            guard p.dtype == dtype else { throw .dtypeMismatch("parameter \(i) is \(p.dtype), the chain runs \(dtype)") }
            guard p.isContiguous else { throw .invalidArgument("parameter \(i) is not contiguous") }
        }
        var seen = Set<ObjectIdentifier>()
        for p in ps where !seen.insert(ObjectIdentifier(p.storage)).inserted {
            throw .invalidArgument("a parameter storage appears twice")
        }
    }

    /// One optimizer step from the parameters' current gradients.
    public func step() throws(GradusError) {
        switch core {
        case .float32(let o): try run(o, Float.self)
        case .float64(let o): try run(o, Double.self)
        }
    }

    func run<S: OptimizerScalar & TensorScalar>(_ o: FusedOptimizer<S>, _: S.Type) throws(GradusError) {
        var grads: [Tensor] = []
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { grads.append(Tensor.zeros(p.shape, dtype: p.dtype)); continue }
            guard g.shape == p.shape else { throw .shapeMismatch("gradient of parameter \(i) has shape \(g.shape), expected \(p.shape)") }
            guard g.dtype == p.dtype else { throw .dtypeMismatch("gradient of parameter \(i) is \(g.dtype), expected \(p.dtype)") }
            grads.append(g.isContiguous ? g : g.contiguous())
        }
        let buffers = zip(parameters, grads).map { p, g in
            ParameterBuffer(values: p.basePointer(as: S.self), gradient: UnsafePointer(g.basePointer(as: S.self)), count: p.count)
        }
        try withExtendedLifetime(grads) { () throws(GradusError) in try o.step(buffers) }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }

    /// The optimizer state as named entries (see `FusedOptimizer.stateEntries()`).
    public func stateDict() -> [StateEntry] {
        switch core {
        case .float32(let o): return o.stateEntries()
        case .float64(let o): return o.stateEntries()
        }
    }

    /// Restores a state from `stateDict()` of an optimizer over the same shapes and chains.
    public func loadStateDict(_ entries: [StateEntry]) throws(GradusError) {
        switch core {
        case .float32(let o): try o.loadState(entries)
        case .float64(let o): try o.loadState(entries)
        }
    }

    /// Sets a hyperparameter (all groups when `group` is nil); false when no transform has it.
    @discardableResult
    public func set(_ hyperparameter: Hyperparameter, to value: Double, group: Int? = nil) throws(GradusError) -> Bool {
        switch core {
        case .float32(let o): return try o.set(hyperparameter, to: value, group: group)
        case .float64(let o): return try o.set(hyperparameter, to: value, group: group)
        }
    }

    /// Steps taken.
    public var globalStep: Int {
        switch core {
        case .float32(let o): return o.globalStep
        case .float64(let o): return o.globalStep
        }
    }
}
